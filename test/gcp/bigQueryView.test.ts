// The feature view on BigQuery: the exact statements (the export's query parsed with
// node-sql-parser's BigQuery dialect), and the warehouse's `view` against the sinon-stubbed client:
// only the source groups the view needs are loaded into expiring scratch tables, one EXPORT DATA
// per (shard, view group) over the shard's key range into its attempt folder, files listed back.

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { BigQueryWarehouse } from '../../shared/adapters/gcp/bigQueryWarehouse.js';
import { renderViewExport } from '../../shared/adapters/gcp/bigQueryViewSql.js';
import type { ViewJob } from '../../shared/ports.js';
import { FakeBigQuery, fakeTime, minuteKeys, type FakeJob } from './fakeBigQuery.js';
import { MemoryObjectStore } from './memoryStore.js';
import { Analyzer, zetaType, type ZetaColumn } from '../helpers/zetasql.js';

const parser = new NodeSqlParser.Parser();
const RUN = 'eurusd-20250101t000000-abc123';
const AREA = 'bqx_eurusd_20250101t000000_abc123';
const config = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output' });

describe('gcp/view', () => {
  it('renders one (shard, view group) export exactly; its query parses as BigQuery SQL', () => {
    const r = renderViewExport({
      scratchDataset: 'bqx_scratch',
      sources: [
        { table: 't0', columns: ['target_bqx45_h15'] },
        { table: 't1', columns: ['agg_mean_45', 'agg_mean_90'] },
      ],
      uri: 'gs://bqx-output/training/eurusd/r/views/small/shard-20200101/group-000/__bqx_attempt__/part-*.parquet',
      shard: { start: '2020-01-01T00:00:00Z', end: '2020-02-01T00:00:00Z' },
    });
    assert.equal(
      r.sql,
      [
        "EXPORT DATA OPTIONS(uri='gs://bqx-output/training/eurusd/r/views/small/shard-20200101/group-000/__bqx_attempt__/part-*.parquet', format='PARQUET', compression='ZSTD', overwrite=true) AS",
        'SELECT `s0`.`interval_time`, `s0`.`target_bqx45_h15`, `s1`.`agg_mean_45`, `s1`.`agg_mean_90`',
        // Every source read through the shard's range: loaded partitioned by the key, only its partitions are billed.
        'FROM (SELECT * FROM `bqx_scratch`.`t0` WHERE `interval_time` >= @start AND `interval_time` < @end) AS `s0`',
        'JOIN (SELECT * FROM `bqx_scratch`.`t1` WHERE `interval_time` >= @start AND `interval_time` < @end) AS `s1` ON `s1`.`interval_time` = `s0`.`interval_time`',
        'WHERE `s0`.`interval_time` >= @start AND `s0`.`interval_time` < @end',
        'ORDER BY `s0`.`interval_time`',
      ].join('\n'),
    );
    assert.deepEqual(r.columns, ['interval_time', 'target_bqx45_h15', 'agg_mean_45', 'agg_mean_90']);
    assert.deepEqual(r.params, { start: new Date('2020-01-01T00:00:00Z'), end: new Date('2020-02-01T00:00:00Z') });
    assert.doesNotThrow(() => parser.astify(r.query!.replace(/@(\w+)/g, "'1'"), { database: 'bigquery' }), r.query);
    assert.throws(() => renderViewExport({ scratchDataset: 'bqx_scratch', sources: [{ table: 't0', columns: ['a;drop'] }], uri: 'gs://b/x/part-*.parquet', shard: { start: '2020-01-01', end: '2020-01-02' } }), /not a plain identifier/);
  });

  describe('the warehouse', () => {
    let sandbox: sinon.SinonSandbox;
    let fake: FakeBigQuery;
    let warehouse: BigQueryWarehouse;
    let output: MemoryObjectStore;
    beforeEach(() => {
      sandbox = sinon.createSandbox();
      fake = new FakeBigQuery(sandbox);
      output = new MemoryObjectStore('bqx-output');
      fake.stores.set('bqx-output', output);
      fake.pollsToFinish = 0;
      const time = fakeTime();
      warehouse = new BigQueryWarehouse({ bigquery: fake.client, config, staging: new MemoryObjectStore('bqx-staging'), output, clock: time.clock, sleep: time.sleep });
    });
    afterEach(() => sandbox.restore());

    const src = (shard: string, group: number) => `training/eurusd/${RUN}/shard-${shard}/group-00${group}/part-00000.parquet`;
    const job: ViewJob = {
      runId: RUN,
      pair: 'eurusd',
      name: 'small',
      key: 'interval_time',
      sourceGroups: [
        { index: 0, columns: ['interval_time', 'target_bqx45_h15', 'agg_mean_45'] },
        { index: 1, columns: ['interval_time', 'corr_etf_spy_mean_45'] },
        { index: 2, columns: ['interval_time', 'mom_mean_45', 'mom_mean_90'] },
      ],
      shards: ['20200101', '20200201'].map((id, i) => ({
        id,
        start: i === 0 ? '2020-01-01T00:00:00.000Z' : '2020-02-01T00:00:00.000Z',
        end: i === 0 ? '2020-02-01T00:00:00.000Z' : '2020-03-01T00:00:00.000Z',
        rows: 3,
        groups: [0, 1, 2].map((g) => ({ index: g, files: [src(id, g)] })),
      })),
      groups: [{ index: 0, columns: ['interval_time', 'target_bqx45_h15', 'agg_mean_45', 'mom_mean_90'] }],
      outputPrefix: `training/eurusd/${RUN}/views/small/`,
    };

    it('loads only the groups it needs, exports each shard once, and lists the files back', async () => {
      fake.exportFiles = (j: FakeJob) => [minuteKeys(((j.options.params as { start: Date }).start).toISOString(), 3)];
      const result = await warehouse.view(job);
      assert.equal(result.state, 'done');
      const created = fake.created();
      assert.deepEqual(created.map((o) => o.labels?.step), ['view_load', 'view_load', 'view_export', 'view_export']);
      assert.equal(
        created[0]!.query,
        `LOAD DATA OVERWRITE \`bqx_scratch\`.\`${AREA}__view_small_g000_m\`\nPARTITION BY TIMESTAMP_TRUNC(\`interval_time\`, MONTH)\nFROM FILES(format='PARQUET', uris=['gs://bqx-output/${src('20200101', 0)}', 'gs://bqx-output/${src('20200201', 0)}'])`,
      );
      assert.match(created[1]!.query!, new RegExp(`^LOAD DATA OVERWRITE \`bqx_scratch\`\\.\`${AREA}__view_small_g002_m\``));
      const exportSql = (shard: string) =>
        [
          `EXPORT DATA OPTIONS(uri='gs://bqx-output/training/eurusd/${RUN}/views/small/shard-${shard}/group-000/attempt-`,
        ].join('');
      assert.ok(created[2]!.query!.startsWith(exportSql('20200101')), created[2]!.query);
      assert.equal(
        created[2]!.query!.split('\n').slice(1).join('\n'),
        [
          'SELECT `s0`.`interval_time`, `s0`.`target_bqx45_h15`, `s0`.`agg_mean_45`, `s1`.`mom_mean_90`',
          `FROM (SELECT * FROM \`bqx_scratch\`.\`${AREA}__view_small_g000_m\` WHERE \`interval_time\` >= @start AND \`interval_time\` < @end) AS \`s0\``,
          `JOIN (SELECT * FROM \`bqx_scratch\`.\`${AREA}__view_small_g002_m\` WHERE \`interval_time\` >= @start AND \`interval_time\` < @end) AS \`s1\` ON \`s1\`.\`interval_time\` = \`s0\`.\`interval_time\``,
          'WHERE `s0`.`interval_time` >= @start AND `s0`.`interval_time` < @end',
          'ORDER BY `s0`.`interval_time`',
        ].join('\n'),
      );
      assert.deepEqual(created[3]!.params, { start: new Date('2020-02-01T00:00:00Z'), end: new Date('2020-03-01T00:00:00Z') });
      if (result.state !== 'done') return;
      assert.deepEqual(result.shards.map((s) => [s.id, s.rows, s.groups.map((g) => [g.index, g.rows, g.files.length])]), [
        ['20200101', 3, [[0, 3, 1]]],
        ['20200201', 3, [[0, 3, 1]]],
      ]);
      assert.match(result.shards[0]!.groups[0]!.files[0]!, new RegExp(`^training/eurusd/${RUN}/views/small/shard-20200101/group-000/attempt-[0-9a-f]{12}/part-000000000000\\.parquet$`));
    });

    it("passes Google's GoogleSQL analyzer (ZetaSQL): names, types, parameters and options resolved", async function () {
      this.timeout(60_000);
      const started = await Analyzer.start();
      if (typeof started === 'string') {
        console.log(`      SKIPPED: GoogleSQL analysis of the view's statements because ${started}`);
        this.skip();
      }
      const analyzer = started as Analyzer;
      try {
        fake.exportFiles = (j: FakeJob) => [minuteKeys(((j.options.params as { start: Date }).start).toISOString(), 3)];
        await warehouse.view(job);
        const t = zetaType;
        const tables = new Map<string, ZetaColumn[]>(
          job.sourceGroups.map((g) => [`bqx_scratch.${AREA}__view_small_g00${g.index}_m`, g.columns.map((c) => ({ name: c, type: t(c === 'interval_time' ? 'TIMESTAMP' : 'FLOAT64') }))]),
        );
        const created = fake.created();
        const errors: string[] = [];
        for (const o of created) {
          const load = o.labels?.step === 'view_load';
          const options: Record<string, ReturnType<typeof t>> = load ? { format: t('STRING'), uris: t('ARRAY<STRING>') } : { uri: t('STRING'), format: t('STRING'), compression: t('STRING'), overwrite: t('BOOL') };
          const r = await analyzer.analyze(o.query!, { tables }, load ? {} : { start: t('TIMESTAMP'), end: t('TIMESTAMP') }, options);
          if (!r.ok) errors.push(`${o.labels?.step}: ${r.error}`);
        }
        assert.equal(created.length, 4);
        assert.deepEqual(errors, []);
        // A seeded fault is caught: a column the source group does not have.
        const bad = await analyzer.analyze(created[2]!.query!.replace('`mom_mean_90`', '`mom_mean_91`'), { tables }, { start: t('TIMESTAMP'), end: t('TIMESTAMP') }, { uri: t('STRING'), format: t('STRING'), compression: t('STRING'), overwrite: t('BOOL') });
        assert.equal(bad.ok, false);
      } finally {
        analyzer.stop();
      }
    });

    it('refuses an export that wrote other rows than the shard holds', async () => {
      fake.exportFiles = () => [minuteKeys('2020-01-01T00:00:00Z', 2)];
      await assert.rejects(warehouse.view(job), /exported 2 rows, the shard has 3/);
    });
  });
});
