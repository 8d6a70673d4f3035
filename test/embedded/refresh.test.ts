// `--refresh` on the embedded runtime, at small size with day shards so several shards exist:
// after minutes are appended (and an old label tail filled in, and a column added), a refresh
// follows the last succeeded version (same start, the labels' new end), reports the schema drift,
// and its output is identical, cell for cell and in row order, to a --no-reuse full build of the
// same window.

import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import sinon from 'sinon';
import { rerun } from '../../shared/chain/rerun.js';
import { startRun } from '../../shared/chain/startRun.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import { decodeRunRequest, type RunRequest } from '../../shared/chain/messages.js';
import type { RunRecord } from '../../shared/ports.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import type { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { summarise, summaryTable } from '../../shared/cli/summary.js';
import { openTest, settle, succeededRun, testConfig } from '../helpers/embedded.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { readOutput } from '../helpers/readOutput.js';
import { collectGarbage } from '../../shared/retention.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import { tempDir } from '../helpers/temp.js';
import { paths } from '../../shared/naming.js';
import { readStoredColumns } from '../../shared/profile/storedProfile.js';
import { readFooter, summariseFooters } from '../../shared/checkpoint.js';
import { loadManifest } from '../../shared/chain/runs.js';
import { MAX_SHARD_PARTS, shardGrid } from '../../shared/shards.js';
import { refreshBase } from '../../shared/chain/refresh.js';
import { refreshBuilds } from '../../shared/chain/shareShards.js';
import { reuseIndex } from '../../shared/chain/reuse.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const LABELS = 'bqx_ml_v3_analytics_v2';
const SELECTED = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp'];
const NEW_END = 1500; // minutes from 2021-03-01 00:00: into the next day, so two day shards
const LATER_END = 3000; // a second append: into the day after, so a whole day shard can be shared
const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();

/** Appends minutes [from, to) to the label table and the pair's feature tables (`into` names each one's target), as the demo's --append does. */
async function appendMinutes(e: Embedded, from: number, to = NEW_END, into = (table: string) => `${FEATURES}.${table}`): Promise<void> {
  const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;
  await e.warehouse.execute(`INSERT INTO ${LABELS}.targets_eurusd SELECT interval_time, i * 1.0, CASE WHEN i % 10 = 0 THEN NULL ELSE -i END FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${into('agg_eurusd')} SELECT interval_time, 'eurusd', i * 10.0, i * 100.0 FROM (${keys}) WHERE i >= 150`);
  await e.warehouse.execute(`INSERT INTO ${into('tri_agg_eur_usd_gbp')} SELECT interval_time, i + 0.5 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${into('csi_mom_bqx_usd')} SELECT interval_time, i * 1.0 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${into('mkt_regime')} SELECT interval_time, i * 0.25 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${into('cov_agg_eurusd_gbpusd')} SELECT interval_time, 'eurusd', 'gbpusd', i * 2.0 FROM (${keys})`);
}

/** appendMinutes for feature tables kept in parquet files (the demo's): the new rows are each table's next file. */
async function appendFileMinutes(e: Embedded, from: number, to: number): Promise<void> {
  const w = e.warehouse as DuckDbWarehouse;
  await w.execute('CREATE SCHEMA IF NOT EXISTS appended');
  for (const t of SELECTED) await w.execute(`CREATE OR REPLACE TABLE appended.${t} AS SELECT * FROM ${FEATURES}.${t} LIMIT 0`);
  await appendMinutes(e, from, to, (t) => `appended.${t}`);
  await w.writeFileTables(FEATURES, SELECTED.map((t) => ({ table: t, select: `SELECT * FROM appended.${t} ORDER BY interval_time` })), 'append');
  const range = { start: minute(from), end: null };
  await w.markChanged(FEATURES, SELECTED, range);
  await w.markChanged(LABELS, ['targets_eurusd'], range);
}

describe('embedded chain: --refresh', function () {
  this.timeout(180_000);
  let e: Embedded;

  const run = (request: Partial<RunRequest> = {}): Promise<RunRecord> => succeededRun(e, request);
  const report = async (r: RunRecord) => JSON.parse(Buffer.from(await e.output.read(paths.outputReport(r.pair, r.runId))).toString('utf8'));

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('refresh'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day' }));
    await buildMiniWarehouse(e.warehouse);
    await e.warehouse.markChanged(FEATURES, [...SELECTED, 'mkt_regime_summary', 'agg_gbpjpy']);
  });
  afterEach(async () => {
    await e.close();
  });

  it('is refused while the pair has no succeeded version', async () => {
    await assert.rejects(startRun(e.deps, { pair: 'eurusd', refresh: true }), /no succeeded run to refresh from/);
  });

  it('is refused, creating no run, when its window would end before the version it follows', async () => {
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const first = await run();
    await assert.rejects(startRun(e.deps, { pair: 'eurusd', refresh: true, end: minute(60) }), new RegExp(`^InputError: a refresh extends ${first.runId}, which ends at ${minute(120)}: this window ends at ${minute(60)}, before it \\(for a shorter dataset, run without --refresh\\)$`));
    assert.deepEqual((await e.store.listRuns('eurusd')).map((r) => r.runId), [first.runId]);
  });

  it('decodes refresh on a run request and refuses a non-boolean', () => {
    assert.deepEqual(decodeRunRequest('{"pair": "eurusd", "refresh": true}', ['eur', 'usd']), { pair: 'eurusd', refresh: true });
    assert.throws(() => decodeRunRequest('{"pair": "eurusd", "refresh": "yes"}', ['eur', 'usd']), /refresh must be true or false/);
  });

  it('after an append, a filled-in label tail and an added column: follows the last version, reports the drift, equals a --no-reuse full build', async () => {
    const first = await run();
    assert.equal(first.labelRows, 120);
    await appendMinutes(e, 120);
    // Labels look ahead: rows near the previous end can change after the fact (nulls that now have values).
    await e.warehouse.execute(`UPDATE ${LABELS}.targets_eurusd SET target_bqx90_h30 = 7.0 WHERE target_bqx90_h30 IS NULL AND interval_time >= TIMESTAMPTZ '2021-03-01 01:00:00+00'`);
    await e.warehouse.execute(`ALTER TABLE ${FEATURES}.cov_agg_eurusd_gbpusd ADD COLUMN d DOUBLE DEFAULT 1.5`);
    await e.warehouse.markChanged(FEATURES, SELECTED);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);

    const refreshed = await run({ refresh: true });
    assert.equal(refreshed.window.start, first.window.start, 'keeps the previous version\'s start');
    assert.equal(refreshed.window.end, '2021-03-02T01:00:00.000Z', 'extended to the label table\'s new end');
    assert.equal(refreshed.labelRows, NEW_END, 'rows grown by the appended label rows');
    assert.equal(refreshed.refresh?.from, first.runId);
    assert.deepEqual(refreshed.refresh?.drift, { tablesAdded: [], tablesRemoved: [], columnsAdded: ['cov_agg_eurusd_gbpusd.d'], columnsRemoved: [], typesChanged: [] });
    assert.equal(refreshed.refresh?.rebuiltShards, 2);
    const summary = summarise(refreshed, refreshed.expected, null);
    assert.equal(summary.refresh?.from, first.runId);
    const report = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.report)).toString('utf8'));
    assert.deepEqual(report.drift.columnsAdded, ['cov_agg_eurusd_gbpusd.d']);

    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.equal(full.refresh, undefined);
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, NEW_END);
    assert.equal(refreshed.output!.columns, first.output!.columns + 1, 'the added column is in the refreshed version');
    assert.deepEqual(a, b, 'the refresh equals a --no-reuse full build, cell for cell, in row order');

    // The filled-in label tail is in the refreshed version.
    assert.equal(a.filter((r) => r.interval_time instanceof Date && r.interval_time < new Date('2021-03-01T02:00:00Z') && r.target_bqx90_h30 === 7n).length, 6);
  });

  /** A first version over [0, NEW_END) (day shards 20210301 whole, 20210302 partial), then minutes [NEW_END, LATER_END) appended with their range. */
  /**
   * What `bqx plan --refresh` plans a refresh up to `end` builds (shareShards.ts refreshBuilds): the
   * shards ending after the unchanged labels' end (every one without it), and the one grown by a part.
   */
  const plannedBuilds = async (end: string) => {
    const base = await refreshBase(e.deps, 'eurusd');
    const grid = shardGrid({ start: base.run.window.start, end }, 'day');
    const builds = await refreshBuilds(e.deps, base, { labels: base.manifest.labels, grid });
    return { rebuilt: grid.filter((s) => builds.until === undefined || s.end > builds.until).map((s) => s.id), grown: builds.grown };
  };
  /** What the run built: its rebuilt shards (those with label rows) and its grown one. */
  const runBuilt = (r: RunRecord) => ({ rebuilt: r.refresh?.shards?.rebuilt, grown: r.refresh?.shards?.grown?.[0] });

  const firstVersionThenAppend = async (request: Partial<RunRequest> = {}): Promise<RunRecord> => {
    await appendMinutes(e, 120);
    await e.warehouse.markChanged(FEATURES, SELECTED);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const first = await run(request);
    assert.equal(first.labelRows, NEW_END);
    // As `bqx demo --append` records it: only keys from the first new minute on changed.
    const range = { start: minute(NEW_END), end: null };
    await e.warehouse.markChanged(FEATURES, SELECTED, range);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], range);
    await appendMinutes(e, NEW_END, LATER_END);
    await e.warehouse.markChanged(FEATURES, SELECTED, range);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], range);
    return first;
  };

  it('follows a version asked for a window wider than its labels (an --end in the future) as the labels\' range: only the new minutes extracted, the first day shared', async () => {
    const first = await firstVersionThenAppend({ start: '2021-02-01T00:00:00.000Z', end: '2030-01-01T00:00:00.000Z' });
    assert.deepEqual(first.window, { start: minute(0), end: minute(NEW_END) }, 'the window is the label rows it holds');
    const refreshed = await run({ refresh: true });
    assert.deepEqual(refreshed.window, { start: minute(0), end: minute(LATER_END) });
    assert.deepEqual(refreshed.reuse?.reasons, { 'new minutes only': SELECTED.length });
    assert.deepEqual(refreshed.refresh?.shards?.shared, ['20210301']);
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), await readOutput(e, full.output!.manifest));
  });

  it('after an append: extracts only the new minutes, shares the unchanged day shard by reference, grows the partial day by a part, reads only the new rows, equals a --no-reuse full build; gc keeps the shared files', async () => {
    const first = await firstVersionThenAppend();
    // What `bqx plan --refresh` is told the run will build, asked before the run: the run's own decision.
    const planned = await plannedBuilds(minute(LATER_END));
    const merge = sinon.spy(e.warehouse, 'merge');
    const earlierRecords = sinon.spy(e.store, 'getCheckpoint');
    const refreshed = await run({ refresh: true });
    assert.deepEqual(planned, runBuilt(refreshed), 'the plan builds and grows the shards the run does');
    merge.restore();
    earlierRecords.restore();
    assert.equal(refreshed.labelRows, LATER_END);
    // The merge was given the shards it builds (the partial day from the earlier end on: a part), their window, and of each checkpoint the files that meet it.
    const job = merge.firstCall.args[0];
    assert.deepEqual(job.shards.map((x) => [x.id, x.start]), [['20210302', minute(NEW_END)], ['20210303', '2021-03-03T00:00:00.000Z']]);
    assert.deepEqual(job.window, { start: minute(NEW_END), end: minute(LATER_END) });
    for (const [feature, files] of Object.entries(job.checkpoints)) assert.ok(files.length === 2 && files.every((f) => f.startsWith(`runs/${refreshed.runId}/`)), `${feature}: ${files.join(', ')}`);
    assert.deepEqual(refreshed.reuse?.reasons, { 'new minutes only': SELECTED.length }, 'every feature extracts only the new range');
    assert.equal(refreshed.refresh?.incremental, SELECTED.length);
    assert.deepEqual(refreshed.refresh?.shards?.shared, ['20210301'], 'the whole first day is shared');
    assert.deepEqual(refreshed.refresh?.shards?.rebuilt, ['20210302', '20210303'], 'the partial day grows; the new day is built');
    assert.deepEqual(refreshed.refresh?.shards?.grown, [{ id: '20210302', from: minute(NEW_END) }], 'the partial day keeps its files and grows by a part');
    assert.equal(refreshed.refresh?.sharedShards, 1);
    assert.equal(refreshed.refresh?.rebuiltShards, 2);
    // Rows read: each feature's rows in [NEW_END, LATER_END) only (agg from 150 on, so all of them), and the labels of those minutes only.
    const newRows = LATER_END - NEW_END;
    assert.deepEqual(refreshed.rowsRead, { features: SELECTED.length * newRows, labels: newRows });
    // The partial day's earlier rows stay in the earlier files, checkpoint and output: nothing carried, none to align.
    assert.equal((e.warehouse as DuckDbWarehouse).lastRealigned, 0, 'the merge aligned no feature');
    assert.equal((e.warehouse as DuckDbWarehouse).joinedCarries, 0, 'no earlier rows written again');
    const refreshedManifest = await loadManifest(e.deps, refreshed);
    for (const record of await e.store.listCheckpoints(refreshed.runId)) {
      assert.equal(record.files.length, 4, `${record.feature}: the earlier run's files of the first and the partial day, then two new ones`);
      assert.ok(record.files.slice(0, 2).every((f) => f.startsWith(`runs/${first.runId}/`)) && record.files.slice(2).every((f) => f.startsWith(`runs/${refreshed.runId}/`)));
      assert.equal(record.readRows, newRows);
      // Landed from the first run's record and the new files' footers only: the same figures as every footer gives.
      assert.ok(earlierRecords.calledWith(first.runId, record.feature), `${record.feature}: the landing extended the earlier record`);
      const whole = summariseFooters(await Promise.all(record.files.map((f) => readFooter(e.staging, f))));
      const columns = refreshedManifest.features.find((f) => f.feature === record.feature)!.columns;
      assert.deepEqual(
        { rows: record.rows, bytes: record.bytes, minKey: record.minKey, maxKey: record.maxKey, nullCounts: record.nullCounts, fileKeys: record.fileKeys },
        { rows: whole.rows, bytes: whole.bytes, minKey: whole.minKey, maxKey: whole.maxKey, nullCounts: Object.fromEntries(columns.map((c) => [c.output, whole.nullCounts.get(c.source)])), fileKeys: whole.fileKeys },
      );
    }
    const summary = summarise(refreshed, refreshed.expected, null);
    assert.deepEqual(summary.refresh && { from: summary.refresh.from, shared: summary.refresh.sharedShards, rebuilt: summary.refresh.rebuiltShards, grown: summary.refresh.grownShards }, { from: first.runId, shared: 1, rebuilt: 2, grown: ['20210302'] });
    assert.match(summaryTable(summary), /refreshed from +\S+ \(shards shared 1, rebuilt 2, of which grown by a part: 20210302\)/);
    assert.equal(summary.rowsRead?.total, SELECTED.length * newRows + newRows);

    // The shared shard's files are the first version's, listed by reference.
    const m = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.manifest)).toString('utf8'));
    const firstDay = m.shards.find((x: { id: string }) => x.id === '20210301');
    assert.ok(firstDay.groups.every((g: { objects: string[] }) => g.objects.every((o) => o.startsWith(`training/eurusd/${first.runId}/`))));
    // The grown day: the first version's part, then this run's; the new day this run's.
    const grownDay = m.shards.find((x: { id: string }) => x.id === '20210302');
    assert.deepEqual([grownDay.start, grownDay.end, grownDay.rows], ['2021-03-02T00:00:00.000Z', '2021-03-03T00:00:00.000Z', 1440]);
    for (const g of grownDay.groups as { objects: string[]; rows: number }[]) {
      assert.equal(g.objects.length, 2);
      assert.ok(g.objects[0]!.startsWith(`training/eurusd/${first.runId}/shard-20210302/`) && g.objects[1]!.startsWith(`training/eurusd/${refreshed.runId}/shard-20210302/`), g.objects.join(', '));
      assert.equal(g.rows, 1440);
    }
    assert.ok(m.shards.find((x: { id: string }) => x.id === '20210303').groups.every((g: { objects: string[] }) => g.objects.every((o) => o.startsWith(`training/eurusd/${refreshed.runId}/`))));

    // One file of the whole dataset (--consolidate) holds the grown day's parts one after the other.
    const before = await readOutput(e, refreshed.output!.manifest);
    const object = `training/eurusd/${refreshed.runId}/consolidated-test.parquet`;
    assert.equal(await e.warehouse.consolidate(m.shards.map((s: { groups: { objects: string[] }[] }) => ({ groups: s.groups.map((g) => ({ files: g.objects })) })), object), LATER_END);
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      assert.deepEqual((await c.runAndReadAll('SELECT * FROM read_parquet($1)', [e.output.uri(object)])).getRowObjectsJS(), before, 'the consolidated file is the dataset, row for row');
    } finally {
      c.closeSync();
      db.closeSync();
    }

    // Retention keeping only the refresh removes the first run, but not the files the refresh shares.
    const gc = await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual(gc.removed, [first.runId]);
    assert.ok((await e.output.size(firstDay.groups[0].objects[0])) !== undefined, 'a shared shard file survives its run\'s collection');
    assert.ok((await e.output.size(grownDay.groups[0].objects[0])) !== undefined, 'so does a grown shard\'s earlier part');
    assert.equal(await e.output.size(first.output!.manifest), undefined, 'the first run\'s own manifest is gone');
    assert.deepEqual((await verifyManifest(e.output.uri(refreshed.output!.manifest))).problems, []);

    // Its merge run again once the version it shared from is gone: every shard built from the
    // checkpoints (which hold every row, the first run's files among them), the same rows.
    await rerun(e.deps, refreshed.runId, { mode: 'merge' });
    const remerged = await settle(e, refreshed.runId);
    assert.equal(remerged.state, 'succeeded', remerged.error);
    assert.equal(remerged.sharing, undefined, 'it shares nothing now');
    assert.deepEqual([remerged.refresh?.sharedShards, remerged.refresh?.rebuiltShards, remerged.refresh?.shards?.shared, remerged.refresh?.shards?.rebuilt, remerged.refresh?.shards?.grown], [0, 3, [], ['20210301', '20210302', '20210303'], undefined]);
    const m2 = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.manifest)).toString('utf8'));
    assert.ok(m2.shards.every((x: { groups: { objects: string[] }[] }) => x.groups.every((g) => g.objects.every((o) => o.startsWith(`training/eurusd/${refreshed.runId}/`)))), 'every file its own');
    assert.deepEqual((await verifyManifest(e.output.uri(refreshed.output!.manifest))).problems, []);
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), before, 'the same dataset, cell for cell');

    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.equal(full.rowsRead!.labels, LATER_END);
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, LATER_END);
    assert.deepEqual(a, b, 'the refresh equals a --no-reuse full build, cell for cell, in row order');

    // The full build's retention trimmed the refresh, whose checkpoints (the first run's files
    // among them) no newer run points at: extracting them again would read only the new minutes,
    // so a rerun is refused, saying why, and the kept dataset stays as it was.
    assert.equal((await e.store.getRun(refreshed.runId))?.collected?.scope, 'checkpoints');
    await assert.rejects(rerun(e.deps, refreshed.runId, { mode: 'missing' }), new RegExp(`run ${refreshed.runId} is a refresh: ${SELECTED.length} feature\\(s\\) to extract again .* read only the minutes after run ${first.runId}'s files, which retention removed; ${SELECTED.length} feature\\(s\\)' checkpoints were removed by retention .*: start a new run instead`));
    assert.equal((await e.store.getRun(refreshed.runId))?.state, 'succeeded');
    assert.equal((await e.store.listCheckpoints(refreshed.runId)).length, SELECTED.length, 'no record dropped');
  });

  it('on tables kept in parquet files (the demo\'s): the partial day stays in its files and grows by a part a refresh, until MAX_SHARD_PARTS hold it: then it is carried into one file and built whole; equal to a --no-reuse full build, refresh after refresh', async () => {
    const w = e.warehouse as DuckDbWarehouse;
    await appendMinutes(e, 120);
    // Kept in files in key order, decimals as doubles (as the demo's): written from their pages.
    const columns = async (t: string) => (await w.query(`SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [FEATURES, t])).map((c) => (String(c.type).startsWith('DECIMAL') ? `CAST("${c.name}" AS DOUBLE) AS "${c.name}"` : `"${c.name}"`)).join(', ');
    const writes = await Promise.all(SELECTED.map(async (t) => ({ table: t, select: `SELECT ${await columns(t)} FROM ${FEATURES}.${t} ORDER BY interval_time` })));
    await w.writeFileTables(FEATURES, writes, 'replace');
    await w.markChanged(FEATURES, SELECTED);
    await w.markChanged(LABELS, ['targets_eurusd']);
    const first = await run();
    assert.equal(first.labelRows, NEW_END);
    // csi_mom_bqx_usd has repeated keys: DuckDB's copy extracts it.
    const keyedFeatures = SELECTED.filter((f) => f !== 'csi_mom_bqx_usd');
    // Refreshes inside the second day (2021-03-02, minutes 1,440-2,879), each growing it by a part,
    // until MAX_SHARD_PARTS files hold it: then one that carries them into one and builds the day whole.
    assert.equal(MAX_SHARD_PARTS, 4);
    const steps = [
      { end: 1800, files: 2 },
      { end: 2000, files: 3 },
      { end: 2200, files: 4 },
      { end: 2400, files: 1 },
    ];
    let earlier = first;
    const outputs: { window: RunRecord['window']; rows: Awaited<ReturnType<typeof readOutput>> }[] = [];
    for (const { end, files } of steps) {
      await appendFileMinutes(e, earlier.labelRows, end);
      const [keyed, copied] = [w.keyedExtracts, w.joinedCarries];
      const planned = await plannedBuilds(minute(end));
      const refreshed = await run({ refresh: true });
      assert.equal(refreshed.labelRows, end);
      const carried = files === 1;
      assert.deepEqual(planned, runBuilt(refreshed), `${end}: the plan builds and grows what the run does`);
      assert.equal(w.keyedExtracts, keyed + keyedFeatures.length, `${end}: written from the tables' pages`);
      assert.equal(w.joinedCarries, copied + (carried ? 1 : 0), `${end}: the one DuckDB copies carries its partial day only when it is built whole`);
      assert.equal(w.lastRealigned, 0, `${end}: no feature aligned by a join`);
      assert.equal(w.lastJoinedShards, 0, `${end}: no second day stitched from several files: a part reads the new files only, a carry left one`);
      assert.deepEqual(refreshed.refresh?.shards?.grown?.map((g) => g.id), carried ? undefined : ['20210302'], `${end}: the second day grows by a part`);
      for (const record of await e.store.listCheckpoints(refreshed.runId)) {
        const secondDay = record.fileKeys!.filter((k) => k.minKey?.startsWith('2021-03-02'));
        assert.equal(secondDay.length, files, `${end}: ${record.feature}'s second day`);
      }
      const m = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.manifest)).toString('utf8'));
      const day = m.shards.find((x: { id: string }) => x.id === '20210302');
      assert.ok(day.groups.every((g: { objects: string[] }) => g.objects.length === files), `${end}: the second day's output in ${files} part(s)`);
      assert.deepEqual((await verifyManifest(e.output.uri(refreshed.output!.manifest))).problems, []);
      // Each refresh indexes every feature under a new fingerprint (the window grew); the retention
      // after it keeps only the entries of the checkpoints it keeps: the newest run's, one a feature.
      const named = (await e.store.listCheckpoints(refreshed.runId)).map((r) => reuseIndex.entry(r.feature, r.fingerprint!)).sort();
      assert.deepEqual((await e.staging.list('checkpoints/index/')).map((o) => o.name).sort(), named, `${end}: the reuse index is the newest run's`);
      outputs.push({ window: refreshed.window, rows: await readOutput(e, refreshed.output!.manifest) });
      earlier = refreshed;
    }
    // Full builds after (each would be the version the next refresh follows), of the same windows.
    for (const { window, rows } of outputs) {
      const full = await run({ reuse: false, start: window.start, end: window.end });
      assert.equal(rows.length, full.labelRows);
      assert.deepEqual(rows, await readOutput(e, full.output!.manifest), `${window.end}: the refresh equals a --no-reuse full build, cell for cell, in row order`);
    }
  });

  it('a refresh counts values beyond 10 sd from the kept state and tails: an old extreme is not read again, and the counts are a full build\'s', async () => {
    // One extreme value in the first day: its column is past the 10 sd screen in every version.
    await e.warehouse.execute(`UPDATE ${FEATURES}.cov_agg_eurusd_gbpusd SET c = 1e9 WHERE interval_time = TIMESTAMPTZ '2021-03-01 00:30:00+00'`);
    await firstVersionThenAppend();
    const second = await run({ refresh: true }); // another sample layout: a full pass, its state and tails kept at row 2,880
    const raw = async (r: RunRecord) => (await readStoredColumns(e.output, paths.outputProfile(r.pair, r.runId)))!;
    const kept = (await raw(second)).scan?.tails;
    assert.ok(kept && kept.columns.length > 0 && kept.counts.every((n) => n > 0), JSON.stringify(kept));
    assert.deepEqual((await raw(second)).end?.tails?.columns, kept.columns, 'the same columns keep a tail after the last row');
    const range = { start: minute(LATER_END), end: null };
    await appendMinutes(e, LATER_END, LATER_END + 300);
    await e.warehouse.markChanged(FEATURES, SELECTED, range);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], range);
    const third = await run({ refresh: true });
    const reuse = (await report(third)).profileReuse;
    assert.equal(reuse.carriedOnFrom, 3000, 'carried on from the second version\'s end (the last day grew by a part), with the tails kept there');
    const columns = (await raw(third)).columns;
    const far = columns.filter((c) => c.beyond10sd > 0);
    assert.ok(far.some((c) => c.column.startsWith('cov_') && c.beyond10sd === 1), JSON.stringify(far));
    assert.deepEqual(reuse.beyond, { carried: far.length, reread: 0 }, 'every such column counted without reading its first two days');
    const full = await run({ reuse: false, start: third.window.start, end: third.window.end });
    assert.deepEqual(columns, (await raw(full)).columns, 'every statistic a full build\'s, the counts beyond 10 sd with them');
    const [a, b] = [await raw(third), await raw(full)];
    assert.ok(a.scan?.tails?.counts.length && a.end?.tails?.counts.length);
    assert.deepEqual(a.scan?.tails?.counts, b.scan?.tails?.counts, 'and as many tail values kept for the next refresh, at the last shard\'s first row');
    assert.deepEqual(a.end?.tails?.counts, b.end?.tails?.counts, 'and after the last row');
  });

  it("the README's DuckDB recipe reads a refreshed dataset whole from its manifest, the shard shared from the first version included", async () => {
    await firstVersionThenAppend();
    const refreshed = await run({ refresh: true });
    assert.deepEqual(refreshed.refresh?.shards?.shared, ['20210301'], 'one shard lies in the first version\'s folder');
    const readme = readFileSync('README.md', 'utf8');
    const block = /### Reading the dataset[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)![1]!;
    const statements = block.split(';').map((sql) => sql.replace(/^--.*$/gm, '').trim()).filter(Boolean);
    assert.equal(statements.length, 3, 'the variable, the whole dataset, a date range');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      // As run from the run's folder: only the manifest's name is made absolute.
      await c.run(statements[0]!.replace("'_manifest.json'", `'${e.output.uri(refreshed.output!.manifest)}'`));
      const rows = (await c.runAndReadAll(statements[1]!)).getRowObjectsJS();
      assert.equal(rows.length, LATER_END);
      assert.deepEqual(rows, await readOutput(e, refreshed.output!.manifest), 'every row and column, in order');
      // The date-range query names the demo's columns; here its shape is checked with this dataset's.
      const ranged = statements[2]!.replace('target_bqx45_h15, agg_bqx_mean_45', 'target_bqx45_h15').replace(/2020-01-07/, '2021-03-01').replace(/2020-01-08/, '2021-03-02');
      assert.equal((await c.runAndReadAll(ranged)).getRows().length, 1440);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });

  it('a refresh carries the profile\'s column pass on from the last version\'s scan state: only the rebuilt shards are read, and the profile equals a full build\'s to the last bit', async () => {
    await firstVersionThenAppend();
    // 1,500 then 3,000 rows: another sample layout (rows rounded to 2,048, then 4,096), so a full pass, which keeps its state at its last day (row 2,880).
    const second = await run({ refresh: true });
    assert.equal((await report(second)).profileReuse.carriedOnFrom, undefined);
    const range = { start: minute(LATER_END), end: null };
    await appendMinutes(e, LATER_END, LATER_END + 300);
    await e.warehouse.markChanged(FEATURES, SELECTED, range);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], range);
    const profile = sinon.spy(e.warehouse, 'profile');
    const compared = sinon.spy(e.warehouse, 'compareColumns');
    const third = await run({ refresh: true });
    profile.restore();
    compared.restore();
    assert.equal(third.labelRows, LATER_END + 300);
    const reuse = (await report(third)).profileReuse;
    assert.equal(reuse.from, second.runId);
    assert.equal(reuse.carriedOnFrom, 3000, 'carried on from the last version\'s end: its last day grew by a part');
    // The planted duplicate pair (a label and a csi column) compared only on the rebuilt rows, its earlier counts added.
    assert.deepEqual(reuse.pairs, { compared: 1, taken: 0, carried: 1 });
    const dupJobs = compared.getCalls().map((c) => c.args[0]).filter((j) => j.step === 1 && j.pairs.some((p) => p.a === 'target_bqx45_h15' && p.b === 'csi_mom_bqx_usd_x'));
    assert.ok(dupJobs.length > 0);
    // The last day grew by a part: only this run's part of it is read (its rows come after the state's).
    const lastDay = (runId: string) => `training/eurusd/${runId}/shard-20210303/`;
    for (const j of dupJobs) assert.ok(j.groups.every((g) => g.files.length === 1 && g.files[0]!.startsWith(lastDay(third.runId))), JSON.stringify(j.groups));
    // The column pass read only the last day, the rest of the pass came from the state.
    const job = profile.getCalls().map((c) => c.args[0]).find((j) => j.resume)!;
    assert.ok(job, 'the warehouse was asked to carry on');
    assert.ok(job.resume!.groups.every((g) => g.files.length === 1 && g.files[0]!.startsWith(lastDay(third.runId))), JSON.stringify(job.resume!.groups));

    const full = await run({ reuse: false, start: third.window.start, end: third.window.end });
    const [a, b] = [await report(third), await report(full)];
    assert.equal(b.profileReuse.carriedOnFrom, undefined);
    assert.deepEqual(a.profile, b.profile, 'the carried-on profile is the full pass\'s');
    const raw = async (r: RunRecord) => (await readStoredColumns(e.output, paths.outputProfile(r.pair, r.runId)))!;
    const [rawA, rawB] = [await raw(third), await raw(full)];
    assert.deepEqual(rawA.columns, rawB.columns, 'every statistic equal, to the last bit');
    assert.deepEqual(rawA.sampleRows, rawB.sampleRows);
    assert.equal(rawA.sample.sha256, rawB.sample.sha256, 'the same sample values');
    assert.equal(rawA.scan?.row, rawB.scan?.row);
    assert.equal(rawA.scan?.sha256, rawB.scan?.sha256, 'and the same state kept for the next refresh');
    assert.deepEqual([rawA.end?.row, rawA.end?.sha256, rawA.end?.compared], [rawB.end?.row, rawB.end?.sha256, rawB.end?.compared], 'and the same state after the last row');
    assert.deepEqual([rawA.compared, rawA.scan?.compared], [rawB.compared, rawB.scan?.compared], 'and the same pair counts, over every row and before the last shard');
    assert.equal(rawA.compared?.length, 1);
  });

  it('an earlier sample found altered once the carried-on pass has started (it is read meanwhile): every row is measured instead, the profile still a full build\'s', async () => {
    await firstVersionThenAppend();
    const second = await run({ refresh: true }); // a full pass that keeps its state at row 2,880
    const range = { start: minute(LATER_END), end: null };
    await appendMinutes(e, LATER_END, LATER_END + 300);
    await e.warehouse.markChanged(FEATURES, SELECTED, range);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], range);
    // One value of the second version's sample changed: its length holds, its SHA-256 does not.
    const sampleFile = e.output.uri(paths.outputProfile(second.pair, second.runId).sample);
    const bytes = readFileSync(sampleFile);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(sampleFile, bytes);
    const profile = sinon.spy(e.warehouse, 'profile');
    const third = await run({ refresh: true });
    profile.restore();
    const jobs = profile.getCalls().map((c) => c.args[0]);
    assert.ok(jobs[0]!.resume && !jobs.at(-1)!.resume, 'started carried on, then measured every row');
    const reuse = (await report(third)).profileReuse;
    assert.equal(reuse.carriedOnFrom, undefined);
    assert.match(reuse.why, new RegExp(`the stored profile of ${second.runId} is incomplete`));
    const full = await run({ reuse: false, start: third.window.start, end: third.window.end });
    assert.deepEqual((await report(third)).profile, (await report(full)).profile);
  });

  it('new rows whose pages differ from the earlier ones (a constant column: a dictionary page) grow the partial day by a part all the same: no align, equal to a full build', async () => {
    await firstVersionThenAppend();
    // mkt_regime's new minutes of the partial day all one value: DuckDB writes that column with a dictionary page.
    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = 7.0 WHERE interval_time >= $1::TIMESTAMPTZ AND interval_time < TIMESTAMPTZ '2021-03-03 00:00:00+00'`, [minute(NEW_END)]);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime'], { start: minute(NEW_END), end: null });
    const refreshed = await run({ refresh: true });
    assert.deepEqual(refreshed.reuse?.reasons, { 'new minutes only': SELECTED.length });
    const warehouse = e.warehouse as DuckDbWarehouse;
    assert.equal(warehouse.joinedCarries, 0, 'nothing carried: the partial day grows by a part');
    assert.deepEqual(refreshed.refresh?.shards?.grown?.map((g) => g.id), ['20210302']);
    assert.equal(warehouse.lastRealigned, 0, 'the merge aligned no feature');
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.filter((r) => r.mkt_regime_r === 7).length, 2880 - NEW_END);
    assert.deepEqual(a, b);
  });

  it('a table changed inside the old window is extracted fully, and then no shard is shared: still equal to a full build', async () => {
    await firstVersionThenAppend();
    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = 42.0 WHERE interval_time < TIMESTAMPTZ '2021-03-01 10:00:00+00'`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
    const refreshed = await run({ refresh: true });
    assert.deepEqual(refreshed.reuse?.reasons, { 'new minutes only': SELECTED.length - 1, 'data changed': 1 });
    assert.equal(refreshed.refresh?.sharedShards, 0);
    assert.match(refreshed.refresh?.shards?.why ?? '', /1 feature\(s\) changed inside the previous window/);
    // mkt_regime read whole, the others only the new minutes.
    assert.equal(refreshed.rowsRead?.features, (SELECTED.length - 1) * (LATER_END - NEW_END) + LATER_END);
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.filter((r) => r.mkt_regime_r === 42).length, 600);
    assert.deepEqual(a, b);
  });

  /** A refresh after an append whose mkt_regime extract never lands (as if the process stopped first): it stays extracting. */
  const interruptedRefresh = async (): Promise<RunRecord> => {
    await firstVersionThenAppend();
    const extract = sinon.stub(e.warehouse, 'extract').callThrough();
    extract.withArgs(sinon.match({ feature: 'mkt_regime' })).rejects(new Error('the process stopped'));
    const { run: started } = await startRun(e.deps, { pair: 'eurusd', refresh: true });
    const stalled = await settle(e, started.runId);
    extract.restore();
    assert.equal(stalled.state, 'extracting');
    assert.equal(await e.store.countCheckpoints(stalled.runId), SELECTED.length - 1);
    return stalled;
  };
  /** mkt_regime rewritten in place, every row (as `bqx demo --touch` does): a new data version of the old window too. */
  const touchRegime = async () => {
    await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = r + 1000`);
    await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
  };

  it('an interrupted refresh whose table changed before it was run again is superseded, not resumed (the column would hold two versions): the new run reuses what landed and equals a --no-reuse full build', async () => {
    const stalled = await interruptedRefresh();
    // Nothing changed yet: a request resumes it.
    assert.equal((await startRun(e.deps, { pair: 'eurusd', refresh: true })).created, false);
    await touchRegime();
    const { run: started, created } = await startRun(e.deps, { pair: 'eurusd', refresh: true });
    assert.ok(created, 'a new run, not the interrupted one');
    const superseded = (await e.store.getRun(stalled.runId))!;
    assert.equal(superseded.state, 'failed');
    assert.equal(superseded.error, `superseded: ${FEATURES}.mkt_regime changed since the run began`);
    const refreshed = await settle(e, started.runId);
    assert.equal(refreshed.state, 'succeeded', refreshed.error);
    // The four that landed are reused from the interrupted run; mkt_regime is read whole, as it is now.
    assert.deepEqual(refreshed.reuse, { reused: SELECTED.length - 1, extracted: 1, reasons: { 'data changed': 1 } });
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.ok(a.every((r) => r.mkt_regime_r === null || (r.mkt_regime_r as number) >= 1000), 'every mkt_regime value the rewritten one');
    assert.deepEqual(a, b);
  });

  it('an interrupted run whose manifest cannot be read is resumed as before: the check of its tables cannot tell, and says nothing', async () => {
    const stalled = await interruptedRefresh();
    e.deps.manifests?.clear();
    await e.staging.write(stalled.manifestObject, 'not json');
    const again = await startRun(e.deps, { pair: 'eurusd', refresh: true });
    assert.deepEqual([again.created, again.run.runId], [false, stalled.runId]);
  });

  it('rerun --missing of an interrupted refresh whose table changed since it began fails the run, naming the table: its earlier rows are the old version', async () => {
    const stalled = await interruptedRefresh();
    await touchRegime();
    const { run: reopened } = await rerun(e.deps, stalled.runId, { mode: 'missing' });
    const done = await settle(e, reopened.runId);
    assert.equal(done.state, 'failed');
    assert.match(done.error ?? '', new RegExp(`^table ${FEATURES}\\.mkt_regime changed after .*; a new run reads it afresh, reusing the checkpoints that landed$`));
    assert.equal((await loadManifest({ staging: e.staging }, done)).features.find((f) => f.feature === 'mkt_regime')!.version !== undefined, true, 'still frozen: it reads only the new minutes');
  });

  it('an extract of a run whose table changed since it began (a message delivered late) fails the run, naming the table, and writes no checkpoint', async () => {
    const stalled = await interruptedRefresh();
    await touchRegime();
    assert.equal(await extractFeature(e.deps, { runId: stalled.runId, pair: 'eurusd', feature: 'mkt_regime' }), 'table-changed');
    const failed = (await e.store.getRun(stalled.runId))!;
    assert.equal(failed.state, 'failed');
    assert.match(failed.error ?? '', new RegExp(`^table ${FEATURES}\\.mkt_regime changed after ${stalled.createdAt.slice(0, 10)}T[^,]*, when the run froze its data version \\(.+, now .+\\): the embedded warehouse keeps no earlier version to read; a new run reads it afresh, reusing the checkpoints that landed$`));
    assert.deepEqual(await e.staging.list(paths.featureDir(stalled.runId, 'mkt_regime')), []);
  });

  it('a checkpoint file of the version it follows cut short since it landed: that feature is extracted whole, not built on it; still equal to a full build', async () => {
    const first = await firstVersionThenAppend();
    const record = (await e.store.listCheckpoints(first.runId)).find((c) => c.feature === 'mkt_regime')!;
    const file = record.files[0]!;
    const bytes = await e.staging.read(file);
    await e.staging.write(file, bytes.subarray(0, bytes.length - 100));
    const refreshed = await run({ refresh: true });
    assert.deepEqual(refreshed.reuse?.reasons, { 'new minutes only': SELECTED.length - 1, 'no earlier checkpoint': 1 });
    assert.equal(refreshed.rowsRead?.features, (SELECTED.length - 1) * (LATER_END - NEW_END) + LATER_END, 'mkt_regime read whole');
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), await readOutput(e, full.output!.manifest));
  });

  it('a second run with nothing changed builds nothing: every shard and the profile are the last dataset\'s, and its output is the same', async () => {
    await appendMinutes(e, 120);
    await e.warehouse.markChanged(FEATURES, SELECTED);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const first = await run();
    // The reused checkpoints' files are asked for in one call as the run plans and one as it records
    // them (where Cloud Storage lists their folders, or their run's features/, once: ObjectStore.sizes), never file by file.
    const size = sinon.spy(e.staging, 'size');
    const sizes = sinon.spy(e.staging, 'sizes');
    const second = await run();
    size.restore();
    sizes.restore();
    assert.equal(second.reuse?.extracted, 0);
    assert.deepEqual(size.args.map((a) => a[0]).filter((name) => name.endsWith('.parquet')), []);
    const checkpointCalls = sizes.args.map((a) => a[0]).filter((names) => names.some((n) => n.includes('/features/')));
    assert.equal(checkpointCalls.length, 2, `${checkpointCalls.length} calls for ${second.reuse!.reused} reused checkpoints`);
    const folders = (names: readonly string[]) => [...new Set(names.map((n) => n.slice(0, n.lastIndexOf('/'))))];
    assert.ok(checkpointCalls.every((names) => names.length === 2 * second.reuse!.reused && folders(names).length === second.reuse!.reused), 'each call names every checkpoint\'s two day files');
    assert.deepEqual(second.sharing, { from: first.runId, shared: ['20210301', '20210302'], rebuilt: [] });
    assert.deepEqual(second.rowsRead, { features: 0, labels: 0 });
    const [r1, r2] = await Promise.all([first, second].map(async (r) => JSON.parse(Buffer.from(await e.output.read(r.output!.report)).toString('utf8'))));
    assert.ok(r1.profile && r1.cutRows, 'the first run profiled its dataset');
    assert.deepEqual(r2.profile, r1.profile);
    assert.deepEqual(r2.cutRows, r1.cutRows);
    assert.deepEqual(await readOutput(e, second.output!.manifest), await readOutput(e, first.output!.manifest));
    // Labels changed inside the window: nothing is shared, and the new labels are in the output.
    await e.warehouse.execute(`UPDATE ${LABELS}.targets_eurusd SET target_bqx45_h15 = -1 WHERE interval_time < TIMESTAMPTZ '2021-03-01 00:10:00+00'`);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    const third = await run();
    assert.equal(third.sharing, undefined);
    assert.equal((await readOutput(e, third.output!.manifest)).filter((r) => r.target_bqx45_h15 === -1).length, 10);
  });

  it('label rows near the previous end filled in after the fact: shards before its last 2,880 minutes are shared, the rest rebuilt, the profile carried on from the first of them; equal to a full build', async () => {
    // A first version over [0, 4400): 20210301..20210304, the last partial.
    await appendMinutes(e, 120, 4400);
    await e.warehouse.markChanged(FEATURES, SELECTED);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);
    await run();
    // An append, and labels of the last 100 old minutes written again (as a look-ahead label is), both marked with their range.
    await appendMinutes(e, 4400, 5000);
    await e.warehouse.execute(`UPDATE ${LABELS}.targets_eurusd SET target_bqx90_h30 = 9 WHERE interval_time >= TIMESTAMPTZ '${minute(4300)}'`);
    await e.warehouse.markChanged(FEATURES, SELECTED, { start: minute(4400), end: null });
    await e.warehouse.markChanged(LABELS, ['targets_eurusd'], { start: minute(4300), end: null });
    const planned = await plannedBuilds(minute(5000));
    const merges = sinon.spy(e.warehouse, 'merge');
    const refreshed = await run({ refresh: true });
    merges.restore();
    // The plan builds the shards after the settled labels; the partial last day grows by a part,
    // its earlier rows' label group built again (their labels changed too).
    assert.deepEqual(planned, { rebuilt: ['20210302', '20210303', '20210304'], grown: { id: '20210304', from: minute(4400), relabelled: true } });
    // Of those, the two whole days before the previous end changed in their label rows only: their
    // label group alone is built, its features copied from the first version's files.
    assert.deepEqual(refreshed.sharing?.relabelled, ['20210302', '20210303']);
    const jobs = merges.getCalls().map((c) => c.args[0]);
    assert.deepEqual(jobs.map((j) => [j.shards.map((s) => [s.id, s.start, s.end]), j.plan.groups.map((g) => g.index), j.previous?.changed, j.outputPrefix]), [
      // The new minutes alone, every group (this warehouse's columns make one).
      [[['20210304', minute(4400), minute(5000)]], [0], undefined, paths.outputDir('eurusd', refreshed.runId)],
      // The relabelled days and the last day's rows before the part: the label group, in a folder of its own.
      [[['20210302', minute(1440), minute(2880)], ['20210303', minute(2880), minute(4320)], ['20210304', minute(4320), minute(4400)]], [0], [], paths.outputRelabelledDir('eurusd', refreshed.runId)],
    ]);
    assert.equal((e.warehouse as DuckDbWarehouse).lastFromPrevious, jobs[1]!.plan.groups[0]!.members.length, 'every feature of the label group copied, none aligned');
    // The last day: its rows before the part (this run's label group), then the part.
    const written = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.manifest)).toString('utf8')) as { shards: { groups: { objects: string[] }[] }[] };
    assert.deepEqual(written.shards.at(-1)!.groups[0]!.objects.map((o) => o.slice(paths.outputDir('eurusd', refreshed.runId).length)), ['relabelled/shard-20210304/group-000/part-00000.parquet', 'shard-20210304/group-000/part-00000.parquet']);
    assert.deepEqual(planned, runBuilt(refreshed), 'as the run does');
    assert.equal(refreshed.reuse?.reasons['new minutes only'], SELECTED.length);
    // The labels of the whole previous window moved; those of [0, 4400 - 2880) did not: the first day (ends at 1440) is shared.
    assert.deepEqual(refreshed.sharing?.shared, ['20210301']);
    assert.deepEqual(refreshed.sharing?.rebuilt, ['20210302', '20210303', '20210304']);
    // The first version kept its scan state at the first shard ending after its end less 2,880
    // minutes (20210302, after the first day's 1,440 rows): the pass carries on from there.
    assert.equal((await report(refreshed)).profileReuse.carriedOnFrom, 1440);
    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.filter((r) => r.target_bqx90_h30 === 9n).length, 700);
    assert.deepEqual(a, b);
    assert.deepEqual((await report(refreshed)).profile, (await report(full)).profile, 'the carried-on profile is the full pass\'s');
    const raw = async (r: RunRecord) => (await readStoredColumns(e.output, paths.outputProfile(r.pair, r.runId)))!;
    const [rawA, rawB] = [await raw(refreshed), await raw(full)];
    assert.deepEqual(rawA.columns, rawB.columns, 'every statistic equal, to the last bit');
    assert.deepEqual([rawA.scan?.row, rawA.scan?.sha256], [rawB.scan?.row, rawB.scan?.sha256], 'and the same state kept for the next refresh');
  });

  it('after the shard unit changed, a refresh extracts whole (settings changed: embedded checkpoints follow the grid), shares no shard, and equals a --no-reuse full build', async () => {
    const first = await firstVersionThenAppend();
    await e.close();
    e = await openTest(testConfig(e.home, { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'week' }));
    const refreshed = await run({ refresh: true });
    assert.equal(refreshed.refresh?.from, first.runId);
    assert.deepEqual(refreshed.reuse, { reused: 0, extracted: SELECTED.length, reasons: { 'settings changed': SELECTED.length } });
    assert.equal(refreshed.refresh?.sharedShards, 0);
    const full = await run({ reuse: false });
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), await readOutput(e, full.output!.manifest));
  });

  it('a checkpoint indexed again once the indexed one\'s files were collected: the next run reuses it', async () => {
    const first = await run();
    const full = await run({ reuse: false });
    // Retention keeping only the newest dataset's checkpoints trims the first run's, which the index pointed at.
    await collectGarbage(e.deps, 'eurusd', 3);
    assert.equal((await e.store.getRun(first.runId))?.collected?.scope, 'checkpoints');
    const second = await run({ reuse: false });
    assert.equal(second.reuse?.extracted, SELECTED.length);
    const third = await run();
    assert.equal(third.reuse?.extracted, 0, `reasons: ${JSON.stringify(third.reuse?.reasons)}`);
    assert.ok(full.runId);
  });

  it('a version whose shard file was rewritten or removed since it was written is not shared from: the refresh rebuilds every shard, naming the file (test/embedded/damagedDataset.test.ts: a file damaged after the start)', async () => {
    const first = await firstVersionThenAppend();
    const m = JSON.parse(Buffer.from(await e.output.read(first.output!.manifest)).toString('utf8'));
    const day = m.shards.find((x: { id: string }) => x.id === '20210301');
    const refresh = async () => {
      const done = await run({ refresh: true });
      assert.equal(done.sharing, undefined);
      assert.equal(done.refresh?.sharedShards, 0);
      assert.ok(await verifyManifest(e.output.uri(done.output!.manifest)).then((v) => v.ok));
      return done;
    };
    appendFileSync(e.output.localPath(day.groups[0].objects[0]), 'x');
    const second = await refresh();
    assert.match(second.warnings[0]!, new RegExp(`^${first.runId}'s files are damaged \\(shard 20210301 group 0: its files hold (\\d+) bytes, the dataset recorded (\\d+)\\)`));
    // The next refresh (nothing new) follows the second version: one of its files removed.
    const gone = JSON.parse(Buffer.from(await e.output.read(second.output!.manifest)).toString('utf8')).shards[0].groups[0].objects[0] as string;
    rmSync(e.output.localPath(gone));
    assert.match((await refresh()).warnings[0]!, new RegExp(`^${second.runId}'s files are damaged \\(${gone} is gone\\)`));
  });

  it('gc removes shared shard files once no kept dataset lists them (they outlive their own run only while shared)', async () => {
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']); // a label version: sharing needs one
    const first = await run();
    const second = await run(); // nothing changed: every shard is the first's
    assert.equal(second.sharing?.from, first.runId);
    await collectGarbage(e.deps, 'eurusd', 1);
    const shared = (await e.output.list(`training/eurusd/${first.runId}/`)).filter((o) => o.name.endsWith('.parquet'));
    assert.ok(shared.length > 0, 'kept while the second dataset lists them');
    await run({ reuse: false });
    await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual((await e.output.list(`training/eurusd/${first.runId}/`)).filter((o) => o.name.endsWith('.parquet')), [], 'gone with the last dataset that listed them');
  });

  it('gc removes a refreshed-from run\'s checkpoint files once the newest run no longer points at them, though that run was removed while it did', async () => {
    const first = await firstVersionThenAppend();
    const refreshed = await run({ refresh: true });
    const earlier = (await e.store.listCheckpoints(refreshed.runId)).flatMap((c) => c.files).filter((f) => f.startsWith(`runs/${first.runId}/`));
    assert.ok(earlier.length > 0, 'the refresh points at the first run\'s files');
    const gc = await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual(gc.removed, [first.runId]);
    for (const f of earlier) assert.notEqual(await e.staging.size(f), undefined, `${f} stays while the newest run points at it`);
    const full = await run({ reuse: false });
    const dry = await collectGarbage(e.deps, 'eurusd', 1, undefined, true);
    const [sizes, lists] = [sinon.spy(e.staging, 'size'), sinon.spy(e.staging, 'list')];
    const again = await collectGarbage(e.deps, 'eurusd', 1);
    sizes.restore();
    lists.restore();
    assert.deepEqual(again.removed, [refreshed.runId]);
    assert.equal(sizes.callCount, 0, 'the files elsewhere are found by listing their folder, not one request each');
    assert.equal(lists.getCalls().filter((c) => c.args[0] === `runs/${first.runId}/`).length, 1, 'the first run\'s folder, listed once');
    assert.deepEqual([dry.objects, dry.bytes], [again.objects, again.bytes], 'the dry run counts what then goes, each file once');
    assert.deepEqual((await e.staging.list(`runs/${first.runId}/`)).map((o) => o.name), [], 'gone with the last run that pointed at them');
    const parquet = (await e.staging.list('runs/')).map((o) => o.name).filter((n) => n.endsWith('.parquet')).sort();
    assert.deepEqual(parquet, (await e.store.listCheckpoints(full.runId)).flatMap((c) => c.files).sort(), 'one set of checkpoints: the newest run\'s');
  });
});
