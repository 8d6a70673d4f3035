// The BigQuery warehouse against a sinon-stubbed client (fakeBigQuery.ts): the exact options every
// job carries, deterministic ids and attaching on retries, the pending budget, the staged merge in
// order, its estimate, its output checks and its clean-up. No real time passes (fakeTime).

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { InputError } from '../../shared/naming.js';
import { planMerge } from '../../shared/planner.js';
import { TableChangedError, type ExtractJob, type MergeJob, type MergeProgress } from '../../shared/ports.js';
import { ATTEMPT_DIR, BigQueryJobError, attemptDir, jobIdFor, jobSql } from '../../shared/adapters/gcp/bigQueryJobs.js';
import { mergeSteps } from '../../shared/adapters/gcp/bigQueryMergeSteps.js';
import { renderExtract, renderExtractCounts, renderLabelStats, renderListTables } from '../../shared/adapters/gcp/bigQuerySql.js';
import { BigQueryWarehouse, estimateCost } from '../../shared/adapters/gcp/bigQueryWarehouse.js';
import { mergeState } from '../../shared/adapters/gcp/mergeState.js';
import { renderDataVersions } from '../../shared/adapters/gcp/bigQueryVersions.js';
import { FakeBigQuery, fakeTime, minuteKeys } from './fakeBigQuery.js';
import { manifestOf } from './fullManifest.js';
import { MemoryObjectStore } from './memoryStore.js';
import { shardGrid } from '../../shared/shards.js';

const RUN = 'eurusd-20250101t000000-abc123';
const CTX = { runId: RUN, pair: 'eurusd' };
const WINDOW = { start: '2024-01-01T00:00:00.000Z', end: '2024-01-01T16:40:00.000Z' };
const KEYS = minuteKeys(WINDOW.start, 1000);
const EXPIRES = 'OPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR))';
const config = loadConfig({
  BQX_RUNTIME: 'gcp',
  BQX_PROJECT: 'demo-bqx',
  BQX_STAGING_BUCKET: 'bqx-staging',
  BQX_OUTPUT_BUCKET: 'bqx-output',
  BQX_JOB_WAIT_SECONDS: '60',
  BQX_MAX_GROUP_COLUMNS: '300',
  BQX_JOIN_BATCH_TABLES: '2',
});
const BILLED = '5000000000000';

describe('gcp/BigQueryWarehouse', () => {
  let sandbox: sinon.SinonSandbox;
  let fake: FakeBigQuery;
  let staging: MemoryObjectStore;
  let output: MemoryObjectStore;
  let time: ReturnType<typeof fakeTime>;
  let warehouse: BigQueryWarehouse;

  const make = (options: { jobWaitSeconds?: number; maxRunningJobs?: number } = {}) =>
    new BigQueryWarehouse({
      bigquery: fake.client,
      config: { ...config, gcp: { ...config.gcp, jobWaitSeconds: options.jobWaitSeconds ?? config.gcp.jobWaitSeconds } },
      staging,
      output,
      clock: time.clock,
      sleep: time.sleep,
      ...(options.maxRunningJobs ? { maxRunningJobs: options.maxRunningJobs } : {}),
    });

  beforeEach(() => {
    sandbox = sinon.createSandbox();
    fake = new FakeBigQuery(sandbox);
    staging = new MemoryObjectStore('bqx-staging');
    output = new MemoryObjectStore('bqx-output');
    fake.stores.set('bqx-staging', staging);
    fake.stores.set('bqx-output', output);
    time = fakeTime();
    warehouse = make();
  });

  afterEach(() => sandbox.restore());

  describe('reads', () => {
    it('lists tables from one INFORMATION_SCHEMA query, grouped, with normalised types', async () => {
      fake.rows = () => [
        { table_name: 'agg_eurusd', column_name: 'interval_time', data_type: 'TIMESTAMP' },
        { table_name: 'agg_eurusd', column_name: 'bqx_45', data_type: 'FLOAT64' },
        { table_name: 'agg_eurusd', column_name: 'pair', data_type: 'STRING(6)' },
        { table_name: 'tri_agg_bqx_eur_usd_gbp', column_name: 'interval_time', data_type: 'TIMESTAMP' },
        { table_name: 'tri_agg_bqx_eur_usd_gbp', column_name: 'n', data_type: 'INTEGER' },
      ];
      const tables = await warehouse.listTables('bqx_ml_v3_features_v2');
      assert.deepEqual(tables, [
        { table: 'agg_eurusd', columns: [{ name: 'interval_time', type: 'TIMESTAMP' }, { name: 'bqx_45', type: 'FLOAT64' }, { name: 'pair', type: 'STRING' }] },
        { table: 'tri_agg_bqx_eur_usd_gbp', columns: [{ name: 'interval_time', type: 'TIMESTAMP' }, { name: 'n', type: 'INT64' }] },
      ]);
      sinon.assert.calledOnce(fake.createQueryJob);
      assert.deepEqual(fake.createQueryJob.firstCall.args[0], {
        query: renderListTables('bqx_ml_v3_features_v2').sql,
        params: { dataset: 'bqx_ml_v3_features_v2' },
        location: 'us-central1',
        maximumBytesBilled: BILLED,
        labels: { app: 'bqx', step: 'list_tables' },
        jobPrefix: 'bqx_list_tables_',
      });
      await assert.rejects(warehouse.listTables('x`.y'), InputError);
    });

    it('gives each table\'s data version from INFORMATION_SCHEMA.PARTITIONS, 1,000 tables per query, null where it has none', async () => {
      const tables = Array.from({ length: 1001 }, (_, i) => `t${i}`);
      fake.rows = (j) => ((j.options.params as { tables: string[] }).tables.includes('t0') ? [{ table_name: 't0', version: '2025-01-01T00:00:00.000000Z/1/1000' }, { table_name: 'other', version: 'x' }] : []);
      const versions = await warehouse.dataVersions('bqx_ml_v3_features_v2', tables);
      assert.equal(Object.keys(versions).length, 1001);
      assert.equal(versions.t0, '2025-01-01T00:00:00.000000Z/1/1000');
      assert.equal(versions.t1, null);
      assert.equal(versions.other, undefined, 'only the tables asked for');
      sinon.assert.calledTwice(fake.createQueryJob);
      const sql = [
        'SELECT `table_name`,',
        "  FORMAT('%s/%d/%d', FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', MAX(`last_modified_time`), 'UTC'),",
        "    COUNT(DISTINCT IFNULL(`partition_id`, '')), IFNULL(SUM(`total_rows`), 0)) AS `version`",
        'FROM `bqx_ml_v3_features_v2`.INFORMATION_SCHEMA.PARTITIONS',
        'WHERE `table_name` IN UNNEST(@tables)',
        'GROUP BY `table_name`',
      ].join('\n');
      assert.equal(renderDataVersions('bqx_ml_v3_features_v2', tables)[0]!.sql, sql);
      assert.equal((new NodeSqlParser.Parser().astify(sql, { database: 'BigQuery' }) as { type: string }).type, 'select', 'valid BigQuery SQL');
      assert.deepEqual(fake.createQueryJob.firstCall.args[0], {
        query: sql,
        params: { tables: tables.slice(0, 1000) },
        location: 'us-central1',
        maximumBytesBilled: BILLED,
        labels: { app: 'bqx', step: 'data_versions' },
        jobPrefix: 'bqx_data_versions_',
      });
      assert.deepEqual(fake.createQueryJob.secondCall.args[0].params, { tables: ['t1000'] });
      await assert.rejects(warehouse.dataVersions('bqx_ml_v3_features_v2', ['a`b']), InputError);
    });

    it('gives label rows and key range in the window, or nulls for an empty one', async () => {
      fake.rows = () => [{ row_count: 1000, min_key: '2024-01-01T00:00:00.000Z', max_key: '2024-01-01T16:39:00.000Z' }];
      assert.deepEqual(await warehouse.labelStats('bqx_ml_v3_analytics_v2', 'targets_eurusd', WINDOW), {
        rows: 1000,
        minKey: '2024-01-01T00:00:00.000Z',
        maxKey: '2024-01-01T16:39:00.000Z',
      });
      const options = fake.createQueryJob.firstCall.args[0];
      assert.equal(options.query, renderLabelStats('bqx_ml_v3_analytics_v2', 'targets_eurusd', WINDOW).sql);
      assert.deepEqual(options.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
      fake.rows = () => [{ row_count: 0, min_key: null, max_key: null }];
      assert.deepEqual(await warehouse.labelStats('bqx_ml_v3_analytics_v2', 'targets_eurusd'), { rows: 0, minKey: null, maxKey: null });
    });
  });

  describe('extract', () => {
    const job: ExtractJob = {
      runId: RUN,
      pair: 'eurusd',
      feature: 'agg_eurusd',
      dataset: 'bqx_ml_v3_features_v2',
      columns: ['bqx_45', 'bqx_90'],
      window: WINDOW,
      prefix: `runs/${RUN}/features/agg_eurusd/`,
      shards: shardGrid(WINDOW, 'month'),
    };
    const source = { dataset: job.dataset, table: job.feature, columns: job.columns, window: WINDOW };
    const exportSql = renderExtract(source, `gs://bqx-staging/${job.prefix}${ATTEMPT_DIR}/part-*.parquet`).sql;
    const countSql = renderExtractCounts(source).sql;
    const params = { start: new Date(WINDOW.start), end: new Date(WINDOW.end) };
    const exportId = jobIdFor(CTX, { key: 'extract_agg_eurusd', step: 'extract', sql: exportSql, params });
    const countId = jobIdFor(CTX, { key: 'extract_counts_agg_eurusd', step: 'extract_counts', sql: countSql, params, salt: exportId });
    /** Where an attempt of the export writes: its own folder, named after its job id. */
    const dirOf = (jobId: string) => `${job.prefix}${attemptDir(jobId)}/`;
    const partsOf = (jobId: string, n = 3) => Array.from({ length: n }, (_, i) => `${dirOf(jobId)}part-00000000000${i}.parquet`);

    beforeEach(() => {
      fake.rows = (j) => (j.options.labels?.step === 'extract_counts' ? [{ source_rows: 1003, key_count: 1000 }] : []);
      fake.exportFiles = () => [KEYS.slice(0, 400), KEYS.slice(400, 800), KEYS.slice(800)];
    });

    it('exports the deduplicated window to a wildcard and returns the files in key order with the duplicates', async () => {
      const result = await warehouse.extract(job);
      assert.deepEqual(result, {
        state: 'done',
        files: partsOf(exportId),
        rows: 1000,
        sourceRows: 1003,
        // The export's and the count's billed bytes, as the jobs report them (the fake bills 10 MiB a query).
        bytesBilled: 2 * 10 * 2 ** 20,
        duplicates: 3,
      });
      const labels = { app: 'bqx', run_id: RUN, pair: 'eurusd', feature: 'agg_eurusd' };
      assert.deepEqual(fake.created(), [
        { query: jobSql(exportSql, exportId), params, location: 'us-central1', maximumBytesBilled: BILLED, labels: { ...labels, step: 'extract' }, jobId: exportId },
        { query: countSql, params, location: 'us-central1', maximumBytesBilled: BILLED, labels: { ...labels, step: 'extract_counts' }, jobId: countId },
      ]);
      assert.match(exportId, /^bqx_eurusd-20250101t000000-abc123_extract_agg_eurusd_[0-9a-f]{12}$/);
      assert.match(exportId, /_([0-9a-f]{12})$/);
      assert.ok(
        fake.created()[0]!.query!.includes(`uri='gs://bqx-staging/runs/eurusd-20250101t000000-abc123/features/agg_eurusd/attempt-${exportId.slice(-12)}/part-*.parquet'`),
      );
    });

    it('derives the same job ids from the same input, and other ids from another window', () => {
      assert.equal(jobIdFor(CTX, { key: 'extract_agg_eurusd', step: 'extract', sql: exportSql, params }), exportId);
      const other = renderExtract({ ...source, window: { ...WINDOW, end: '2024-01-02T00:00:00.000Z' } }, `gs://bqx-staging/${job.prefix}${ATTEMPT_DIR}/part-*.parquet`);
      assert.notEqual(jobIdFor(CTX, { key: 'extract_agg_eurusd', step: 'extract', sql: other.sql, params: other.params! }), exportId);
      assert.match(jobIdFor(CTX, { key: 'x', step: 'x', sql: 's' }, 2), /_r2$/);
    });

    it('attaches to the jobs of an earlier delivery instead of starting new ones', async () => {
      const first = await warehouse.extract(job);
      const calls = fake.createQueryJob.callCount;
      const again = await make().extract(job);
      assert.deepEqual(again, first);
      assert.equal(fake.createQueryJob.callCount, calls, 'no job was inserted for the retry');
      assert.equal(fake.jobs.size, 2);
    });

    it('attaches on 409 when two deliveries insert the same job at once', async () => {
      const [a, b] = await Promise.all([warehouse.extract(job), make().extract(job)]);
      assert.deepEqual(a, b);
      assert.equal(a.state, 'done');
      assert.equal(fake.jobs.size, 2, 'one export and one count job in all');
      assert.equal(fake.conflicts, 2, 'the second delivery got 409 for both and attached');
    });

    it('returns pending at jobWaitSeconds, never sleeping past it, and finishes on a later call', async () => {
      fake.pollsToFinish = Infinity;
      const result = await warehouse.extract(job);
      assert.equal(result.state, 'pending');
      assert.match((result as { detail: string }).detail, /extract of agg_eurusd .* 0 of 2 jobs done/);
      assert.equal(time.elapsed(), 60_000, 'waited the whole budget and not a millisecond more');
      assert.ok(time.slept.every((ms) => ms > 0));
      fake.release();
      const later = await warehouse.extract(job);
      assert.equal(later.state, 'done');
      assert.equal(fake.created().length, 2, 'the later call attached to the running jobs');
    });

    it('retries a temporary failure under the next attempt id, and fails for good on a bad query', async () => {
      fake.failWith.set(exportId, { reason: 'backendError', message: 'try again' });
      const result = await warehouse.extract(job);
      assert.deepEqual(result, { state: 'done', files: partsOf(`${exportId}_r2`), rows: 1000, sourceRows: 1003, duplicates: 3, bytesBilled: 2 * 10 * 2 ** 20 });
      assert.deepEqual(
        fake.created().map((o) => o.jobId),
        [exportId, countId, `${exportId}_r2`],
      );

      fake.jobs.clear();
      fake.failWith.clear();
      fake.failWith.set(exportId, { reason: 'invalidQuery', message: 'Unrecognized name: bqx_45' });
      await assert.rejects(warehouse.extract(job), (e: unknown) => e instanceof BigQueryJobError && /invalidQuery.*Unrecognized name/.test(e.message) && !e.retryable);
    });

    it('reads the table as the run froze it, where the job says so; a snapshot BigQuery no longer keeps fails as a changed table, for good', async () => {
      const asOf = { at: '2025-01-01T00:00:05.000Z', version: '2025-01-01T00:00:01.000000Z/1/1003', range: WINDOW };
      await warehouse.extract({ ...job, asOf });
      const frozen = { ...source, asOf: asOf.at };
      assert.deepEqual(fake.created().map((o) => o.query), [
        jobSql(renderExtract(frozen, `gs://bqx-staging/${job.prefix}${ATTEMPT_DIR}/part-*.parquet`).sql, fake.created()[0]!.jobId!),
        renderExtractCounts(frozen).sql,
      ]);
      assert.ok(fake.created().every((o) => o.query!.includes("FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-01 00:00:05.000+00'")));
      assert.notEqual(fake.created()[0]!.jobId, exportId, 'another statement, another job');

      fake.jobs.clear();
      const message = 'Invalid snapshot time 1735689605000 for table p:bqx_ml_v3_features_v2.agg_eurusd@1735689605000. Cannot read before 1736000000000';
      fake.failWith.set(fake.created()[0]!.jobId!, { reason: 'invalid', message });
      await assert.rejects(warehouse.extract({ ...job, asOf }), (e: unknown) =>
        e instanceof TableChangedError && e.table === 'bqx_ml_v3_features_v2.agg_eurusd' && e.message.includes('can no longer be read as it was at 2025-01-01T00:00:05.000Z') && e.message.includes(message));
    });

    it('exports again under the next attempt id when a rerun deleted the files, and counts again', async () => {
      await warehouse.extract(job);
      assert.equal(await staging.deletePrefix(job.prefix), 3);
      const rerunCountId = jobIdFor(CTX, { key: 'extract_counts_agg_eurusd', step: 'extract_counts', sql: countSql, params, salt: `${exportId}_r2` });
      fake.rows = (j) => (j.options.labels?.step === 'extract_counts' ? [{ source_rows: 1000, key_count: 1000 }] : []);
      const again = await warehouse.extract(job);
      assert.deepEqual(again, { state: 'done', files: partsOf(`${exportId}_r2`), rows: 1000, sourceRows: 1000, duplicates: 0, bytesBilled: 2 * 10 * 2 ** 20 });
      assert.deepEqual(
        fake.created().map((o) => o.jobId),
        [exportId, countId, `${exportId}_r2`, rerunCountId],
      );
      const third = await warehouse.extract(job);
      assert.deepEqual(third, again, 'a redelivery after the rerun attaches to the rerun');
      assert.equal(fake.created().length, 4);
    });

    it('refuses stale files the export did not write', async () => {
      await staging.write(`${dirOf(exportId)}part-000000000009.parquet`, 'left over');
      await assert.rejects(warehouse.extract(job), /wrote 3 files, 4 are in the bucket/);
    });

    it('never mixes the files of two attempts: a retry writes into its own folder, past the extra parts attempt 1 left', async () => {
      // Attempt 1 wrote 4 parts, then failed for a temporary reason; its parts stay behind.
      fake.failWith.set(exportId, { reason: 'backendError', message: 'try again', afterWriting: true });
      fake.exportFiles = (j) => (j.id === exportId ? [KEYS.slice(0, 250), KEYS.slice(250, 500), KEYS.slice(500, 750), KEYS.slice(750)] : [KEYS.slice(0, 500), KEYS.slice(500)]);
      const result = await warehouse.extract(job);
      assert.deepEqual(result, { state: 'done', files: partsOf(`${exportId}_r2`, 2), rows: 1000, sourceRows: 1003, duplicates: 3, bytesBilled: 2 * 10 * 2 ** 20 });
      assert.deepEqual(
        [...staging.objects.keys()].filter((n) => n.endsWith('.parquet')).sort(),
        partsOf(`${exportId}_r2`, 2),
        "attempt 1's four parts were deleted once attempt 2 succeeded",
      );
    });

    it('refuses names that are not plain identifiers before starting any job', async () => {
      await assert.rejects(warehouse.extract({ ...job, feature: 'agg`; DROP TABLE x; --' }), InputError);
      await assert.rejects(warehouse.extract({ ...job, columns: ['bqx 45'] }), InputError);
      await assert.rejects(warehouse.extract({ ...job, runId: '../x' }), InputError);
      sinon.assert.notCalled(fake.createQueryJob);
    });
  });

  describe('merge', () => {
    const manifest = manifestOf({ runId: RUN, pair: 'eurusd', widths: [100, 100, 100, 50, 10], window: WINDOW });
    const plan = planMerge(manifest, { maxGroupColumns: 300, groupColumns: 300, joinBatchTables: 2 });
    const features = manifest.features.map((f) => f.feature);
    const checkpoints = Object.fromEntries(
      features.slice(0, 4).map((f) => [f, [0, 1].map((i) => `runs/${RUN}/features/${f}/part-00000000000${i}.parquet`)]),
    );
    const job: MergeJob = { runId: RUN, pair: 'eurusd', window: WINDOW, manifest, plan, checkpoints, outputPrefix: `training/eurusd/${RUN}/`, shards: shardGrid(WINDOW, 'month') };
    const area = 'bqx_eurusd_20250101t000000_abc123';

    const salt = async () => {
      const state = await mergeState(job, staging, output);
      return `${state.fp}-${state.epoch}`;
    };

    beforeEach(async () => {
      fake.exportFiles = () => [KEYS.slice(0, 600), KEYS.slice(600)];
      for (const names of Object.values(checkpoints)) for (const name of names) await staging.write(name, 'parquet bytes');
      await staging.write(`runs/${RUN}/features/${features[4]}/part-000000000000.parquet`, 'parquet bytes');
      await staging.write(`runs/${RUN}/features/${features[4]}/_SUCCESS.json`, '{}');
    });

    it('plans two groups: 3 batches of at most 2 tables', () => {
      assert.deepEqual(
        plan.groups.map((g) => g.batches.map((b) => b.length)),
        [[2], [2, 1]],
      );
    });

    it('loads, dry-runs, joins and exports in that order, then drops only its own scratch tables', async () => {
      fake.tables.add('bqx_scratch.bqx_eurusd_20250101t000000_zzzzzz__keys');
      const progress: MergeProgress[] = [];
      const result = await warehouse.merge(job, (p) => progress.push(p));
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;

      const exportIds = new Map(fake.created().filter((o) => o.labels!.step === 'export').map((o) => [o.query!.includes('group-001/') ? 1 : 0, o.jobId!]));
      const groupDir = (g: number) => `training/eurusd/${RUN}/shard-20240101/group-00${g}/${attemptDir(exportIds.get(g)!)}/`;
      const sizes = (dir: string) => [0, 1].map((i) => output.objects.get(`${dir}part-00000000000${i}.parquet`)!.byteLength);
      assert.deepEqual(
        result.groups.map((g) => ({ ...g })),
        plan.groups.map((g) => {
          const dir = groupDir(g.index);
          return {
            index: g.index,
            files: [0, 1].map((i) => `${dir}part-00000000000${i}.parquet`),
            rows: 1000,
            columns: g.columns,
            bytes: sizes(dir).reduce((a, b) => a + b, 0),
            distinctKeys: 1000,
            keysInOrder: true,
          };
        }),
      );
      assert.equal(result.rows, 1000);
      assert.equal(result.groups[0]!.columns.length, 1 + 49 + 200);
      assert.equal(result.groups[1]!.columns.length, 1 + 160);
      assert.equal(result.bytesProcessed, 3 * 2 ** 30);
      assert.equal(result.costUsd, estimateCost(3 * 2 ** 30, 6.25));
      assert.equal(result.costUsd, 0.0183);

      // Order: keys and loads, then (dry runs), then batches, then exports.
      const jobs = fake.created();
      assert.deepEqual(
        jobs.map((o) => o.labels!.step),
        ['keys', 'load', 'load', 'load', 'load', 'load', 'batch', 'batch', 'batch', 'export', 'export'],
      );
      const calls = fake.createQueryJob.getCalls().map((c) => c.args[0]);
      const dry = calls.map((o, i) => (o.dryRun ? i : -1)).filter((i) => i >= 0);
      const firstBatch = calls.findIndex((o) => o.labels?.step === 'batch');
      const lastLoad = calls.map((o) => o.labels?.step).lastIndexOf('load');
      assert.equal(dry.length, 3);
      assert.ok(dry.every((i) => i > lastLoad && i < firstBatch), 'dry runs come after the loads and before the joins');
      for (const o of calls.filter((c) => c.dryRun)) assert.equal(o.maximumBytesBilled, BILLED);

      for (const o of jobs) {
        assert.equal(o.location, 'us-central1');
        assert.equal(o.maximumBytesBilled, BILLED);
        assert.deepEqual({ app: o.labels!.app, run_id: o.labels!.run_id, pair: o.labels!.pair }, { app: 'bqx', run_id: RUN, pair: 'eurusd' });
        assert.match(o.jobId!, new RegExp(`^bqx_${RUN}_(keys|load_[a-z0-9_]+|batch_g00\\d_b00\\d|export_s20240101_g00\\d)_[0-9a-f]{12}$`));
        if (/^(LOAD DATA|CREATE)/.test(o.query!)) {
          // CREATE TABLE sets its own expiration; LOAD DATA carries no OPTIONS and relies on the scratch dataset's default.
          if (o.query!.startsWith('CREATE')) assert.ok(o.query!.includes(EXPIRES), `${o.jobId} creates a table that expires by itself`);
          else assert.ok(!o.query!.includes('OPTIONS('), `${o.jobId}: LOAD DATA without OPTIONS`);
          assert.ok(o.query!.includes(`\`bqx_scratch\`.\`${area}__`), `${o.jobId} writes in the run's own scratch area`);
        }
      }
      const loads = jobs.filter((o) => o.labels!.step === 'load').map((o) => o.query!);
      assert.ok(loads[0]!.endsWith(`uris=['gs://bqx-staging/${checkpoints[features[0]!]![0]}', 'gs://bqx-staging/${checkpoints[features[0]!]![1]}'])`));
      assert.ok(loads[4]!.endsWith(`uris=['gs://bqx-staging/runs/${RUN}/features/${features[4]}/part-*.parquet'])`), 'a feature without listed files loads its wildcard');
      const exports = jobs.filter((o) => o.labels!.step === 'export').map((o) => o.query!);
      assert.ok(exports[1]!.startsWith(`EXPORT DATA OPTIONS(uri='gs://bqx-output/${groupDir(1)}part-*.parquet', format='PARQUET', compression='ZSTD', overwrite=true) AS\n`));
      assert.ok(exports.every((q) => q.endsWith('WHERE `k`.`interval_time` >= @start AND `k`.`interval_time` < @end\nORDER BY `k`.`interval_time`')));
      assert.ok(jobs.filter((o) => o.labels!.step === 'export').every((o) => JSON.stringify(o.params) === JSON.stringify({ start: new Date(WINDOW.start), end: new Date(WINDOW.end) })), 'the one shard is the whole window here');
      assert.deepEqual(result.shards.map((x) => ({ id: x.id, rows: x.rows, keysInRange: x.keysInRange, files: x.groups.map((g) => g.files.length) })), [{ id: '20240101', rows: 1000, keysInRange: true, files: [2, 2] }]);

      assert.deepEqual([...fake.tables], ['bqx_scratch.bqx_eurusd_20250101t000000_zzzzzz__keys'], "another run's table is left alone");
      assert.equal(fake.deleted.length, 1 + 5 + 3);
      const estimate = [...staging.objects.keys()].filter((n) => n.startsWith(`runs/${RUN}/merge/estimate-`));
      assert.equal(estimate.length, 1);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(staging.objects.get(estimate[0]!)!)), {
        bytesProcessed: 3 * 2 ** 30,
        costUsd: 0.0183,
        statements: 3,
      });
      // What its jobs billed, as BigQuery reports it (the fake bills 10 MiB a query): every job of the merge, once.
      assert.equal(result.bytesBilled, jobs.length * 10 * 2 ** 20);
      assert.deepEqual([...new Set(progress.map((p) => p.step))], ['load', 'join', 'export']);
      assert.deepEqual(progress.at(-1), { step: 'export', done: 2, total: 2 });
      assert.ok(output.rangeReads.length > 0 && output.rangeReads.every((r) => r.end - r.start < output.objects.get(r.name)!.byteLength + 1));
    });

    it('returns pending within the budget and resumes call after call without starting a job twice', async () => {
      fake.pollsToFinish = 8;
      const budgeted = make({ jobWaitSeconds: 10, maxRunningJobs: 2 });
      const results = [];
      for (let call = 0; call < 20; call++) {
        const before = time.elapsed();
        const result = await budgeted.merge(job);
        assert.ok(time.elapsed() - before <= 10_000, `call ${call} kept to the budget`);
        results.push(result.state);
        if (result.state === 'done') {
          assert.deepEqual(
            result.groups.map((g) => [g.rows, g.keysInOrder]),
            [
              [1000, true],
              [1000, true],
            ],
          );
          break;
        }
        assert.match(result.detail, /step (load|join|export), \d+ of \d+ jobs done/);
      }
      assert.equal(results.at(-1), 'done');
      assert.ok(results.length > 3, `took ${results.length} calls`);
      const ids = fake.created().map((o) => o.jobId);
      assert.equal(ids.length, 11);
      assert.equal(new Set(ids).size, 11, 'no job started twice');
      assert.equal(fake.conflicts, 0);
      assert.ok(fake.maxRunning <= 2, `at most 2 jobs ran at once (saw ${fake.maxRunning})`);
      assert.equal(fake.dryRuns.length, 3, 'the estimate was made once and kept');
    });

    it('retries a join that failed for a temporary reason; fails the merge when an export fails for good', async () => {
      const steps = mergeSteps(job, config, staging, output);
      const batch = steps.batches[1]!;
      const batchId = jobIdFor(CTX, { ...batch, salt: await salt() });
      fake.failWith.set(batchId, { reason: 'internalError', message: 'retry' });
      const result = await warehouse.merge(job);
      assert.equal(result.state, 'done');
      assert.ok(fake.created().some((o) => o.jobId === `${batchId}_r2`));

      fake.jobs.clear();
      fake.failWith.clear();
      fake.tables.clear();
      await staging.deletePrefix(`runs/${RUN}/merge/`);
      fake.failWith.set(jobIdFor(CTX, { ...steps.exports[0]!, salt: await salt() }), { reason: 'responseTooLarge', message: 'too large' });
      await assert.rejects(warehouse.merge(job), (e: unknown) => e instanceof BigQueryJobError && e.reason === 'responseTooLarge');
    });

    it('returns a finished merge as it is on a later call, without looking at a job', async () => {
      const first = await warehouse.merge(job);
      const inserts = fake.createQueryJob.callCount;
      const lookups = fake.job.callCount;
      assert.deepEqual(await make().merge(job), first);
      assert.equal(fake.createQueryJob.callCount, inserts);
      assert.equal(fake.job.callCount, lookups);
    });

    it('merges afresh under new job ids when a checkpoint was rewritten (a rerun of a feature)', async () => {
      await warehouse.merge(job);
      const before = new Set(fake.created().map((o) => o.jobId));
      await staging.write(checkpoints[features[2]!]![0]!, 'new parquet bytes');
      const again = await warehouse.merge(job);
      assert.equal(again.state, 'done');
      const rerun = fake.created().slice(before.size);
      assert.equal(rerun.length, 11, 'every step ran again');
      assert.ok(rerun.every((o) => !before.has(o.jobId)));
      assert.equal(fake.conflicts, 0);
      assert.equal(fake.dryRuns.length, 6, 'and was estimated again');
    });

    it('merges again under the next epoch when the output files of a finished merge are gone', async () => {
      const first = await warehouse.merge(job);
      await output.deletePrefix(job.outputPrefix);
      const again = await warehouse.merge(job);
      const withoutFiles = (r: typeof first) => (r.state === 'done' ? r.groups.map(({ files, ...g }) => ({ ...g, files: files.length })) : r);
      assert.deepEqual(withoutFiles(again), withoutFiles(first));
      assert.ok(again.state === 'done' && first.state === 'done' && again.groups[0]!.files[0] !== first.groups[0]!.files[0], 'in the new attempts\' own folders');
      assert.equal(fake.created().length, 22);
      assert.equal(new Set(fake.created().map((o) => o.jobId)).size, 22);
      assert.equal((await output.list(job.outputPrefix)).length, 4);
    });

    it('a retried group export keeps to its own folder: the result lists only its files, attempt 1\'s extra parts are deleted', async () => {
      const steps = mergeSteps(job, config, staging, output);
      const firstId = jobIdFor(CTX, { ...steps.exports[1]!, salt: await salt() });
      fake.failWith.set(firstId, { reason: 'backendError', message: 'try again', afterWriting: true });
      fake.exportFiles = (j) => (j.id === firstId ? [KEYS.slice(0, 300), KEYS.slice(300, 600), KEYS.slice(600)] : [KEYS.slice(0, 600), KEYS.slice(600)]);
      const result = await warehouse.merge(job);
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;
      const retryDir = `training/eurusd/${RUN}/shard-20240101/group-001/${attemptDir(`${firstId}_r2`)}/`;
      assert.deepEqual(result.groups[1]!.files, [0, 1].map((i) => `${retryDir}part-00000000000${i}.parquet`));
      assert.equal(result.groups[1]!.rows, 1000);
      assert.deepEqual([...output.objects.keys()].filter((n) => n.includes('/group-001/')).sort(), result.groups[1]!.files);
    });

    it('takes the rows from the exported files when an export job reports no row count', async () => {
      fake.reportRowCount = false;
      const result = await warehouse.merge(job);
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;
      assert.deepEqual(result.groups.map((g) => [g.rows, g.distinctKeys, g.files.length]), [[1000, 1000, 2], [1000, 1000, 2]]);
      assert.equal(result.rows, 1000);
      const stats = [...fake.jobs.values()].filter((j) => j.options.labels?.step === 'export').map((j) => j.statistics.exportDataStatistics);
      assert.deepEqual(stats, [{ fileCount: '2' }, { fileCount: '2' }], 'the jobs reported files but no rows');
    });

    it('refuses to merge when a listed checkpoint file is not in the bucket', async () => {
      await staging.deletePrefix(`runs/${RUN}/features/${features[1]}/`);
      await assert.rejects(warehouse.merge(job), /part-000000000000.parquet of .* is not in the staging bucket/);
      sinon.assert.notCalled(fake.createQueryJob);
    });

    it('reports keys out of order and duplicate keys as the files hold them', async () => {
      fake.exportFiles = (_job, prefix) =>
        prefix.includes('group-001/')
          ? [KEYS.slice(600), KEYS.slice(0, 600)]
          : [KEYS.slice(0, 600), [KEYS[599]!, ...KEYS.slice(601)]];
      const result = await warehouse.merge(job);
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;
      assert.deepEqual(
        result.groups.map((g) => ({ rows: g.rows, distinctKeys: g.distinctKeys, keysInOrder: g.keysInOrder })),
        [
          { rows: 1000, distinctKeys: 999, keysInOrder: false },
          { rows: 1000, distinctKeys: 1000, keysInOrder: false },
        ],
      );
    });

    it('exports each (shard, group) with the shard\'s range, checks each shard, and leaves out a shard without rows', async () => {
      // Three month shards; the label keys sit in January and March only.
      const window = { start: '2024-01-31T23:00:00.000Z', end: '2024-03-01T01:00:00.000Z' };
      const jan = minuteKeys('2024-01-31T23:00:00.000Z', 60);
      const mar = minuteKeys('2024-03-01T00:00:00.000Z', 60);
      const shards = shardGrid(window, 'month');
      assert.deepEqual(shards.map((x) => x.id), ['20240101', '20240201', '20240301']);
      fake.exportFiles = (j) => {
        const { start, end } = j.options.params as { start: Date; end: Date };
        const inRange = [...jan, ...mar].filter((k) => k >= start.getTime() * 1000 && k < end.getTime() * 1000);
        return inRange.length === 0 ? [] : [inRange.slice(0, 30), inRange.slice(30)];
      };
      const result = await warehouse.merge({ ...job, window, manifest: { ...manifest, window }, shards });
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;
      const exports = fake.created().filter((o) => o.labels!.step === 'export');
      assert.equal(exports.length, 3 * 2, 'one export per shard and group');
      assert.deepEqual(
        exports.map((o) => [/shard-(\d+)\/group-(\d+)/.exec(o.query!)!.slice(1).join('/'), (o.params as { start: Date }).start.toISOString()]),
        [
          ['20240101/000', '2024-01-31T23:00:00.000Z'],
          ['20240101/001', '2024-01-31T23:00:00.000Z'],
          ['20240201/000', '2024-02-01T00:00:00.000Z'],
          ['20240201/001', '2024-02-01T00:00:00.000Z'],
          ['20240301/000', '2024-03-01T00:00:00.000Z'],
          ['20240301/001', '2024-03-01T00:00:00.000Z'],
        ],
      );
      assert.deepEqual(
        result.shards.map((x) => ({ index: x.index, id: x.id, rows: x.rows, keysInRange: x.keysInRange, inOrder: x.groups.map((g) => g.keysInOrder) })),
        [
          { index: 0, id: '20240101', rows: 60, keysInRange: true, inOrder: [true, true] },
          { index: 1, id: '20240301', rows: 60, keysInRange: true, inOrder: [true, true] },
        ],
      );
      assert.equal(result.rows, 120);
      assert.deepEqual(result.groups[1]!.files, [...result.shards[0]!.groups[1]!.files, ...result.shards[1]!.groups[1]!.files]);
      assert.ok(result.groups.every((g) => g.rows === 120 && g.distinctKeys === 120 && g.keysInOrder));
    });

    it('exports a grown shard\'s part over its own range, from the earlier end, into this run\'s shard folder (shareShards.ts grownShard)', async () => {
      // A refresh's last January shard grew: the earlier version holds it up to 23:30; this part is [23:30, 2024-02-01).
      const window = { start: '2024-01-31T23:30:00.000Z', end: '2024-02-01T00:30:00.000Z' };
      const keys = minuteKeys('2024-01-31T23:30:00.000Z', 60);
      const shards = shardGrid({ start: '2024-01-31T00:00:00.000Z', end: window.end }, 'month').map((x) => (x.id === '20240101' ? { ...x, start: window.start } : x));
      assert.deepEqual(shards.map((x) => [x.id, x.start, x.end]), [['20240101', '2024-01-31T23:30:00.000Z', '2024-02-01T00:00:00.000Z'], ['20240201', '2024-02-01T00:00:00.000Z', '2024-02-01T00:30:00.000Z']]);
      fake.exportFiles = (j) => {
        const { start, end } = j.options.params as { start: Date; end: Date };
        const inRange = keys.filter((k) => k >= start.getTime() * 1000 && k < end.getTime() * 1000);
        return inRange.length === 0 ? [] : [inRange];
      };
      const result = await warehouse.merge({ ...job, window, manifest: { ...manifest, window }, shards });
      assert.equal(result.state, 'done');
      if (result.state !== 'done') return;
      const exports = fake.created().filter((o) => o.labels!.step === 'export');
      assert.deepEqual(
        exports.map((o) => [/shard-(\d+)\/group-(\d+)/.exec(o.query!)!.slice(1).join('/'), (o.params as { start: Date }).start.toISOString(), (o.params as { end: Date }).end.toISOString()]),
        [
          ['20240101/000', '2024-01-31T23:30:00.000Z', '2024-02-01T00:00:00.000Z'],
          ['20240101/001', '2024-01-31T23:30:00.000Z', '2024-02-01T00:00:00.000Z'],
          ['20240201/000', '2024-02-01T00:00:00.000Z', '2024-02-01T00:30:00.000Z'],
          ['20240201/001', '2024-02-01T00:00:00.000Z', '2024-02-01T00:30:00.000Z'],
        ],
      );
      assert.ok(exports.every((o) => o.query!.includes(`training/eurusd/${RUN}/shard-`)), 'under this run\'s output folder, apart from the earlier part');
      assert.deepEqual(result.shards.map((x) => [x.id, x.start, x.rows, x.keysInRange]), [['20240101', '2024-01-31T23:30:00.000Z', 30, true], ['20240201', '2024-02-01T00:00:00.000Z', 30, true]]);
    });

    it('loads a checkpoint reused from an earlier run from that run\'s files, and fingerprints them', async () => {
      const EARLIER = 'eurusd-20241231t000000-zzz999';
      const reused = [0, 1].map((i) => `runs/${EARLIER}/features/${features[0]}/part-00000000000${i}.parquet`);
      for (const name of reused) await staging.write(name, 'parquet bytes');
      const reusing = { ...job, checkpoints: { ...checkpoints, [features[0]!]: reused } };
      const before = (await mergeState(job, staging, output)).fp;
      assert.notEqual((await mergeState(reusing, staging, output)).fp, before, 'other files, another fingerprint');
      const result = await warehouse.merge(reusing);
      assert.equal(result.state, 'done');
      const load = fake.created().find((o) => o.labels?.feature === features[0] && o.labels?.step === 'load')!;
      for (const name of reused) assert.ok(load.query!.includes(`'gs://bqx-staging/${name}'`), load.query);
      await staging.deletePrefix(`runs/${EARLIER}/`);
      await assert.rejects(mergeState(reusing, staging, output), new RegExp(`${EARLIER}.* is not in the staging bucket`));
    });

    it('refuses a group wider than BigQuery allows before starting any job', async () => {
      const wide = manifestOf({ runId: RUN, pair: 'eurusd', widths: Array(50).fill(200), window: WINDOW });
      const widePlan = planMerge(wide, { maxGroupColumns: 20000, groupColumns: 20000, joinBatchTables: 50 });
      await assert.rejects(warehouse.merge({ ...job, manifest: wide, plan: widePlan, checkpoints: {} }), /columns; the limit is 10000/);
      sinon.assert.notCalled(fake.createQueryJob);
    });
  });
});
