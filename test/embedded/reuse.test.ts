// Checkpoints reused across runs by content, on the small hand-made warehouse: what is reused,
// what is extracted again and why, and that a reused run's output is the one a full extract gives.
// A stale reuse must be impossible: a table rewritten in place with the same schema and row count
// is extracted again, and the output carries its new values.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import sinon from 'sinon';
import { reconcile } from '../../shared/chain/reconcile.js';
import { startRun } from '../../shared/chain/startRun.js';
import { rerun } from '../../shared/chain/rerun.js';
import { loadManifest } from '../../shared/chain/runs.js';
import type { RunRequest } from '../../shared/chain/messages.js';
import { touchTables } from '../../shared/demo/change.js';
import type { RunRecord } from '../../shared/ports.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, succeededRun, testConfig } from '../helpers/embedded.js';
import { MINI_ROWS, buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const SELECTED = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp'];

async function groupBytes(e: Embedded, run: RunRecord): Promise<Buffer[]> {
  return Promise.all(run.output!.files.map(async (f) => Buffer.from(await e.output.read(f))));
}

async function report(e: Embedded, run: RunRecord): Promise<{ features: { feature: string; reason?: string; reusedFrom?: string }[]; totals: { extracted: number; reused: number } }> {
  return JSON.parse(Buffer.from(await e.output.read(run.output!.report)).toString('utf8'));
}

describe('embedded chain: checkpoints reused by content', function () {
  this.timeout(120_000);
  const sandbox = sinon.createSandbox();
  let e: Embedded;
  let first: RunRecord;

  const run = (request: Partial<RunRequest> = {}): Promise<RunRecord> => succeededRun(e, request);

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('reuse'), { BQX_MAX_GROUP_COLUMNS: '300' }));
    await buildMiniWarehouse(e.warehouse);
    // The mini warehouse is written by plain SQL: record its versions as every bqx write does.
    await e.warehouse.markChanged(FEATURES, [...SELECTED, 'mkt_regime_summary', 'agg_gbpjpy']);
    first = await run();
  });
  afterEach(async () => {
    sandbox.restore();
    await e.close();
  });

  it('extracts everything the first time (no earlier checkpoint), then reuses every checkpoint: same output, byte for byte', async () => {
    assert.deepEqual(first.reuse, { reused: 0, extracted: 5, reasons: { 'no earlier checkpoint': 5 } });
    const extract = sandbox.spy(e.warehouse, 'extract');
    const lists = sandbox.spy(e.staging, 'list');
    const sizes = sandbox.spy(e.staging, 'sizes');
    const landed: string[] = [];
    e.deps.observe = (event) => event.type === 'landed' && landed.push(`${event.landed}/${event.expected}`);
    const second = await run();
    delete e.deps.observe;
    assert.equal(extract.callCount, 0, 'nothing extracted');
    // The index listed once and the checkpoints' sizes asked in one call, as the run plans its reuse
    // and again as it records it: on Cloud Storage a listing or two, not two requests a feature.
    assert.deepEqual(lists.args.map(([prefix]) => prefix).filter((prefix) => prefix.startsWith('checkpoints/index/')), ['checkpoints/index/', 'checkpoints/index/'], 'the index whole: the plan, then retention; no feature\'s folder alone');
    const checked = sizes.args.filter(([names]) => names.some((n) => n.startsWith(`runs/${first.runId}/features/`)));
    assert.equal(checked.length, 2);
    assert.ok(checked.every(([names]) => SELECTED.every((f) => names.some((n) => n.startsWith(`runs/${first.runId}/features/${f}/`)))), 'every feature\'s files in each call');
    assert.deepEqual(landed, ['1/5', '2/5', '3/5', '4/5', '5/5'], 'the progress counts each reused checkpoint once, up to all of them');
    assert.deepEqual(second.reuse, { reused: 5, extracted: 0, reasons: {} });
    const records = await e.store.listCheckpoints(second.runId);
    assert.deepEqual(records.map((r) => r.feature), SELECTED);
    for (const r of records) {
      assert.equal(r.reusedFrom, first.runId);
      assert.ok(r.files.every((f) => f.startsWith(`runs/${first.runId}/features/${r.feature}/`)), 'points at the first run\'s files, no copy');
    }
    assert.deepEqual(await e.staging.list(`runs/${second.runId}/features/`), [], 'no checkpoint files of its own');
    assert.deepEqual(await readOutput(e, second.output!.manifest), await readOutput(e, first.output!.manifest));
    assert.deepEqual(await groupBytes(e, second), await groupBytes(e, first));
    const r = await report(e, second);
    assert.deepEqual(r.totals.reused, 5);
    assert.ok(r.features.every((f) => f.reusedFrom === first.runId && f.reason === undefined));
    assert.deepEqual(second.warnings, first.warnings, 'stats carried over from the index');
  });

  it('extracts a table rewritten in place (same schema, same rows) again: data changed, and the output has its new values', async () => {
    const before = await readOutput(e, first.output!.manifest);
    const touched = ['agg_eurusd', 'tri_agg_eur_usd_gbp', 'cov_agg_eurusd_gbpusd'];
    await touchTables(e.warehouse, { featuresDataset: FEATURES, labelsDataset: 'bqx_ml_v3_analytics_v2', labelTablePrefix: 'targets_', metadataColumns: ['pair', 'pair1', 'pair2'] }, touched);
    const { n } = (await e.warehouse.query(`SELECT count(*)::INT AS n FROM ${FEATURES}.agg_eurusd`))[0] as { n: number };
    assert.equal(n, MINI_ROWS + 60, 'same row count');
    const extract = sandbox.spy(e.warehouse, 'extract');
    const second = await run();
    assert.deepEqual(extract.getCalls().map((c) => c.args[0].feature).sort(), [...touched].sort());
    assert.deepEqual(second.reuse, { reused: 2, extracted: 3, reasons: { 'data changed': 3 } });
    const r = await report(e, second);
    for (const t of touched) assert.equal(r.features.find((f) => f.feature === t)!.reason, 'data changed');
    // The output carries the table's new values, not the first run's.
    const now = await e.warehouse.query(`SELECT a FROM ${FEATURES}.agg_eurusd WHERE interval_time >= '2021-03-01T00:00:00Z' ORDER BY interval_time LIMIT ${MINI_ROWS}`);
    const after = await readOutput(e, second.output!.manifest);
    assert.deepEqual(after.map((row) => row.agg_a), now.map((row) => row.a));
    assert.ok(after.every((row, i) => row.agg_a !== before[i]!.agg_a), 'every agg_a value changed');
    assert.deepEqual(after.map((row) => row.csi_mom_bqx_usd_x), before.map((row) => row.csi_mom_bqx_usd_x), 'untouched features unchanged');
  });

  it('a rerun of a feature whose table changed since the run began reads it as it is now: out of the frozen versions, its old fingerprint dropped', async () => {
    const config = { featuresDataset: FEATURES, labelsDataset: 'bqx_ml_v3_analytics_v2', labelTablePrefix: 'targets_', metadataColumns: ['pair', 'pair1', 'pair2'] };
    const before = { ...(await loadManifest({ staging: e.staging }, first)).features.find((f) => f.feature === 'agg_eurusd')! };
    assert.ok(before.version && before.fingerprint, 'frozen at the start');
    await touchTables(e.warehouse, config, ['agg_eurusd']);
    const { run: reopened } = await rerun(e.deps, first.runId, { mode: 'features', features: ['agg_eurusd'] });
    const done = await settle(e, reopened.runId);
    assert.equal(done.state, 'succeeded', done.error);
    const after = await loadManifest({ staging: e.staging }, done);
    const agg = after.features.find((f) => f.feature === 'agg_eurusd')!;
    assert.equal(agg.version, undefined, 'read as it is now');
    assert.equal(agg.fingerprint, undefined, 'its old fingerprint named the version the run froze: not indexed under it');
    assert.ok(after.features.filter((f) => f.feature !== 'agg_eurusd').every((f) => f.version && f.fingerprint), 'the others stay frozen');
    const values = await e.warehouse.query(`SELECT a FROM ${FEATURES}.agg_eurusd WHERE interval_time >= '2021-03-01T00:00:00Z' ORDER BY interval_time LIMIT ${MINI_ROWS}`);
    assert.deepEqual((await readOutput(e, done.output!.manifest)).map((row) => row.agg_a), values.map((row) => row.a));
  });

  it('extracts every feature with reuse off (--no-reuse), giving the same output', async () => {
    const extract = sandbox.spy(e.warehouse, 'extract');
    const second = await run({ reuse: false });
    assert.equal(extract.callCount, 5);
    assert.deepEqual(second.reuse, { reused: 0, extracted: 5, reasons: { 'reuse turned off': 5 } });
    assert.deepEqual(await readOutput(e, second.output!.manifest), await readOutput(e, first.output!.manifest));
  });

  it('after a --no-reuse build of the same window, the next run reuses its checkpoints (retention trimmed the earlier ones)', async () => {
    // The index once kept the first run's entry; retention keeps one set of checkpoints (the
    // newest run's) and trimmed the first run's, so the next run found nothing and extracted all.
    await run({ reuse: false });
    const extract = sandbox.spy(e.warehouse, 'extract');
    const third = await run();
    assert.equal(extract.callCount, 0);
    assert.deepEqual(third.reuse, { reused: 5, extracted: 0, reasons: {} });
    assert.deepEqual(await readOutput(e, third.output!.manifest), await readOutput(e, first.output!.manifest));
  });

  it('names the change that stopped a reuse: schema changed, window changed, new table', async () => {
    await e.warehouse.execute(`ALTER TABLE ${FEATURES}.mkt_regime ADD COLUMN r2 DOUBLE`);
    await e.warehouse.execute(`CREATE TABLE ${FEATURES}.tri_agg_eur_usd_jpy AS SELECT * FROM ${FEATURES}.tri_agg_eur_usd_gbp`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime', 'tri_agg_eur_usd_jpy']);
    const second = await run();
    assert.deepEqual(second.reuse, { reused: 4, extracted: 2, reasons: { 'schema changed': 1, 'new table': 1 } });
    const third = await run({ start: '2021-03-01T00:10:00.000Z', end: '2021-03-01T01:00:00.000Z' });
    assert.deepEqual(third.reuse, { reused: 0, extracted: 6, reasons: { 'window changed': 6 } });
    const r = await report(e, third);
    assert.equal(r.features.find((f) => f.feature === 'agg_eurusd')!.reason, 'window changed');
    // A window no checkpoint has, over rows changed since (as `bqx demo --append` marks them): its
    // data part differs from every indexed one too, yet what stopped the reuse is the window.
    await e.warehouse.markChanged(FEATURES, [...SELECTED, 'tri_agg_eur_usd_jpy'], { start: '2021-03-01T00:30:00.000Z', end: null });
    const fourth = await run({ start: '2021-03-01T00:20:00.000Z', end: '2021-03-01T01:00:00.000Z' });
    assert.deepEqual(fourth.reuse?.reasons, { 'window changed': 6 });
  });

  it('extracts again after the shard unit changed (settings changed): embedded checkpoints follow the shard grid its merge stitches', async () => {
    // Month checkpoints in a day-shard merge were aligned by a join per feature and day: at 20,000
    // rows 94 s against 2 s for the merge of checkpoints extracted by day.
    const home = e.home;
    await e.close();
    e = await openTest(testConfig(home, { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'week' }));
    const extract = sandbox.spy(e.warehouse, 'extract');
    const second = await run();
    assert.equal(extract.callCount, 5);
    assert.deepEqual(second.reuse, { reused: 0, extracted: 5, reasons: { 'settings changed': 5 } });
    assert.deepEqual(await readOutput(e, second.output!.manifest), await readOutput(e, first.output!.manifest));
    const third = await run();
    assert.deepEqual(third.reuse, { reused: 5, extracted: 0, reasons: {} }, 'the same unit again reuses');
  });

  it('never reuses a table whose data version is unknown (written outside bqx)', async () => {
    await e.warehouse.execute(`CREATE TABLE ${FEATURES}.mkt_agg AS SELECT interval_time, 1.0 AS m FROM ${FEATURES}.mkt_regime`);
    const second = await run();
    const third = await run();
    assert.deepEqual(second.reuse?.reasons, { 'data version unknown': 1 });
    assert.deepEqual(third.reuse, { reused: 5, extracted: 1, reasons: { 'data version unknown': 1 } });
  });

  it('a start that dies before recording its reused checkpoints is finished by the reconciler, which extracts nothing', async () => {
    const record = sandbox.stub(e.store, 'recordCheckpoint').rejects(new Error('store unavailable'));
    await assert.rejects(startRun(e.deps, { pair: 'eurusd' }), /store unavailable/);
    record.restore();
    const active = (await e.store.activeRun('eurusd'))!;
    assert.equal(active.state, 'extracting');
    const extract = sandbox.spy(e.warehouse, 'extract');
    const claim = sandbox.spy(e.store, 'claimOnce');
    const actions = await reconcile(e.deps, { force: true });
    assert.deepEqual(actions.map((a) => a.action), ['claimed-merge']);
    // The forced claim leaves the run's merge claim record, as a landing's claim does.
    assert.equal(claim.callCount, 1);
    assert.equal(await claim.firstCall.returnValue, true, 'the reconciler made the claim record');
    assert.equal(await e.store.claimOnce(active.runId, claim.firstCall.args[1]), false, 'the record is there');
    const done = await settle(e, active.runId);
    assert.equal(done.state, 'succeeded', done.error);
    assert.equal(extract.callCount, 0);
    assert.equal((await e.store.listCheckpoints(done.runId)).filter((c) => c.reusedFrom === first.runId).length, 5);
  });

  it('does not reuse a checkpoint whose files changed or went away since it was indexed', async () => {
    const file = (await e.store.listCheckpoints(first.runId)).find((c) => c.feature === 'agg_eurusd')!.files[0]!;
    await fs.rm(e.staging.localPath(file));
    const second = await run();
    assert.deepEqual(second.reuse, { reused: 4, extracted: 1, reasons: { 'no earlier checkpoint': 1 } });
  });
});
