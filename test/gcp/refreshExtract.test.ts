// A refresh on the BigQuery path reads only the new range: extractFeature, given a feature whose
// old rows are unchanged (shared/chain/incremental.ts), sends an EXPORT DATA and a count whose
// @start/@end are the previous end and the new end, and its marker lists the earlier run's files
// before the new ones. And the data version of a range comes from the partitions that meet it.

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import type { ChainDeps } from '../../shared/chain/deps.js';
import type { RunManifest } from '../../shared/manifest.js';
import { paths } from '../../shared/naming.js';
import type { RunRecord } from '../../shared/ports.js';
import { silentLogger } from '../../shared/log.js';
import { BigQueryWarehouse } from '../../shared/adapters/gcp/bigQueryWarehouse.js';
import { renderDataVersions } from '../../shared/adapters/gcp/bigQueryVersions.js';
import { FakeBigQuery, fakeTime, minuteKeys } from './fakeBigQuery.js';
import { MemoryObjectStore } from './memoryStore.js';
import { MemoryRunStore } from '../sweep/memoryPorts.js';

const RUN = 'eurusd-20250102t000000-abc123';
const EARLIER = 'eurusd-20250101t000000-abc123';
const PREVIOUS = { start: '2024-01-01T00:00:00.000Z', end: '2024-01-02T00:00:00.000Z' };
const WINDOW = { start: PREVIOUS.start, end: '2024-01-03T00:00:00.000Z' };
const config = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output', BQX_SHARD: 'day' });

describe('gcp: a refresh extracts only the new range', () => {
  let sandbox: sinon.SinonSandbox;
  let fake: FakeBigQuery;
  let staging: MemoryObjectStore;
  let deps: ChainDeps;

  beforeEach(async () => {
    sandbox = sinon.createSandbox();
    fake = new FakeBigQuery(sandbox);
    staging = new MemoryObjectStore('bqx-staging');
    const output = new MemoryObjectStore('bqx-output');
    fake.stores.set('bqx-staging', staging);
    fake.stores.set('bqx-output', output);
    const time = fakeTime();
    const warehouse = new BigQueryWarehouse({ bigquery: fake.client, config, staging, output, clock: time.clock, sleep: time.sleep });
    const store = new MemoryRunStore();
    deps = { config, warehouse, staging, output, store, clock: time.clock, logger: silentLogger, bus: { publish: async () => '1', publishMany: async () => [] } };
  });
  afterEach(() => sandbox.restore());

  it('sends @start = the previous end, @end = the new end, and lists the earlier files first', async () => {
    const earlierFiles = [`runs/${EARLIER}/features/agg_eurusd/attempt-x/part-000000000000.parquet`];
    await staging.write(earlierFiles[0]!, 'parquet bytes');
    const manifest = {
      version: 1, runId: RUN, pair: 'eurusd', createdAt: WINDOW.start, key: 'interval_time', window: WINDOW, columnCount: 4,
      labels: { dataset: 'bqx_ml_v3_analytics_v2', table: 'targets_eurusd', columns: ['t'], rows: 2880 },
      features: [{
        feature: 'agg_eurusd', dataset: 'bqx_ml_v3_features_v2', dropped: ['pair'],
        columns: [{ source: 'bqx_45', output: 'agg_bqx_45', type: 'FLOAT64' }, { source: 'bqx_90', output: 'agg_bqx_90', type: 'FLOAT64' }],
        reason: 'new minutes only',
        incremental: { from: EARLIER, files: earlierFiles, rows: 1440, sourceRows: 1442, duplicates: 2, range: { start: PREVIOUS.end, end: WINDOW.end } },
      }],
    } satisfies RunManifest;
    await staging.write(paths.manifest(RUN), JSON.stringify(manifest));
    const run: RunRecord = {
      runId: RUN, pair: 'eurusd', state: 'extracting', createdAt: WINDOW.start, updatedAt: WINDOW.start, window: WINDOW, expected: 1, labelRows: 2880,
      manifestObject: paths.manifest(RUN), transitions: [], reconcileAttempts: 0, mergeAttempts: 0, warnings: [], timings: {},
    };
    await deps.store.createRun(run);
    fake.rows = (j) => (j.options.labels?.step === 'extract_counts' ? [{ source_rows: 1441, key_count: 1440 }] : []);
    fake.exportFiles = () => [minuteKeys(PREVIOUS.end, 1440)];

    assert.equal(await extractFeature(deps, { runId: RUN, pair: 'eurusd', feature: 'agg_eurusd' }), 'extracted');
    const created = fake.created();
    assert.equal(created.length, 2);
    for (const job of created) {
      assert.deepEqual(job.params, { start: new Date(PREVIOUS.end), end: new Date(WINDOW.end) }, `${job.labels?.step} reads only the new day`);
      assert.match(job.query!, /WHERE `interval_time` >= @start AND `interval_time` < @end/);
    }
    assert.match(created[0]!.query!, /^EXPORT DATA/);
    const marker = JSON.parse(Buffer.from(await staging.read(paths.marker(RUN, 'agg_eurusd'))).toString('utf8'));
    assert.deepEqual(marker.window, WINDOW, 'the checkpoint is the whole window\'s');
    assert.equal(marker.files[0], earlierFiles[0]);
    assert.equal(marker.files.length, 2);
    assert.match(marker.files[1], new RegExp(`^runs/${RUN}/features/agg_eurusd/attempt-[0-9a-f]{12}/part-`));
    assert.deepEqual({ rows: marker.rows, sourceRows: marker.sourceRows, duplicates: marker.duplicates, readRows: marker.readRows }, { rows: 2880, sourceRows: 2883, duplicates: 3, readRows: 1441 });
  });

  it('asks for the version of a range from the partitions on the key that meet it (others count whole)', async () => {
    fake.rows = () => [{ table_name: 'agg_eurusd', version: '2024-01-02T00:00:00.000000Z/1/1440' }];
    const versions = await deps.warehouse.dataVersions('bqx_ml_v3_features_v2', ['agg_eurusd', 'mkt_regime'], PREVIOUS);
    assert.deepEqual(versions, { agg_eurusd: '2024-01-02T00:00:00.000000Z/1/1440', mkt_regime: null });
    const job = fake.createQueryJob.firstCall.args[0] as { params: unknown; labels: unknown; query: string };
    assert.deepEqual(job!.params, { tables: ['agg_eurusd', 'mkt_regime'], start: new Date(PREVIOUS.start), end: new Date(PREVIOUS.end) });
    assert.deepEqual(job!.labels, { app: 'bqx', step: 'data_versions' });
    const sql = renderDataVersions('bqx_ml_v3_features_v2', ['agg_eurusd'], PREVIOUS)[0]!.sql;
    assert.equal(job!.query, sql);
    assert.match(sql, /WHERE `column_name` = 'interval_time' AND `is_partitioning_column` = 'YES'/, 'partitioned on the key');
    assert.match(sql, /WHERE NOT `by_key` OR `part_start` IS NULL OR \(`part_start` < @end AND `part_end` > @start\)/, 'partitions meeting the range, or all');
    assert.match(sql, /WHEN 8 THEN SAFE\.PARSE_TIMESTAMP\('%Y%m%d', p\.`partition_id`\)/);
    assert.equal((new NodeSqlParser.Parser().astify(sql, { database: 'BigQuery' }) as { type: string }).type, 'select', 'valid BigQuery SQL');
    // Without a range: the whole table's version, as before.
    assert.doesNotMatch(renderDataVersions('bqx_ml_v3_features_v2', ['agg_eurusd'])[0]!.sql, /@start/);
  });
});
