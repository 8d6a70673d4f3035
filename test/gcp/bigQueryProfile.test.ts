// The profile on BigQuery: the exact statements (parsed with node-sql-parser's BigQuery dialect
// where it can), and the warehouse's `profile` and `compareColumns` against the sinon-stubbed
// client: the output groups loaded into expiring scratch tables, measured there, rows mapped back.

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { renderCompare, renderCutRows, renderKeyGaps, renderProfileSample, renderProfileStats } from '../../shared/adapters/gcp/bigQueryProfileSql.js';
import { BigQueryWarehouse } from '../../shared/adapters/gcp/bigQueryWarehouse.js';
import type { ProfileJob } from '../../shared/profile/types.js';
import { FakeBigQuery, fakeTime, type FakeJob } from './fakeBigQuery.js';
import { MemoryObjectStore } from './memoryStore.js';

const parser = new NodeSqlParser.Parser();
const RUN = 'eurusd-20250101t000000-abc123';
const config = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output' });

describe('gcp/profile', () => {
  it('renders the statistics of a batch as one statement, exactly', () => {
    const r = renderProfileStats('bqx_scratch', 'bqx_x__profile_g000', ['agg_mean_45']);
    assert.equal(
      r.sql,
      [
        'WITH numbered AS (SELECT ROW_NUMBER() OVER (ORDER BY `interval_time`) - 1 AS rn, CAST(`agg_mean_45` AS FLOAT64) AS c0 FROM `bqx_scratch`.`bqx_x__profile_g000`),',
        'lagged AS (SELECT rn, c0, LAG(c0) OVER (ORDER BY rn) AS p0 FROM numbered),',
        'runs AS (SELECT rn, c0, p0, MAX(IF(c0 = p0, NULL, rn)) OVER (ORDER BY rn ROWS UNBOUNDED PRECEDING) AS s0 FROM lagged)',
        'SELECT COUNT(c0) AS s0_non_null, COUNTIF(c0 IS NOT NULL AND rn < @warmup) AS s0_warm_non_null, MIN(IF(IS_INF(c0) OR IS_NAN(c0), NULL, c0)) AS s0_min, MAX(IF(IS_INF(c0) OR IS_NAN(c0), NULL, c0)) AS s0_max, AVG(IF(IS_INF(c0) OR IS_NAN(c0), NULL, c0)) AS s0_mean, STDDEV_POP(IF(IS_INF(c0) OR IS_NAN(c0), NULL, c0)) AS s0_sd, COUNTIF(IS_INF(c0)) AS s0_inf, COUNTIF(IS_NAN(c0)) AS s0_nan, COUNTIF(c0 = p0) AS s0_repeats, MAX(IF(c0 IS NULL, NULL, rn - s0 + 1)) AS s0_longest_run, MAX(IF(c0 IS NULL, NULL, rn)) AS s0_last_row',
        'FROM runs',
      ].join('\n'),
    );
    assert.deepEqual(r.columns.slice(0, 3), ['s0_non_null', 's0_warm_non_null', 's0_min']);
    assert.equal(r.columns.length, 11);
  });

  it('renders the sample, gaps, cut rows and comparisons; each parses as BigQuery SQL', () => {
    const sample = renderProfileSample('bqx_scratch', 't', ['a', 'b']);
    assert.match(sample.sql, /WHERE \(rn >= @block_from AND rn < @block_from \+ @block_rows\) OR MOD\(rn, @spread_step\) = 0\nORDER BY rn$/);
    const gaps = renderKeyGaps('bqx_scratch', 't');
    assert.match(gaps.sql, /WHERE TIMESTAMP_DIFF\(k, prev, SECOND\) > 60/);
    const cuts = renderCutRows('bqx_scratch', 't');
    assert.equal(cuts.sql, 'SELECT cut_index, (SELECT COUNT(*) FROM `bqx_scratch`.`t` WHERE `interval_time` < cut) AS rows_before\nFROM UNNEST(@cuts) AS cut WITH OFFSET AS cut_index\nORDER BY cut_index');
    const cmp = renderCompare('bqx_scratch', [{ table: 'g0', columns: ['interval_time', 'target_bqx45_h30'] }, { table: 'g1', columns: ['interval_time', 'der_mean_45'] }], [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10 }]);
    assert.equal(
      cmp.sql,
      [
        'SELECT COUNTIF(a0 IS NOT NULL AND b0 IS NOT NULL) AS both0, COUNTIF(a0 = b0) AS equal0, COUNTIF((a0 IS NULL) != (b0 IS NULL)) AS mismatch0, CORR(a0, b0) AS corr0',
        'FROM (SELECT ROW_NUMBER() OVER (ORDER BY `interval_time`) - 1 AS rn, t1.`der_mean_45` AS a0, LAG(t0.`target_bqx45_h30`, 10) OVER (ORDER BY `interval_time`) AS b0',
        '  FROM `bqx_scratch`.`g0` AS t0\n  JOIN `bqx_scratch`.`g1` AS t1 USING (`interval_time`))',
        'WHERE MOD(rn, @step) = 0',
      ].join('\n'),
    );
    for (const r of [sample, gaps, cmp]) assert.doesNotThrow(() => parser.astify(r.sql.replace(/@(\w+)/g, '1'), { database: 'bigquery' }), r.sql);
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
      const time = fakeTime();
      warehouse = new BigQueryWarehouse({ bigquery: fake.client, config, staging: new MemoryObjectStore('bqx-staging'), output, clock: time.clock, sleep: time.sleep });
    });
    afterEach(() => sandbox.restore());

    const groups = [
      { index: 0, files: ['training/eurusd/r/group-000/part-00000.parquet'], columns: ['interval_time', 'target_bqx45_h30'] },
      { index: 1, files: ['training/eurusd/r/group-001/part-00000.parquet'], columns: ['interval_time', 'der_mean_45'] },
    ];
    const step = (j: FakeJob) => j.options.labels?.step;

    it('loads each group into a scratch table (expiring with the scratch dataset) and measures it there', async () => {
      fake.rows = (j) => {
        if (step(j) === 'profile_stats') return [{ s0_non_null: 100, s0_warm_non_null: 40, s0_min: -1, s0_max: 1, s0_mean: 0, s0_sd: 0.5, s0_inf: 0, s0_nan: 0, s0_repeats: 3, s0_longest_run: 2, s0_last_row: 89 }];
        if (step(j) === 'profile_sample') return [{ rn: 0, c0: 0.5 }, { rn: 10, c0: null }];
        if (step(j) === 'profile_gaps') return [{ gap_from: '2020-01-08T10:00:00Z', gap_to: '2020-01-08T11:30:00Z', minutes: 90 }];
        if (step(j) === 'profile_cuts') return [{ cut_index: 0, rows_before: 0 }, { cut_index: 1, rows_before: 60 }];
        return [];
      };
      const job: ProfileJob = { runId: RUN, pair: 'eurusd', key: 'interval_time', groups, labels: ['target_bqx45_h30'], rows: 100, warmupRows: 40, blockFrom: 35, blockRows: 20, spreadStep: 10, cuts: ['2020-01-08T00:00:00Z', '2020-01-08T01:00:00Z'] };
      const data = await warehouse.profile(job);
      const sqls = [...fake.jobs.values()].sort((a, b) => a.seq - b.seq).map((j) => j.options.query!);
      // No OPTIONS on LOAD DATA (issue 8, 4g): the scratch dataset's default expiration covers it.
      assert.equal(
        sqls[0],
        "LOAD DATA OVERWRITE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__profile_g000`\nFROM FILES(format='PARQUET', uris=['gs://bqx-output/training/eurusd/r/group-000/part-00000.parquet'])",
      );
      assert.equal(sqls[2], renderProfileStats('bqx_scratch', 'bqx_eurusd_20250101t000000_abc123__profile_g000', ['target_bqx45_h30']).sql);
      assert.deepEqual([...fake.jobs.values()].map((j) => step(j)), ['profile_load', 'profile_load', 'profile_stats', 'profile_sample', 'profile_stats', 'profile_sample', 'profile_gaps', 'profile_cuts']);
      const statsJob = [...fake.jobs.values()].find((j) => step(j) === 'profile_stats')!;
      assert.deepEqual(statsJob.options.params, { warmup: 40 });
      assert.deepEqual(data.columns[0], { column: 'target_bqx45_h30', nonNull: 100, warmupNonNull: 40, min: -1, max: 1, mean: 0, sd: 0.5, inf: 0, nan: 0, beyond10sd: 0, repeats: 3, longestRun: 2, lastNonNullRow: 89 });
      assert.deepEqual(data.sample.rows, [0, 10]);
      assert.ok(Number.isNaN(data.sample.values.target_bqx45_h30![1]!));
      assert.deepEqual(data.gaps, [{ from: '2020-01-08T10:00:00Z', to: '2020-01-08T11:30:00Z', minutes: 90 }]);
      assert.deepEqual(data.cutRows, [0, 60]);
      const cutsJob = [...fake.jobs.values()].find((j) => step(j) === 'profile_cuts')!;
      assert.deepEqual(cutsJob.options.params, { cuts: [new Date('2020-01-08T00:00:00Z'), new Date('2020-01-08T01:00:00Z')] });
    });

    it('compares column pairs on the sample step, across groups', async () => {
      fake.rows = (j) => (step(j) === 'profile_compare' ? [{ both0: 50, equal0: 50, mismatch0: 0, corr0: 1 }] : []);
      const out = await warehouse.compareColumns({ runId: RUN, groups, pairs: [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10 }], step: 3 });
      assert.deepEqual(out, [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10, both: 50, equal: 50, nullMismatch: 0, correlation: 1 }]);
      const compare = [...fake.jobs.values()].find((j) => step(j) === 'profile_compare')!;
      assert.deepEqual(compare.options.params, { step: 3 });
      assert.match(compare.options.query!, /LAG\(t0\.`target_bqx45_h30`, 10\)/);
    });

    it('compares a part of the files in tables of its own, so the whole groups\' tables are never overwritten with fewer rows', async () => {
      fake.rows = (j) => (step(j) === 'profile_compare' ? [{ both0: 7, equal0: 7, mismatch0: 0, corr0: null }] : []);
      const part = groups.map((g) => ({ ...g, files: [g.files[0]!.replace('part-00000', 'part-00001')] }));
      const out = await warehouse.compareColumns({ runId: RUN, groups: part, pairs: [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 0 }], step: 1, part: 'p1' });
      assert.deepEqual(out, [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 0, both: 7, equal: 7, nullMismatch: 0, correlation: null }]);
      const loads = [...fake.jobs.values()].filter((j) => step(j) === 'profile_load').map((j) => j.options.query!);
      assert.deepEqual(loads, [
        "LOAD DATA OVERWRITE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__profile_g000_p1`\nFROM FILES(format='PARQUET', uris=['gs://bqx-output/training/eurusd/r/group-000/part-00001.parquet'])",
        "LOAD DATA OVERWRITE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__profile_g001_p1`\nFROM FILES(format='PARQUET', uris=['gs://bqx-output/training/eurusd/r/group-001/part-00001.parquet'])",
      ]);
      const compare = [...fake.jobs.values()].find((j) => step(j) === 'profile_compare')!;
      assert.match(compare.options.query!, /__profile_g000_p1/);
      assert.doesNotMatch(compare.options.query!, /__profile_g00[01]`/);
    });
  });
});
