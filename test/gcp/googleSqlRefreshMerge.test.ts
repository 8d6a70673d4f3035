// The merge statements only a refresh that builds its partial shard whole sends (a label tail
// filled in): the previous version's export loaded partitioned by the key, and a batch reading it
// through the window's filter (bigQueryMergeSteps.ts `loadPartitions`). The full-width plans the
// plan suite analyzes build no such shard; here each is rendered by the adapter and analyzed by
// Google's GoogleSQL analyzer (ZetaSQL). A seeded fault must be caught. Without the analyzer
// (another platform), the suite says SKIPPED and is pending.

import assert from 'node:assert/strict';
import { renderBatch, renderLoad } from '../../shared/adapters/gcp/bigQuerySql.js';
import { Analyzer, zetaType, type ZetaColumn } from '../helpers/zetasql.js';

const t = (type: string) => zetaType(type);
const DATASET = 'bqx_scratch';
const target = (table: string) => ({ dataset: DATASET, table, ttlHours: 24 });
const keyed = (columns: string[]): ZetaColumn[] => [{ name: 'interval_time', type: t('TIMESTAMP') }, ...columns.map((name) => ({ name, type: t('FLOAT64') }))];
const TABLES = new Map([
  [`${DATASET}.keys`, keyed(['target_bqx45_h30'])],
  [`${DATASET}.ck_agg`, keyed(['agg_mean_45'])],
  [`${DATASET}.ck_der`, keyed(['der_mean_45'])],
]);
const WINDOW = { start: '2026-01-01T00:00:00.000Z', end: '2026-01-03T00:00:00.000Z' };
const LOAD_OPTIONS = { format: t('STRING'), uris: t('ARRAY<STRING>') };
const CREATE_OPTIONS = { expiration_timestamp: t('TIMESTAMP') };
const WINDOW_PARAMS = { start: t('TIMESTAMP'), end: t('TIMESTAMP') };

describe('gcp/GoogleSQL analysis of a whole-shard refresh\'s merge statements (ZetaSQL)', function () {
  this.timeout(120_000);
  let analyzer: Analyzer | undefined;

  before(async function () {
    analyzer = await Analyzer.forSuite(this, 'GoogleSQL analysis of a refresh\'s partitioned loads');
  });
  after(() => analyzer?.stop());

  const uris = ['gs://bqx-staging/runs/eurusd-20260101t000000-prev01/features/agg/attempt-000000000000/part-000000000000.parquet', 'gs://bqx-staging/runs/eurusd-20260102t000000-next01/features/agg/attempt-a205c75f3d75/part-000000000000.parquet'];
  const batch = () =>
    renderBatch(
      target('b0'),
      'keys',
      [
        { table: 'ck_agg', columns: [{ source: 'agg_mean_45', output: 'agg_mean_45', type: 'FLOAT64' }], wider: true },
        { table: 'ck_der', columns: [{ source: 'der_mean_45', output: 'der_mean_45', type: 'FLOAT64' }] },
      ] as never,
      9900,
      WINDOW,
    );

  it('analyzes the loads partitioned by day and by month, and the batch reading through the window, with 0 errors', async () => {
    for (const partitionBy of ['DAY', 'MONTH'] as const) {
      const load = renderLoad(target('ck_agg'), uris, ['agg_mean_45'], { partitionBy });
      assert.match(load.sql, new RegExp(`PARTITION BY TIMESTAMP_TRUNC\\(\`interval_time\`, ${partitionBy}\\)`));
      const r = await analyzer!.analyze(load.sql, { tables: TABLES }, {}, LOAD_OPTIONS);
      assert.ok(r.ok, `load by ${partitionBy}: ${r.ok ? '' : r.error}`);
    }
    const b = batch();
    assert.deepEqual(b.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
    const r = await analyzer!.analyze(b.sql, { tables: TABLES }, WINDOW_PARAMS, CREATE_OPTIONS);
    assert.ok(r.ok, `batch: ${r.ok ? '' : r.error}`);
    assert.deepEqual(r.outputColumns?.map((c) => c.name), ['interval_time', 'agg_mean_45', 'der_mean_45']);
  });

  it('catches the window\'s filter with a parameter of the wrong type (INT64 for a TIMESTAMP)', async () => {
    const r = await analyzer!.analyze(batch().sql, { tables: TABLES }, { start: t('INT64'), end: t('TIMESTAMP') }, CREATE_OPTIONS);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /INT64/);
  });
});
