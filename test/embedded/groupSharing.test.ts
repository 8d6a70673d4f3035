// A run of the same window as the last dataset where only some features changed (a table rewritten
// in place, as `bqx demo --touch` does): the merge builds only the column groups that hold a
// changed feature, in every shard; each shard's other groups are the last dataset's files, listed
// by reference. In the groups it builds, the unchanged features' columns are copied from the last
// dataset's files of the same shard and group (a shard a refresh grew: its parts joined page for
// page), while they still read as they were written, not aligned from their checkpoints again;
// with changed features in every group, every group is built that way. The output equals a --no-reuse full build cell for cell, `bqx verify`
// passes, and retention keeps the shared files while a kept dataset lists them.

import assert from 'node:assert/strict';
import { startRun } from '../../shared/chain/startRun.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import { summarise, summaryTable } from '../../shared/cli/summary.js';
import type { RunRecord } from '../../shared/ports.js';
import { collectGarbage } from '../../shared/retention.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, succeededRun, testConfig } from '../helpers/embedded.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';
import { paths } from '../../shared/naming.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const LABELS = 'bqx_ml_v3_analytics_v2';
const MINUTES = 1800; // 2021-03-01 00:00 .. 2021-03-02 06:00: two day shards
const WIDE = 320; // with BQX_MAX_GROUP_COLUMNS=300: the narrow tables and labels in group 0, the wide one in groups 1 and 2
const SHARDS = ['20210301', '20210302'];

// DOUBLE columns, as the demo's: the profile compares their pairs in this process (parquetCompare.ts);
// DECIMAL ones went to DuckDB's comparison, 200 pairs a statement, most of this suite's time.
async function buildWarehouse(e: Embedded): Promise<void> {
  const keys = minutes(0, MINUTES);
  const w = e.warehouse;
  await w.execute(`CREATE SCHEMA ${FEATURES}; CREATE SCHEMA ${LABELS}`);
  await w.execute(`CREATE TABLE ${LABELS}.targets_eurusd AS SELECT interval_time, i::DOUBLE AS target_a FROM (${keys})`);
  await w.execute(`CREATE TABLE ${FEATURES}.agg_eurusd AS SELECT interval_time, i * 10.0::DOUBLE AS a FROM (${keys})`);
  await w.execute(`CREATE TABLE ${FEATURES}.mkt_regime AS SELECT interval_time, i * 0.5::DOUBLE AS r FROM (${keys})`);
  const cols = Array.from({ length: WIDE }, (_, k) => `i::DOUBLE + ${k} AS c${k}`).join(', ');
  await w.execute(`CREATE TABLE ${FEATURES}.var_wide_eurusd AS SELECT interval_time, ${cols} FROM (${keys})`);
  await w.markChanged(FEATURES, ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd']);
  await w.markChanged(LABELS, ['targets_eurusd']);
}

/** Keys (and their minute i) of minutes [from, to) from 2021-03-01 00:00. */
const minutes = (from: number, to: number) => `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;
const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();

/** Minutes [from, to) added to every table, as buildWarehouse writes them. */
async function appendRows(e: Embedded, from: number, to: number): Promise<void> {
  const keys = minutes(from, to);
  const w = e.warehouse;
  await w.execute(`INSERT INTO ${LABELS}.targets_eurusd SELECT interval_time, i::DOUBLE FROM (${keys})`);
  await w.execute(`INSERT INTO ${FEATURES}.agg_eurusd SELECT interval_time, i * 10.0::DOUBLE FROM (${keys})`);
  await w.execute(`INSERT INTO ${FEATURES}.mkt_regime SELECT interval_time, i * 0.5::DOUBLE FROM (${keys})`);
  const cols = Array.from({ length: WIDE }, (_, k) => `i::DOUBLE + ${k}`).join(', ');
  await w.execute(`INSERT INTO ${FEATURES}.var_wide_eurusd SELECT interval_time, ${cols} FROM (${keys})`);
}

interface OutputManifest {
  groups: { index: number; columns: string[] }[];
  shards: { id: string; rows: number; groups: { index: number; objects: string[] }[] }[];
}

describe('embedded chain: a run where only some features changed builds only their column groups', function () {
  this.timeout(180_000);
  let e: Embedded;
  const run = (request: { reuse?: boolean } = {}): Promise<RunRecord> => succeededRun(e, request);
  const manifestOf = async (r: RunRecord): Promise<OutputManifest> => JSON.parse(Buffer.from(await e.output.read(r.output!.manifest)).toString('utf8'));
  /** Each shard's group files, by group index. */
  const filesOf = (m: OutputManifest) => m.shards.map((s) => new Map(s.groups.map((g) => [g.index, g.objects])));

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('group-sharing'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day' }));
    await buildWarehouse(e);
  });
  afterEach(async () => {
    await e.close();
  });

  it('a narrow table, then the wide one rewritten in place: only the groups holding them are built, the others are the last dataset\'s files; equal to a full build; gc keeps shared files', async () => {
    const first = await run();
    const before = await manifestOf(first);
    assert.equal(before.groups.length, 3);
    assert.ok(before.groups[0]!.columns.includes('mkt_regime_r'));

    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = r + 1000`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
    const second = await run();
    assert.equal(second.reuse?.extracted, 1);
    assert.deepEqual(second.sharing, { from: first.runId, shared: [], rebuilt: SHARDS, groups: [0], changed: ['mkt_regime'] });
    assert.equal(e.warehouse.lastFromPrevious, 1, 'agg_eurusd, unchanged in group 0, copied from the first dataset\'s files');
    const after = await manifestOf(second);
    for (const [i, files] of filesOf(after).entries()) {
      assert.deepEqual(files.get(1), filesOf(before)[i]!.get(1), `shard ${SHARDS[i]} group 1 is the first dataset's file`);
      assert.deepEqual(files.get(2), filesOf(before)[i]!.get(2), `shard ${SHARDS[i]} group 2 is the first dataset's file`);
      assert.ok(files.get(0)!.every((o) => o.includes(`/${second.runId}/`)), `shard ${SHARDS[i]} group 0 is built by the second run`);
    }
    assert.deepEqual((await verifyManifest(e.output.uri(second.output!.manifest))).problems, []);
    const summary = summarise(second, second.expected, null);
    assert.deepEqual(summary.sharing, { from: first.runId, sharedShards: 0, rebuiltShards: 2, builtGroups: [0] });
    assert.match(summaryTable(summary), /shared +column groups other than 0 of 2 shard\(s\), from /);

    // Now the wide table: groups 1 and 2 built, group 0 the second run's.
    await e.warehouse.execute(`UPDATE ${FEATURES}.var_wide_eurusd SET c0 = -1, c319 = -2`);
    await e.warehouse.markChanged(FEATURES, ['var_wide_eurusd']);
    const third = await run();
    assert.deepEqual(third.sharing, { from: second.runId, shared: [], rebuilt: SHARDS, groups: [1, 2], changed: ['var_wide_eurusd'] });
    assert.deepEqual(filesOf(await manifestOf(third)).map((f) => f.get(0)), filesOf(after).map((f) => f.get(0)));
    // Retention keeping one dataset keeps the files it lists from the two before (groups 1 and 2 were the first's, then rebuilt; group 0 is the second's).
    await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual((await verifyManifest(e.output.uri(third.output!.manifest))).problems, [], 'the second run\'s group 0 files outlive its dataset while the third lists them');

    const full = await run({ reuse: false });
    assert.equal(full.sharing, undefined, '--no-reuse builds everything');
    const [a, b] = await Promise.all([readOutput(e, third.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, MINUTES);
    assert.ok(a.every((r) => typeof r.mkt_regime_r === 'number' && r.mkt_regime_r >= 1000 && r.var_wide_c0 === -1 && r.var_wide_c319 === -2), 'the rewritten values are in the output');
    assert.deepEqual(a.map((r) => r.agg_a), Array.from({ length: MINUTES }, (_, i) => i * 10));
    assert.deepEqual(a, b, 'equal to a --no-reuse full build, cell for cell, in row order');
  });

  it('a refresh after the label rows before the previous end changed (a filled-in tail): the whole days there build their label group alone, their other groups the last dataset\'s files; equal to a full build', async () => {
    // A first version over [0, 4400): 20210301..20210304, the last partial.
    await appendRows(e, MINUTES, 4400);
    await e.warehouse.markChanged(FEATURES, ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd']);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const first = await run();
    // New minutes, and the labels of the last 100 old minutes written again (labels look ahead).
    await appendRows(e, 4400, 5000);
    await e.warehouse.execute(`UPDATE ${LABELS}.targets_eurusd SET target_a = -target_a WHERE interval_time >= TIMESTAMPTZ '${minute(4300)}'`);
    await e.warehouse.markChanged(FEATURES, ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd'], { start: minute(4400), end: null });
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], { start: minute(4300), end: null });
    const refreshed = await succeededRun(e, { refresh: true });
    // Labels unchanged up to the previous end less 2,880 minutes (minute 1,520): the first day shared;
    // the second and third days hold label rows only as changed; the fourth grows by a part, its
    // earlier rows' label group built again.
    assert.deepEqual(refreshed.sharing, { from: first.runId, shared: ['20210301'], rebuilt: ['20210302', '20210303', '20210304'], grown: [{ id: '20210304', from: minute(4400), relabelled: true }], relabelled: ['20210302', '20210303'] });
    const [was, now] = [filesOf(await manifestOf(first)), filesOf(await manifestOf(refreshed))];
    for (const day of [1, 2]) {
      assert.ok(now[day]!.get(0)!.every((o) => o.includes(`/${refreshed.runId}/`)), 'the label group built by this run');
      assert.deepEqual([now[day]!.get(1), now[day]!.get(2)], [was[day]!.get(1), was[day]!.get(2)], 'the wide groups: the first version\'s files');
    }
    // The last day: its rows before the part (the label group this run's, the wide groups the first version's), then the part.
    assert.equal(now[3]!.get(0)![0], paths.shardGroupPart(paths.outputRelabelledDir('eurusd', refreshed.runId), '20210304', 0, 0));
    assert.deepEqual([now[3]!.get(1)![0], now[3]!.get(2)![0]], [was[3]!.get(1)![0], was[3]!.get(2)![0]]);
    assert.ok([0, 1, 2].every((g) => now[3]!.get(g)!.length === 2 && now[3]!.get(g)![1] === paths.outputShardGroupPart('eurusd', refreshed.runId, '20210304', g, 0)), 'the part: every group, this run\'s');
    assert.deepEqual((await verifyManifest(e.output.uri(refreshed.output!.manifest))).problems, []);
    const full = await succeededRun(e, { reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, 5000);
    assert.equal(a.filter((r) => typeof r.target_a === 'number' && r.target_a < 0).length, 700, 'the changed labels are in the output');
    assert.deepEqual(a, b, 'equal to a --no-reuse full build, cell for cell, in row order');
  });

  it('a refresh whose label rows before the previous end were not only filled in (one removed, another added: the counts equal) fails with what to do, instead of shifting the shared columns', async () => {
    await appendRows(e, MINUTES, 4400);
    await e.warehouse.markChanged(FEATURES, ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd']);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    await run();
    await appendRows(e, 4400, 5000);
    // In the third day (a relabelled one): minute 3,000's label row gone, one 30 seconds later in its place.
    await e.warehouse.execute(`DELETE FROM ${LABELS}.targets_eurusd WHERE interval_time = TIMESTAMPTZ '${minute(3000)}'`);
    await e.warehouse.execute(`INSERT INTO ${LABELS}.targets_eurusd VALUES (TIMESTAMPTZ '${minute(3000).replace(':00.000Z', ':30.000Z')}', -1)`);
    await e.warehouse.markChanged(FEATURES, ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd'], { start: minute(4400), end: null });
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], { start: minute(3000), end: null });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd', refresh: true });
    const refreshed = await settle(e, started.runId);
    assert.deepEqual(refreshed.sharing?.relabelled, ['20210302', '20210303'], 'planned as days whose label rows alone changed');
    assert.equal(refreshed.state, 'failed');
    assert.match(refreshed.error ?? '', /shard 20210303: its label rows' keys are not those of the files it keeps from eurusd-[^ ]+ \(label rows added or removed before the previous end, not only filled in\); build it again with --no-reuse/);
    assert.doesNotMatch(refreshed.error ?? '', /shard 2021030[24]:/, 'the other relabelled day and the grown part kept their keys');
    const full = await succeededRun(e, { reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.equal(full.labelRows, 5000);
  });

  it('after a refresh grew the last day by a part, a table rewritten in place: the unchanged features\' columns are copied from that day\'s parts joined page for page; equal to a full build', async () => {
    const first = await succeededRun(e, { end: '2021-03-02T03:00:00.000Z' });
    const grown = await succeededRun(e, { refresh: true });
    assert.deepEqual(grown.refresh?.shards?.grown, [{ id: '20210302', from: '2021-03-02T03:00:00.000Z' }]);
    const parts = await manifestOf(grown);
    assert.ok(parts.shards[1]!.groups.every((g) => g.objects.length === 2 && g.objects[0]!.includes(`/${first.runId}/`)), 'the second day in two parts');

    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = r + 1000`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
    const touched = await run();
    assert.deepEqual(touched.sharing, { from: grown.runId, shared: [], rebuilt: SHARDS, groups: [0], changed: ['mkt_regime'] });
    assert.equal(e.warehouse.lastFromPrevious, 1, 'agg_eurusd copied from the grown dataset\'s files, the second day\'s two parts joined');
    assert.deepEqual((await verifyManifest(e.output.uri(touched.output!.manifest))).problems, []);
    const full = await run({ reuse: false });
    const [a, b] = await Promise.all([readOutput(e, touched.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, MINUTES);
    assert.deepEqual(a, b, 'equal to a --no-reuse full build, cell for cell');
  });

  it('a table added to a family (schema drift) rebuilds only the group that holds the family; the others are the last dataset\'s files; equal to a full build', async () => {
    const first = await run();
    const firstRows = await readOutput(e, first.output!.manifest);
    const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(0, ${MINUTES}) r(i)`;
    await e.warehouse.execute(`CREATE TABLE ${FEATURES}.mkt_vol AS SELECT interval_time, i * 0.25::DOUBLE AS v FROM (${keys})`);
    await e.warehouse.markChanged(FEATURES, ['mkt_vol']);
    const second = await run();
    assert.equal(second.reuse?.extracted, 1);
    // Group 0 (labels, agg, mkt) is laid out otherwise: built, without copying from the last files (its columns differ).
    assert.deepEqual(second.sharing, { from: first.runId, shared: [], rebuilt: SHARDS, groups: [0] });
    const [before, after] = [await manifestOf(first), await manifestOf(second)];
    assert.ok(after.groups[0]!.columns.includes('mkt_vol_v'));
    for (const [i, files] of filesOf(after).entries()) {
      assert.deepEqual([files.get(1), files.get(2)], [filesOf(before)[i]!.get(1), filesOf(before)[i]!.get(2)], `shard ${SHARDS[i]}: groups 1 and 2 are the first dataset's files`);
      assert.ok(files.get(0)!.every((o) => o.includes(`/${second.runId}/`)));
    }
    assert.deepEqual((await verifyManifest(e.output.uri(second.output!.manifest))).problems, []);
    const full = await run({ reuse: false });
    const [a, b] = await Promise.all([readOutput(e, second.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.deepEqual(a.map((r) => r.mkt_vol_v), Array.from({ length: MINUTES }, (_, i) => i * 0.25));
    assert.deepEqual(a, b, 'equal to a --no-reuse full build, cell for cell, in row order');

    // And removed again: group 0 as it was first, built again; groups 1 and 2 the last dataset's (the full build's) files.
    await e.warehouse.execute(`DROP TABLE ${FEATURES}.mkt_vol`);
    await e.warehouse.markChanged(FEATURES, ['mkt_vol']);
    const third = await run();
    assert.deepEqual(third.sharing, { from: full.runId, shared: [], rebuilt: SHARDS, groups: [0] });
    assert.deepEqual(filesOf(await manifestOf(third)).map((f) => f.get(2)), filesOf(await manifestOf(full)).map((f) => f.get(2)));
    assert.deepEqual(await readOutput(e, third.output!.manifest), firstRows, 'the first dataset\'s rows again');
  });

  it('a family that grows into a group of its own moves the later groups: their files are shared under their new indexes; equal to a full build', async () => {
    const first = await run();
    const before = await manifestOf(first);
    // 298 columns more for agg: agg no longer fits beside the labels (300 columns a group), so it
    // takes group 1, mkt group 2, and the wide table's two groups move from 1 and 2 to 3 and 4.
    const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(0, ${MINUTES}) r(i)`;
    const cols = Array.from({ length: 298 }, (_, k) => `i::DOUBLE * ${k + 2} AS g${k}`).join(', ');
    await e.warehouse.execute(`CREATE TABLE ${FEATURES}.agg_more_eurusd AS SELECT interval_time, ${cols} FROM (${keys})`);
    await e.warehouse.markChanged(FEATURES, ['agg_more_eurusd']);
    const second = await run();
    const after = await manifestOf(second);
    assert.equal(after.groups.length, 5);
    assert.deepEqual([after.groups[3]!.columns, after.groups[4]!.columns], [before.groups[1]!.columns, before.groups[2]!.columns]);
    assert.deepEqual(second.sharing, { from: first.runId, shared: [], rebuilt: SHARDS, groups: [0, 1, 2], moved: { 3: 1, 4: 2 } });
    for (const [i, files] of filesOf(after).entries()) {
      assert.deepEqual([files.get(3), files.get(4)], [filesOf(before)[i]!.get(1), filesOf(before)[i]!.get(2)], `shard ${SHARDS[i]}: the wide table's files are the first dataset's`);
    }
    assert.deepEqual((await verifyManifest(e.output.uri(second.output!.manifest))).problems, []);
    const full = await run({ reuse: false });
    assert.deepEqual(await readOutput(e, second.output!.manifest), await readOutput(e, full.output!.manifest), 'equal to a --no-reuse full build, cell for cell, in row order');
  });

  it('with changed features in every group, builds every group, the unchanged columns copied from the last dataset\'s files (aligned again where one is gone); equal to a full build', async () => {
    const first = await run();
    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = -r; UPDATE ${FEATURES}.var_wide_eurusd SET c5 = 0`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime', 'var_wide_eurusd']);
    const both = await run();
    assert.equal(both.reuse?.extracted, 2);
    assert.deepEqual(both.sharing, { from: first.runId, shared: [], rebuilt: SHARDS, groups: [0, 1, 2], changed: ['mkt_regime', 'var_wide_eurusd'] });
    assert.equal(e.warehouse.lastFromPrevious, 1, 'agg_eurusd copied from the first dataset\'s files');
    assert.ok(filesOf(await manifestOf(both)).every((f) => [...f.values()].flat().every((o) => o.includes(`/${both.runId}/`))), 'every file is this run\'s');
    assert.deepEqual((await verifyManifest(e.output.uri(both.output!.manifest))).problems, []);
    const full = await run({ reuse: false });
    const [a, b] = await Promise.all([readOutput(e, both.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.ok(a.every((r) => typeof r.mkt_regime_r === 'number' && r.mkt_regime_r <= 0 && r.var_wide_c5 === 0), 'the rewritten values are in the output');
    assert.deepEqual(a, b, 'equal to a --no-reuse full build, cell for cell, in row order');

    // The last dataset's group 0 file of one shard removed: nothing is copied, every feature aligned.
    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = 3; UPDATE ${FEATURES}.var_wide_eurusd SET c6 = 6`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime', 'var_wide_eurusd']);
    const gone = filesOf(await manifestOf(full))[1]!.get(0)!;
    await e.output.deletePrefix(gone[0]!);
    const again = await run();
    assert.deepEqual(again.sharing?.groups, [0, 1, 2]);
    assert.equal(e.warehouse.lastFromPrevious, 0, 'a file gone: aligned from the checkpoints');
    const aligned = await readOutput(e, again.output!.manifest);
    assert.deepEqual(aligned.map((r) => [r.agg_a, r.mkt_regime_r, r.var_wide_c6]), Array.from({ length: MINUTES }, (_, i) => [i * 10, 3, 6]));

    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = 7; UPDATE ${LABELS}.targets_eurusd SET target_a = -target_a WHERE interval_time < TIMESTAMPTZ '2021-03-01 01:00:00+00'`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const labelsMoved = await settle(e, started.runId);
    assert.equal(labelsMoved.state, 'succeeded', labelsMoved.error);
    assert.equal(labelsMoved.sharing, undefined, 'new label rows: every group built');
    const rows = await readOutput(e, labelsMoved.output!.manifest);
    assert.equal(rows.filter((r) => typeof r.target_a === 'number' && r.target_a < 0).length, 59);
    assert.ok(first.runId);
  });
});
