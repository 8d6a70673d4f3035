// A refresh over a filled-in label tail, with several column groups: only the label group's earlier
// files change, so the other groups' column pass carries on from the last version's state after its
// last row (reading the new rows alone) and the label group's from its scan point
// (shared/profile/resumeByGroup.ts). The profile must still be a full build's to the last bit, and
// the state it keeps must carry the next refresh on the same way.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { RunRecord } from '../../shared/ports.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import type { ProfileJob } from '../../shared/profile/types.js';
import { openTest, succeededRun, testConfig } from '../helpers/embedded.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';
import { paths } from '../../shared/naming.js';
import { readStoredColumns } from '../../shared/profile/storedProfile.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const LABELS = 'bqx_ml_v3_analytics_v2';
const TABLES = ['agg_eurusd', 'mkt_regime', 'var_wide_eurusd'];
const WIDE = 320; // with BQX_MAX_GROUP_COLUMNS=300: the label and the narrow tables in group 0, the wide one in groups 1 and 2
const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();
/** Keys (and their minute i) of minutes [from, to) from 2021-03-01 00:00. */
const minutes = (from: number, to: number) => `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;
// DOUBLE columns with values that vary, as the demo's (decoded by bqx's own threads).
const wide = Array.from({ length: WIDE }, (_, k) => `sin(i * ${k + 1} / 97.0)`).join(', ');

describe('embedded chain: a refresh\'s column pass carried on group by group', function () {
  this.timeout(180_000);
  let e: Embedded;
  const run = (request: Parameters<typeof succeededRun>[1] = {}): Promise<RunRecord> => succeededRun(e, request);
  const report = async (r: RunRecord) => JSON.parse(Buffer.from(await e.output.read(paths.outputReport(r.pair, r.runId))).toString('utf8'));
  const readJson = async (object: string): Promise<unknown> => JSON.parse(Buffer.from(await e.output.read(object)).toString('utf8'));
  const raw = async (r: RunRecord) => (await readStoredColumns(e.output, paths.outputProfile(r.pair, r.runId)))!;

  /** Minutes [from, to) added to every table; the label from `relabelFrom` on written again (a look-ahead label filled in). */
  async function append(from: number, to: number, relabelFrom: number): Promise<void> {
    const keys = minutes(from, to);
    const w = e.warehouse;
    await w.execute(`INSERT INTO ${LABELS}.targets_eurusd SELECT interval_time, cos(i / 31.0) FROM (${keys})`);
    await w.execute(`INSERT INTO ${FEATURES}.agg_eurusd SELECT interval_time, i * 10.0::DOUBLE FROM (${keys})`);
    await w.execute(`INSERT INTO ${FEATURES}.mkt_regime SELECT interval_time, (i % 7) * 0.5::DOUBLE FROM (${keys})`);
    await w.execute(`INSERT INTO ${FEATURES}.var_wide_eurusd SELECT interval_time, ${wide} FROM (${keys})`);
    await w.execute(`UPDATE ${LABELS}.targets_eurusd SET target_a = ${to % 97}.5 WHERE interval_time >= TIMESTAMPTZ '${minute(relabelFrom)}'`);
    await w.markChanged(FEATURES, TABLES, { start: minute(from), end: null });
    await w.markChanged(LABELS, ['targets_eurusd'], { start: minute(relabelFrom), end: null });
  }

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('profile-by-group'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day' }));
    const w = e.warehouse;
    await w.execute(`CREATE SCHEMA ${FEATURES}; CREATE SCHEMA ${LABELS}`);
    const keys = minutes(0, 4400);
    await w.execute(`CREATE TABLE ${LABELS}.targets_eurusd AS SELECT interval_time, cos(i / 31.0) AS target_a FROM (${keys})`);
    await w.execute(`CREATE TABLE ${FEATURES}.agg_eurusd AS SELECT interval_time, i * 10.0::DOUBLE AS a FROM (${keys})`);
    await w.execute(`CREATE TABLE ${FEATURES}.mkt_regime AS SELECT interval_time, (i % 7) * 0.5::DOUBLE AS r FROM (${keys})`);
    const named = Array.from({ length: WIDE }, (_, k) => `sin(i * ${k + 1} / 97.0) AS c${k}`).join(', ');
    await w.execute(`CREATE TABLE ${FEATURES}.var_wide_eurusd AS SELECT interval_time, ${named} FROM (${keys})`);
    await w.markChanged(FEATURES, TABLES);
    await w.markChanged(LABELS, ['targets_eurusd']);
  });
  afterEach(async () => {
    await e.close();
  });

  it('the label group from the scan point, the others from the last end: two jobs, a full build\'s profile and statistics, and its state at the same scan point made whole from the last version\'s', async () => {
    // A first version over [0, 4400): 20210301..20210304, the last partial.
    await run();
    await append(4400, 5000, 4300);
    const profiled = sinon.spy(e.warehouse, 'profile');
    const refreshed = await run({ refresh: true });
    profiled.restore();
    const groups = ((await readJson(refreshed.output!.manifest)) as { groups: { index: number }[] }).groups;
    assert.equal(groups.length, 3);
    // Two jobs: the label group from the first version's scan point (the first shard ending after
    // its end less 2,880 minutes: row 1,440), every other group from its end (row 4,400).
    const jobs = profiled.getCalls().map((c) => c.args[0] as ProfileJob).filter((j) => j.groups.some((g) => g.columns.length > 1));
    assert.deepEqual(jobs.map((j) => [j.groups.map((g) => g.index), j.resume?.from.state.row]), [
      [[0], 1440],
      [groups.slice(1).map((g) => g.index), 4400],
    ]);
    assert.ok(jobs[1]!.resume!.groups.every((g) => g.files.length === 1 && g.files[0]!.includes(`/${refreshed.runId}/shard-20210304/`)), 'the late groups read the new part alone');
    const reuse = (await report(refreshed)).profileReuse;
    assert.equal(reuse.carriedOnFrom, 1440);
    assert.deepEqual(reuse.carriedOnFromEnd, { row: 4400, groups: groups.length - 1 });

    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), await readOutput(e, full.output!.manifest));
    assert.deepEqual((await report(refreshed)).profile, (await report(full)).profile, 'the profile is the full pass\'s');
    const [a, b] = [await raw(refreshed), await raw(full)];
    assert.deepEqual(a.columns, b.columns, 'every statistic equal, to the last bit');
    assert.deepEqual([a.end?.row, a.end?.sha256], [b.end?.row, b.end?.sha256], 'the same state kept after the last row');
    // The scan point is the first version's (row 1,440): the late groups' state there is its, so the state kept is whole.
    assert.deepEqual([a.scan?.row, a.scan?.sha256, a.scan?.columns.length], [b.scan?.row, b.scan?.sha256, b.scan?.columns.length]);

  });

  it('where the last version\'s state at its scan point is unreadable, the late groups still carry on from its end and the label group is measured from row 0, a full build\'s profile', async () => {
    const first = await run();
    const objects = paths.outputProfile(first.pair, first.runId);
    assert.ok((await raw(first)).scan, 'the first version kept a state at its scan point');
    await e.output.write(objects.scan, Buffer.alloc(64, 7)); // not the file columns.json describes
    await append(4400, 5000, 4300);
    const profiled = sinon.spy(e.warehouse, 'profile');
    const refreshed = await run({ refresh: true });
    profiled.restore();
    const groups = ((await readJson(refreshed.output!.manifest)) as { groups: { index: number }[] }).groups;
    const jobs = profiled.getCalls().map((c) => c.args[0] as ProfileJob).filter((j) => j.groups.some((g) => g.columns.length > 1));
    assert.deepEqual(jobs.map((j) => [j.groups.map((g) => g.index), j.resume?.from.state.row]), [
      [[0], undefined],
      [groups.slice(1).map((g) => g.index), 4400],
    ]);
    const reuse = (await report(refreshed)).profileReuse;
    assert.equal(reuse.from, first.runId);
    assert.equal(reuse.carriedOnFrom, undefined);
    assert.deepEqual(reuse.carriedOnFromEnd, { row: 4400, groups: groups.length - 1 });
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.deepEqual((await report(refreshed)).profile, (await report(full)).profile, 'the profile is the full pass\'s');
    assert.deepEqual((await raw(refreshed)).columns, (await raw(full)).columns, 'every statistic equal, to the last bit');
  });

  it('where the last version\'s state after its last row is unreadable, every group carries on from its scan point instead, a full build\'s profile', async () => {
    const first = await run();
    await e.output.write(paths.outputProfile(first.pair, first.runId).end, Buffer.alloc(64, 7));
    await append(4400, 5000, 4400); // no earlier label written again: every group begins with all the first version's files
    const profiled = sinon.spy(e.warehouse, 'profile');
    const refreshed = await run({ refresh: true });
    profiled.restore();
    const jobs = profiled.getCalls().map((c) => c.args[0] as ProfileJob).filter((j) => j.groups.some((g) => g.columns.length > 1));
    assert.deepEqual(jobs.map((j) => [j.groups.length, j.resume?.from.state.row]), [[3, 1440]]);
    const reuse = (await report(refreshed)).profileReuse;
    assert.deepEqual([reuse.from, reuse.carriedOnFrom, reuse.carriedOnFromEnd], [first.runId, 1440, undefined]);
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.deepEqual((await report(refreshed)).profile, (await report(full)).profile);
    assert.deepEqual((await raw(refreshed)).columns, (await raw(full)).columns);
  });

  it('where the new scan point is past the last one, the state kept there holds the label group alone; the next refresh carries that group on from it and the others from the end, still a full build\'s profile', async () => {
    await run();
    // To 5,780 rows: the scan point moves to 20210303 (row 2,880), past the first version's end less the
    // lookahead; the sample layout stays (under 2^12.5 rows, rounded to 4,096 as 4,400 are).
    await append(4400, 5780, 4300);
    const refreshed = await run({ refresh: true });
    const kept = await raw(refreshed);
    const labelGroup = ((await readJson(refreshed.output!.manifest)) as { groups: { index: number; columns: string[] }[] }).groups[0]!.columns.filter((c) => c !== 'interval_time');
    assert.deepEqual([kept.scan?.row, kept.scan?.columns], [2880, labelGroup], 'the groups carried on from row 4,400 never passed row 2,880');
    assert.equal(kept.end?.columns.length, 3 + WIDE, 'the state after the last row is whole');
    // Another 10 minutes (the same sample layout again), their labels' tail filled in again.
    await append(5780, 5790, 5700);
    const again = await run({ refresh: true });
    const reuse = (await report(again)).profileReuse;
    assert.equal(reuse.from, refreshed.runId);
    assert.equal(reuse.carriedOnFrom, 2880);
    assert.deepEqual(reuse.carriedOnFromEnd, { row: 5780, groups: 2 });
    const full = await run({ reuse: false, start: again.window.start, end: again.window.end });
    assert.deepEqual(await readOutput(e, again.output!.manifest), await readOutput(e, full.output!.manifest));
    assert.deepEqual((await report(again)).profile, (await report(full)).profile);
    assert.deepEqual((await raw(again)).columns, (await raw(full)).columns);
  });
});
