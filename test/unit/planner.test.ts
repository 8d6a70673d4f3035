import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config.js';
import { LABEL_COLUMNS, demoTables } from '../../shared/demo/names.js';
import { buildManifest, outputColumns, type RunManifest } from '../../shared/manifest.js';
import { planMerge } from '../../shared/planner.js';

const config = loadConfig({});
const key = { name: 'interval_time', type: 'TIMESTAMP' };

function fullManifest(): RunManifest {
  return buildManifest({
    runId: 'eurusd-20260101t000000-aaaaaa', pair: 'eurusd', createdAt: '2020-01-01T00:00:00.000Z',
    window: { start: '2020-01-01T00:00:00.000Z', end: '2020-01-02T00:00:00.000Z' }, labelRows: 1,
    featureCatalog: demoTables(['eurusd']).map((t) => ({ table: t.table, columns: [key, ...t.columns.map((c) => ({ name: c, type: 'FLOAT64' }))] })),
    labelTable: { table: 'targets_eurusd', columns: [key, ...LABEL_COLUMNS.map((c) => ({ name: c, type: 'FLOAT64' }))] },
    config,
  });
}

function checkPlan(manifest: RunManifest, width: number, batch: number) {
  const plan = planMerge(manifest, { maxGroupColumns: width, groupColumns: width, joinBatchTables: batch });
  for (const g of plan.groups) {
    assert.ok(g.columns.length <= width, `group ${g.index} has ${g.columns.length} columns, over ${width}`);
    assert.equal(g.columns[0], 'interval_time', 'every group starts with the key');
    for (const b of g.batches) assert.ok(b.length <= batch && b.length > 0);
    assert.deepEqual(g.batches.flat(), g.members);
  }
  assert.equal(plan.groups.filter((g) => g.labels).length, 1);
  assert.ok(plan.groups[0]!.labels);
  // Every output column appears in exactly one group (the key in all of them).
  const seen = plan.groups.flatMap((g) => g.columns.slice(1));
  assert.deepEqual(seen, outputColumns(manifest).slice(1));
  return plan;
}

describe('merge planner', () => {
  it('splits 17,038 columns into groups of at most 9,900, every column in exactly one', () => {
    const plan = checkPlan(fullManifest(), 9900, 50);
    assert.equal(plan.groups.length, 2);
    assert.equal(plan.groups.reduce((s, g) => s + g.columns.length - 1, 1), 17_038);
  });

  for (const [width, batch] of [[300, 7], [1000, 50], [2500, 1], [10000, 1000]] as const) {
    it(`keeps every group within ${width} columns and batches within ${batch} tables`, () => {
      checkPlan(fullManifest(), width, batch);
    });
  }

  it('splits a table wider than a whole group into chunks', () => {
    const m = fullManifest();
    const wide = { ...m, features: [{ feature: 'reg_eurusd', dataset: 'd', dropped: [], columns: Array.from({ length: 700 }, (_, i) => ({ source: `c${i}`, output: `reg_c${i}`, type: 'FLOAT64' })) }] };
    wide.columnCount = 1 + m.labels.columns.length + 700;
    const plan = checkPlan(wide, 300, 5);
    assert.ok(plan.groups.length >= 3);
  });
});

describe('merge planner: column groups follow table families', () => {
  const family = (feature: string) => feature.split('_')[0]!;
  const groupsOf = (plan: ReturnType<typeof planMerge>) => {
    const where = new Map<string, Set<number>>();
    for (const g of plan.groups) for (const m of g.members) where.set(family(m.feature), (where.get(family(m.feature)) ?? new Set()).add(g.index));
    return where;
  };

  it('with the default settings: groups of at most BQX_GROUP_COLUMNS, a family that fits one never split, a wider one alone in its groups', () => {
    const manifest = fullManifest();
    const plan = planMerge(manifest, config);
    assert.equal(config.groupColumns, 1000);
    const width = new Map<string, number>();
    for (const f of manifest.features) width.set(family(f.feature), (width.get(family(f.feature)) ?? 0) + f.columns.length);
    for (const g of plan.groups) assert.ok(g.columns.length <= 1000, `group ${g.index}: ${g.columns.length} columns`);
    for (const [name, groups] of groupsOf(plan)) {
      if (width.get(name)! < 1000 - 1 - LABEL_COLUMNS.length) assert.equal(groups.size, 1, `${name} (${width.get(name)} columns) lies in groups ${[...groups]}`);
      else for (const i of groups) assert.ok(plan.groups[i]!.members.every((m) => family(m.feature) === name), `group ${i} holds ${name} and another family`);
    }
    // The demo's 21 families in 17,038 columns: 23 groups. The wide families are split evenly
    // (corr's 3,947 columns in five groups of 776 to 812), none leaves a sliver of a group.
    assert.equal(plan.groups.length, 23);
    assert.ok(plan.groups.every((g) => g.columns.length - 1 >= 93), plan.groups.map((g) => g.columns.length - 1).join(' '));
  });

  it('rebuilding one family changes only the groups that hold it', () => {
    const plan = planMerge(fullManifest(), config);
    const reg = [...groupsOf(plan).get('reg')!];
    assert.equal(reg.length, 1, 'the 3 reg_ tables (696 columns) share one group');
    const others = plan.groups.filter((g) => !reg.includes(g.index));
    assert.ok(others.every((g) => g.members.every((m) => family(m.feature) !== 'reg')));
    assert.ok(plan.groups[reg[0]!]!.columns.length - 1 < 1000);
  });

  it('a first family that fits a group but not beside the labels starts group 1: no group over the width', () => {
    const m = fullManifest();
    // 49 labels, then a family of 9,880 columns (as wide as BigQuery allows, less the labels), then a small one.
    const wide = (feature: string, n: number) => ({ feature, dataset: 'd', dropped: [], columns: Array.from({ length: n }, (_, i) => ({ source: `c${i}`, output: `${feature}_c${i}`, type: 'FLOAT64' })) });
    const manifest = { ...m, features: [wide('agg_eurusd', 9880), wide('mom_eurusd', 10)] };
    manifest.columnCount = 1 + m.labels.columns.length + 9890;
    const plan = planMerge(manifest, { maxGroupColumns: 9900, groupColumns: 9900, joinBatchTables: 50 });
    assert.deepEqual(plan.groups.map((g) => g.columns.length), [1 + 49, 1 + 9880 + 10]);
    assert.ok(plan.groups.every((g) => g.columns.length <= 9900));
  });

  it('BQX_GROUP_COLUMNS wider than BQX_MAX_GROUP_COLUMNS is held to the latter', () => {
    const plan = planMerge(fullManifest(), { maxGroupColumns: 300, groupColumns: 5000, joinBatchTables: 50 });
    assert.ok(plan.groups.every((g) => g.columns.length <= 300));
  });
});
