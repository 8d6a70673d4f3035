// The profile on BigQuery: the exact statements (parsed with node-sql-parser's BigQuery dialect
// where it can), and the warehouse's `profile` and `compareColumns` against the sinon-stubbed
// client: the output groups loaded into expiring scratch tables, measured there, rows mapped back.

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { SEGMENT_MEASURES, renderBeyond, renderCompare, renderCutRows, renderKeyGaps, renderScanSegments } from '../../shared/adapters/gcp/bigQueryProfileSql.js';
import { BIGQUERY_PROFILE_BATCH, COMPARE_BATCH, COMPARE_SHIFTS, SAMPLE_VALUE_JSON_BYTES, compareBatches, stretchesFrom } from '../../shared/adapters/gcp/bigQueryProfile.js';
import { sampleRows } from '../../shared/profile/columnScan.js';
import { sampleLayout } from '../../shared/profile/profile.js';
import { BigQueryWarehouse } from '../../shared/adapters/gcp/bigQueryWarehouse.js';
import type { ProfileData, ProfileJob } from '../../shared/profile/types.js';
import { WorkPending } from '../../shared/ports.js';
import { FakeBigQuery, fakeTime, type FakeJob } from './fakeBigQuery.js';
import { MemoryObjectStore } from './memoryStore.js';

const parser = new NodeSqlParser.Parser();
const RUN = 'eurusd-20250101t000000-abc123';
const ENV = { BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output' };
const config = loadConfig(ENV);

describe('gcp/profile', () => {
  it('renders the measures of a batch, a result row per time shard, as one statement, exactly', () => {
    const r = renderScanSegments('bqx_scratch', 'bqx_x__profile_g000', ['agg_mean_45']);
    assert.equal(
      r.sql,
      [
        // Rows numbered within their time shard (RANGE_BUCKET of the key): no window sorts more than one shard.
        'WITH numbered AS (SELECT seg, @firsts[OFFSET(seg)] + ROW_NUMBER() OVER (PARTITION BY seg ORDER BY k) - 1 AS rn, c0 FROM (SELECT RANGE_BUCKET(UNIX_MICROS(`interval_time`), @bounds) AS seg, `interval_time` AS k, CAST(`agg_mean_45` AS FLOAT64) AS c0 FROM `bqx_scratch`.`bqx_x__profile_g000`)),',
        'lagged AS (SELECT seg, @firsts[OFFSET(seg)] AS first_rn, @lasts[OFFSET(seg)] AS last_rn, (rn >= @block_from AND rn < @block_from + @block_rows) OR MOD(rn, @spread_step) = 0 AS sampled, rn, c0, LAG(c0) OVER (PARTITION BY seg ORDER BY rn) AS p0 FROM numbered),',
        'runs AS (SELECT seg, first_rn, last_rn, sampled, rn, c0, IF(IS_INF(c0) OR IS_NAN(c0), NULL, c0) AS f0, (c0 = p0 OR (IS_NAN(c0) AND IS_NAN(p0))) AS e0, MAX(IF((c0 = p0 OR (IS_NAN(c0) AND IS_NAN(p0))), NULL, rn)) OVER (PARTITION BY seg ORDER BY rn ROWS UNBOUNDED PRECEDING) AS s0 FROM lagged)',
        'SELECT seg, ARRAY_AGG(IF(sampled, rn, NULL) IGNORE NULLS ORDER BY rn) AS sample_rn, COUNT(c0) AS s0_non_null, COUNTIF(c0 IS NOT NULL AND rn < @warmup) AS s0_warm, COUNT(f0) AS s0_finite, MIN(f0) AS s0_min, MAX(f0) AS s0_max, AVG(f0) AS s0_mean, VAR_POP(f0) * COUNT(f0) AS s0_m2, COUNTIF(IS_INF(c0)) AS s0_inf, COUNTIF(IS_NAN(c0)) AS s0_nan, COUNTIF(e0) AS s0_repeats, COUNTIF(c0 IS NOT NULL AND s0 = first_rn) AS s0_lead, MAX(IF(c0 IS NULL, NULL, rn - s0 + 1)) AS s0_longest, MAX(IF(c0 IS NULL, NULL, rn)) AS s0_last_row, MAX(IF(rn = first_rn, c0, NULL)) AS s0_first, COUNTIF(rn = first_rn AND c0 IS NOT NULL) AS s0_first_valid, MAX(IF(rn = last_rn, c0, NULL)) AS s0_last, COUNTIF(rn = last_rn AND c0 IS NOT NULL) AS s0_last_valid, MAX(IF(rn = last_rn AND c0 IS NOT NULL, rn - s0 + 1, NULL)) AS s0_last_run, ARRAY_AGG(IF(sampled, STRUCT(c0 AS v), NULL) IGNORE NULLS ORDER BY rn) AS s0_sample',
        'FROM runs',
        'GROUP BY seg, first_rn, last_rn',
        'ORDER BY seg',
      ].join('\n'),
    );
    assert.deepEqual(r.columns.slice(0, 3), ['seg', 'sample_rn', 's0_non_null']);
    assert.equal(r.columns.length, 2 + SEGMENT_MEASURES.length + 1, 'the stretch, its sample rows, and per column its measures and sample');
    // The widest batch stays within BigQuery's limits: result columns and statement text (1 MB), with long names.
    const wide = renderScanSegments('bqx_scratch', 'bqx_eurusd_20250101t000000_abc123__profile_g012_r2000000', Array.from({ length: BIGQUERY_PROFILE_BATCH }, (_, i) => `reg_quad_coef_a_bqx_eurusd_w2880_${i}`));
    assert.ok(wide.columns.length <= 10_000, `${wide.columns.length} result columns`);
    assert.ok(Buffer.byteLength(wide.sql) < 1_000_000, `${Buffer.byteLength(wide.sql)} bytes`);
    // And its result rows well within the API's 10 MB page, whatever the rows: the sample is about 600 rows at any size.
    for (const rows of [10_000, 177_748, 2_200_000]) {
      const sampled = sampleRows(rows, { warmupRows: 0, ...sampleLayout(rows) }).length;
      assert.ok(BIGQUERY_PROFILE_BATCH * sampled * SAMPLE_VALUE_JSON_BYTES < 6 * 2 ** 20, `${rows} rows: ${sampled} sampled rows`);
    }
    // Values beyond 10 sd: finite, further than @limit<i> from @mean<i>.
    assert.equal(
      renderBeyond('bqx_scratch', 't', ['spike']).sql,
      'SELECT COUNTIF(NOT IS_INF(CAST(`spike` AS FLOAT64)) AND NOT IS_NAN(CAST(`spike` AS FLOAT64)) AND ABS(CAST(`spike` AS FLOAT64) - @mean0) > @limit0) AS b0\nFROM `bqx_scratch`.`t`',
    );
  });

  it('numbers rows shard by shard: a stretch per shard, the first from the row carried on from; refuses shards that do not add up or a row past them', () => {
    const shards = [{ start: '2020-01-01T00:00:00.000Z', rows: 100 }, { start: '2020-02-01T00:00:00.000Z', rows: 50 }, { start: '2020-03-01T00:00:00.000Z', rows: 10 }];
    assert.deepEqual(stretchesFrom({ shards, rows: 160 }, 0), {
      stretches: [{ first: 0, rows: 100 }, { first: 100, rows: 50 }, { first: 150, rows: 10 }],
      numbering: { bounds: [Date.parse('2020-02-01T00:00:00Z') * 1000, Date.parse('2020-03-01T00:00:00Z') * 1000, Number.MAX_SAFE_INTEGER], firsts: [0, 100, 150], lasts: [99, 149, 159] },
    });
    // A refresh carrying on from the second shard's first row: the rest only.
    assert.deepEqual(stretchesFrom({ shards, rows: 160 }, 100).numbering, { bounds: [Date.parse('2020-03-01T00:00:00Z') * 1000, Number.MAX_SAFE_INTEGER], firsts: [100, 150], lasts: [149, 159] });
    // Without shards: one stretch of every row.
    assert.deepEqual(stretchesFrom({ rows: 160 }, 0).numbering, { bounds: [Number.MAX_SAFE_INTEGER], firsts: [0], lasts: [159] });
    assert.throws(() => stretchesFrom({ shards, rows: 161 }, 0), /the dataset's shards hold 160 rows, the dataset 161/);
    // Carrying on from the state after an earlier dataset's last row, inside the shard it grew: that shard's rows from there, then the rest.
    assert.deepEqual(stretchesFrom({ shards, rows: 160 }, 120), {
      stretches: [{ first: 120, rows: 30 }, { first: 150, rows: 10 }],
      numbering: { bounds: [Date.parse('2020-03-01T00:00:00Z') * 1000, Number.MAX_SAFE_INTEGER], firsts: [120, 150], lasts: [149, 159] },
    });
    assert.throws(() => stretchesFrom({ shards, rows: 160 }, 160), /row 160 is in none of the dataset's shards/);
  });

  it('renders the gaps, cut rows and comparisons; each parses as BigQuery SQL', () => {
    const gaps = renderKeyGaps('bqx_scratch', 't');
    assert.match(gaps.sql, /WHERE TIMESTAMP_DIFF\(k, prev, SECOND\) > 60/);
    const cuts = renderCutRows('bqx_scratch', 't');
    assert.equal(cuts.sql, 'SELECT cut_index, (SELECT COUNT(*) FROM `bqx_scratch`.`t` WHERE `interval_time` < cut) AS rows_before\nFROM UNNEST(@cuts) AS cut WITH OFFSET AS cut_index\nORDER BY cut_index');
    // Leakage pairs: rows numbered day by day (a running count over a row per day), b brought to row r by a join per shift.
    const cmp = renderCompare('bqx_scratch', [{ table: 'g0', columns: ['interval_time', 'target_bqx45_h30'] }, { table: 'g1', columns: ['interval_time', 'der_mean_45'] }], [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10 }, { a: 'der_mean_45', b: 'target_bqx45_h30', shift: -3 }], 11);
    assert.equal(
      cmp.sql,
      [
        'WITH joined AS (SELECT `interval_time` AS k, t1.`der_mean_45` AS x0, t0.`target_bqx45_h30` AS x1',
        '  FROM `bqx_scratch`.`g0` AS t0\n  JOIN `bqx_scratch`.`g1` AS t1 USING (`interval_time`)),',
        'days AS (SELECT d, SUM(n) OVER (ORDER BY d) - n AS day_first FROM (SELECT TIMESTAMP_TRUNC(k, DAY) AS d, COUNT(*) AS n FROM joined GROUP BY d)),',
        'numbered AS (SELECT day_first + ROW_NUMBER() OVER (PARTITION BY d ORDER BY k) - 1 AS rn, x0, x1 FROM (SELECT TIMESTAMP_TRUNC(k, DAY) AS d, * FROM joined) JOIN days USING (d)),',
        'h0 AS (SELECT rn + 10 AS rn, x1 FROM numbered WHERE MOD(rn + 10, @step) = 0),',
        'h1 AS (SELECT rn - 3 AS rn, x1 FROM numbered WHERE MOD(rn - 3, @step) = 0)',
        'SELECT COUNTIF(a0 IS NOT NULL AND b0 IS NOT NULL) AS both0, COUNTIF(a0 = b0 OR (IS_NAN(a0) AND IS_NAN(b0))) AS equal0, COUNTIF((a0 IS NULL) != (b0 IS NULL)) AS mismatch0, CORR(a0, b0) AS corr0, ' +
          'COUNTIF(a1 IS NOT NULL AND b1 IS NOT NULL) AS both1, COUNTIF(a1 = b1 OR (IS_NAN(a1) AND IS_NAN(b1))) AS equal1, COUNTIF((a1 IS NULL) != (b1 IS NULL)) AS mismatch1, CORR(a1, b1) AS corr1',
        'FROM (SELECT r.x0 AS a0, h0.x1 AS b0, r.x0 AS a1, h1.x1 AS b1',
        '  FROM numbered AS r LEFT JOIN h0 USING (rn) LEFT JOIN h1 USING (rn)',
        '  WHERE MOD(r.rn, @step) = 0)',
      ].join('\n'),
    );
    assert.deepEqual(cmp.params, { step: 11 });
    // Duplicate candidates (unshifted, every row): no window, no parameter.
    const dup = renderCompare('bqx_scratch', [{ table: 'g1', columns: ['interval_time', 'der_mean_45', 'der_mean_90'] }], [{ a: 'der_mean_45', b: 'der_mean_90', shift: 0 }], 1);
    assert.equal(
      dup.sql,
      [
        'SELECT COUNTIF(a0 IS NOT NULL AND b0 IS NOT NULL) AS both0, COUNTIF(a0 = b0 OR (IS_NAN(a0) AND IS_NAN(b0))) AS equal0, COUNTIF((a0 IS NULL) != (b0 IS NULL)) AS mismatch0, CORR(a0, b0) AS corr0',
        'FROM (SELECT x0 AS a0, x1 AS b0',
        '  FROM (SELECT `interval_time` AS k, t0.`der_mean_45` AS x0, t0.`der_mean_90` AS x1',
        '  FROM `bqx_scratch`.`g1` AS t0))',
      ].join('\n'),
    );
    assert.equal(dup.params, undefined);
    for (const r of [cmp, dup, gaps]) assert.doesNotMatch(r.sql, /OVER \(ORDER BY (?!d\)|k0\))/, 'no window over every row');
    const beyond = renderBeyond('bqx_scratch', 't', ['a']);
    // (The measure statement's ARRAY_AGG ... IGNORE NULLS ORDER BY is beyond this parser: GoogleSQL's own analyzer checks it, googleSqlProfile.test.ts.)
    for (const r of [beyond, gaps, dup]) assert.doesNotThrow(() => parser.astify(r.sql.replace(/@(\w+)/g, '1'), { database: 'bigquery' }), r.sql);
  });

  it('batches comparisons: at most 200 pairs and 8 distinct shifts (8 joins) a statement, in order', () => {
    const sizes = (pairs: { shift: number }[]) => compareBatches(pairs).map((b) => [b.from, b.pairs.length]);
    assert.deepEqual(sizes(Array.from({ length: 450 }, () => ({ shift: 0 }))), [[0, COMPARE_BATCH], [200, 200], [400, 50]]);
    // Twenty pairs, each its own shift: 8, 8 and 4 a statement.
    assert.deepEqual(sizes(Array.from({ length: 20 }, (_, i) => ({ shift: i + 1 }))), [[0, COMPARE_SHIFTS], [8, 8], [16, 4]]);
    // Repeated shifts and unshifted pairs cost no join: nine pairs over eight shifts and one unshifted fit one statement.
    const mixed = [1, 2, 3, 0, 4, 5, 6, 7, 8, 1, 0, 9].map((shift) => ({ shift }));
    assert.deepEqual(sizes(mixed), [[0, 11], [11, 1]]);
    assert.deepEqual(compareBatches(mixed).flatMap((b) => b.pairs), mixed, 'every pair once, in order');
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
        // The shards' rows [0, 60) and [60, 100): the second repeats the first's last value (one more repeat, a run of 2 across the cut).
        if (step(j) === 'profile_scan')
          return [
            { seg: 0, sample_rn: [0, 10], s0_sample: [{ v: 0.5 }, { v: null }], s0_non_null: 60, s0_warm: 40, s0_finite: 60, s0_min: -1, s0_max: 1, s0_mean: 0, s0_m2: 9, s0_inf: 0, s0_nan: 0, s0_repeats: 1, s0_lead: 1, s0_longest: 2, s0_last_row: 59, s0_first: -1, s0_first_valid: 1, s0_last: 0.25, s0_last_valid: 1, s0_last_run: 1 },
            { seg: 1, sample_rn: [60], s0_sample: [{ v: 0.25 }], s0_non_null: 40, s0_warm: 0, s0_finite: 40, s0_min: -1, s0_max: 1, s0_mean: 0, s0_m2: 16, s0_inf: 0, s0_nan: 0, s0_repeats: 1, s0_lead: 1, s0_longest: 2, s0_last_row: 89, s0_first: 0.25, s0_first_valid: 1, s0_last: null, s0_last_valid: 0, s0_last_run: null },
          ];
        if (step(j) === 'profile_gaps') return [{ gap_from: '2020-01-08T10:00:00Z', gap_to: '2020-01-08T11:30:00Z', minutes: 90 }];
        if (step(j) === 'profile_cuts') return [{ cut_index: 0, rows_before: 0 }, { cut_index: 1, rows_before: 60 }];
        return [];
      };
      const shards = [{ start: '2020-01-08T00:00:00.000Z', rows: 60 }, { start: '2020-01-09T00:00:00.000Z', rows: 40 }];
      const job: ProfileJob = { runId: RUN, pair: 'eurusd', key: 'interval_time', groups, labels: ['target_bqx45_h30'], rows: 100, warmupRows: 40, blockFrom: 35, blockRows: 20, spreadStep: 10, cuts: ['2020-01-08T00:00:00Z', '2020-01-08T01:00:00Z'], snapshotAt: 60, shards };
      const data = await warehouse.profile(job);
      const sqls = [...fake.jobs.values()].sort((a, b) => a.seq - b.seq).map((j) => j.options.query!);
      // No OPTIONS on LOAD DATA (issue 8, 4g): the scratch dataset's default expiration covers it.
      assert.equal(
        sqls[0],
        "LOAD DATA OVERWRITE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__profile_g000`\nFROM FILES(format='PARQUET', uris=['gs://bqx-output/training/eurusd/r/group-000/part-00000.parquet'])",
      );
      assert.equal(sqls[2], renderScanSegments('bqx_scratch', 'bqx_eurusd_20250101t000000_abc123__profile_g000', ['target_bqx45_h30']).sql);
      // The loads, then the two batches at once (each one statement: measures and sample), then the key's gaps and fold rows.
      const steps = [...fake.jobs.values()].sort((a, b) => a.seq - b.seq).map((j) => step(j));
      assert.deepEqual(steps, ['profile_load', 'profile_load', 'profile_scan', 'profile_scan', 'profile_gaps', 'profile_cuts']);
      // What its jobs billed, as BigQuery reports them (the fake bills 10 MiB a job): each of the six once.
      assert.equal(data.bytesBilled, 6 * 10 * 2 ** 20);
      const scanJob = [...fake.jobs.values()].find((j) => step(j) === 'profile_scan')!;
      // Two shards: the second's rows numbered from 60, its first key a bound (epoch microseconds), and one past every key.
      assert.deepEqual(scanJob.options.params, { bounds: [Date.parse('2020-01-09T00:00:00Z') * 1000, Number.MAX_SAFE_INTEGER], firsts: [0, 60], lasts: [59, 99], warmup: 40, block_from: 35, block_rows: 20, spread_step: 10 });
      // The two stretches joined: 3 repeats (one across the cut), sd from both M2s.
      assert.deepEqual(data.columns[0], { column: 'target_bqx45_h30', nonNull: 100, warmupNonNull: 40, min: -1, max: 1, mean: 0, sd: 0.5, inf: 0, nan: 0, beyond10sd: 0, repeats: 3, longestRun: 2, lastNonNullRow: 89 });
      // The state at row 60 goes back, for a refresh to carry on from.
      assert.equal(data.scanState!.row, 60);
      assert.deepEqual(data.scanState!.columns, ['target_bqx45_h30', 'der_mean_45']);
      // Every sample row of the layout, from both stretches, NaN where the warehouse gave no value.
      assert.deepEqual(data.sample.rows, [0, 10, 20, 30, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 60, 70, 80, 90]);
      assert.equal(data.sample.values.target_bqx45_h30![0], 0.5);
      assert.ok(Number.isNaN(data.sample.values.target_bqx45_h30![1]!));
      assert.equal(data.sample.values.target_bqx45_h30![24], 0.25, 'row 60, from the second stretch');
      assert.deepEqual(data.gaps, [{ from: '2020-01-08T10:00:00Z', to: '2020-01-08T11:30:00Z', minutes: 90 }]);
      assert.deepEqual(data.cutRows, [0, 60]);
      const cutsJob = [...fake.jobs.values()].find((j) => step(j) === 'profile_cuts')!;
      assert.deepEqual(cutsJob.options.params, { cuts: [new Date('2020-01-08T00:00:00Z'), new Date('2020-01-08T01:00:00Z')] });
    });

    it('ends a call whose jobs still run at the wait\'s end with WorkPending; the next call attaches to them and finishes, starting none twice', async () => {
      // Jobs that finish only after 10 metadata reads: longer than one call's wait (BQX_JOB_WAIT_SECONDS).
      const time = fakeTime();
      const slow = new BigQueryWarehouse({ bigquery: fake.client, config: loadConfig({ ...ENV, BQX_JOB_WAIT_SECONDS: '10' }), staging: new MemoryObjectStore('bqx-staging'), output, clock: time.clock, sleep: time.sleep });
      fake.pollsToFinish = 10;
      fake.rows = (j) => (step(j) === 'profile_scan' ? [{ seg: 0, s0_non_null: 100, s0_finite: 100, s0_min: 0, s0_max: 1, s0_mean: 0.5, s0_m2: 1, s0_last_row: 99, s0_first: 0, s0_first_valid: 1, s0_last: 1, s0_last_valid: 1, s0_last_run: 1, s0_lead: 1, s0_longest: 1 }] : []);
      const job: ProfileJob = { runId: RUN, pair: 'eurusd', key: 'interval_time', groups, labels: [], rows: 100, warmupRows: 10, blockFrom: 35, blockRows: 20, spreadStep: 10, cuts: [] };
      await assert.rejects(slow.profile(job), (e: unknown) => e instanceof WorkPending && /profile of eurusd-20250101t000000-abc123: profile_load .* still running; call again to resume/.test(e.message));
      const started = fake.jobs.size;
      assert.ok(started >= 1);
      let data: ProfileData | undefined;
      for (let call = 0; call < 40 && !data; call++) data = await slow.profile(job).catch((e: unknown) => (e instanceof WorkPending ? undefined : Promise.reject(e)));
      assert.ok(data, 'finished within 40 calls');
      assert.equal(data.columns.find((c) => c.column === 'target_bqx45_h30')!.nonNull, 100);
      // The call that finished attached to the jobs earlier calls started: it counts what every one of them billed, once.
      assert.equal(data.bytesBilled, fake.jobs.size * 10 * 2 ** 20);
      // Every statement ran once: a later call found the earlier jobs by their ids.
      const ids = [...fake.jobs.values()].map((j) => j.options.jobId);
      assert.equal(new Set(ids).size, ids.length);
      assert.deepEqual([...new Set([...fake.jobs.values()].map((j) => step(j)))], ['profile_load', 'profile_scan', 'profile_gaps']);
      assert.equal([...fake.jobs.values()].filter((j) => step(j) === 'profile_load').length, 2);
      // The same profile over other files (a re-merge of the run) names its statements anew.
      const before = fake.jobs.size;
      fake.pollsToFinish = 0;
      await slow.profile({ ...job, groups: groups.map((g) => ({ ...g, files: [g.files[0]!.replace('part-00000', 'part-00009')] })) });
      const again = [...fake.jobs.values()].slice(before);
      assert.ok(again.some((j) => step(j) === 'profile_scan'), 'the measures run again over the new files');
    });

    it('compares column pairs on the sample step, across groups', async () => {
      // CORR's NaN (a constant column, a NaN or infinite value) comes back null, as the embedded comparison gives it.
      fake.rows = (j) => (step(j) === 'profile_compare' ? [{ both0: 50, equal0: 50, mismatch0: 0, corr0: 1, both1: 50, equal1: 0, mismatch1: 0, corr1: NaN }] : []);
      const pairs = [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10 }, { a: 'der_mean_45', b: 'target_bqx45_h30', shift: -1 }];
      const billed: number[] = [];
      const out = await warehouse.compareColumns({ runId: RUN, groups, pairs, step: 3 }, (bytes) => billed.push(bytes));
      // Told once what its jobs billed (two loads and the statement; the fake bills 10 MiB a job).
      assert.deepEqual(billed, [fake.jobs.size * 10 * 2 ** 20]);
      assert.equal(fake.jobs.size, 3);
      assert.deepEqual(out, [
        { ...pairs[0], both: 50, equal: 50, nullMismatch: 0, correlation: 1 },
        { ...pairs[1], both: 50, equal: 0, nullMismatch: 0, correlation: null },
      ]);
      const compare = [...fake.jobs.values()].find((j) => step(j) === 'profile_compare')!;
      assert.deepEqual(compare.options.params, { step: 3 });
      assert.match(compare.options.query!, /h0 AS \(SELECT rn \+ 10 AS rn, x1 FROM numbered WHERE MOD\(rn \+ 10, @step\) = 0\),\nh1 AS \(SELECT rn - 1 AS rn, x1 /);
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
      assert.equal(compare.options.params, undefined, 'unshifted on every row: no numbers, no parameter');
      assert.doesNotMatch(compare.options.query!, /__profile_g00[01]`/);
    });
  });
});
