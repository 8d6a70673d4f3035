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
  const plan = planMerge(manifest, width, batch);
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
