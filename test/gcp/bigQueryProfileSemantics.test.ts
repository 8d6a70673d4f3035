// The BigQuery profile's numbers, not only its text: the adapter (shared/adapters/gcp/
// bigQueryProfile.ts) runs here against DuckDB, which executes its statements after BigQuery's
// function names are spelled as DuckDB's (IS_INF -> isinf, COUNTIF -> count_if, @p -> $p, LOAD
// DATA -> CREATE TABLE ... read_parquet, ARRAY_AGG(IF(sampled, x, NULL) IGNORE NULLS ...) ->
// array_agg(x ...) FILTER (WHERE sampled), RANGE_BUCKET -> a count of bounds, a[OFFSET(i)] -> a[i + 1],
// TIMESTAMP_TRUNC / _ADD / _DIFF and FORMAT_TIMESTAMP -> date_trunc, +, date_diff and strftime). DuckDB's window and aggregate semantics match BigQuery's
// for what these statements use, so this shows their logic gives the embedded profile's numbers:
// a full pass, the scan state kept at the second file's first row, a refresh carrying on from it
// reading only the second file, and the beyond-10-sd pass; and, on a key with gaps within and
// across days, the comparisons of column pairs (shifted, sampled, unshifted on every row) and the
// key's gaps, each numbered or paired day by day. (That the text is valid GoogleSQL is
// the analyzer's part: test/gcp/googleSqlPlan.test.ts.)

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { loadConfig } from '../../shared/config.js';
import { compareBigQuery, profileBigQuery, type ProfileRunner } from '../../shared/adapters/gcp/bigQueryProfile.js';
import type { StepSpec } from '../../shared/adapters/gcp/bigQueryJobs.js';
import { compareDuckDb, profileDuckDb } from '../../shared/adapters/local/duckdbProfile.js';
import { sampleLayout } from '../../shared/profile/profile.js';
import { FIELD, SCAN_FIELDS, type ScanState } from '../../shared/profile/scanState.js';
import type { ColumnComparison, ColumnStats, CompareJob, ProfileData, ProfileJob } from '../../shared/profile/types.js';
import { MemoryObjectStore } from './memoryStore.js';
import { tempDir } from '../helpers/temp.js';

const ROWS = 5000;
const HALF = 2600;
const WARMUP = 700;
const COLUMNS: Record<string, string> = {
  plain: 'sin(i) * 100',
  gappy: 'CASE WHEN i % 7 = 0 THEN NULL ELSE cos(i) END',
  late: 'CASE WHEN i < 1000 THEN NULL ELSE i * 0.5 END',
  constant: '3.25',
  allnull: 'CAST(NULL AS DOUBLE)',
  odd: "CASE WHEN i % 97 = 0 THEN 'inf'::DOUBLE WHEN i % 89 = 0 THEN 'nan'::DOUBLE WHEN i % 83 = 0 THEN NULL ELSE i % 13 END",
  nans: "CASE WHEN i BETWEEN 2590 AND 2620 THEN 'nan'::DOUBLE ELSE i % 3 END", // a NaN run across the cut
  stale: 'CASE WHEN i BETWEEN 2040 AND 2900 THEN 7 WHEN i % 50 < 10 THEN NULL ELSE floor(i / 5) END', // a run across the cut
  holes: 'CASE WHEN i % 3 = 1 THEN NULL ELSE floor(i / 300) END',
  spike: 'CASE WHEN i = 4321 THEN 1e9 ELSE i % 10 END', // beyond 10 sd after the cut
  early: 'CASE WHEN i = 1234 THEN -1e9 ELSE i % 10 END', // beyond 10 sd before it
  target_x_h30: 'CASE WHEN i >= 4970 THEN NULL ELSE i END',
};
const names = Object.keys(COLUMNS);
/** The key time of row i (the rows are minutes from 2020-01-06). */
const minute = (i: number) => new Date(Date.parse('2020-01-06T00:00:00Z') + i * 60_000).toISOString();
const layoutParams = (() => {
  const l = sampleLayout(ROWS);
  return { block_from: l.blockFrom, block_rows: l.blockRows, spread_step: l.spreadStep };
})();
const config = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output' });

/** A BigQuery statement as DuckDB spells it (only what the profile's statements use). */
function duckSql(sql: string, local: (uri: string) => string): string {
  const load = /^LOAD DATA OVERWRITE (\S+)\nFROM FILES\(format='PARQUET', uris=\[(.*)\]\)$/s.exec(sql);
  if (load) {
    const uris = [...load[2]!.matchAll(/'([^']+)'/g)].map((m) => `'${local(m[1]!)}'`);
    return `CREATE OR REPLACE TABLE ${load[1]!.replaceAll('`', '"')} AS SELECT * FROM read_parquet([${uris.join(', ')}])`;
  }
  return sql
    .replace(/RANGE_BUCKET\(UNIX_MICROS\((\S+?)\), @bounds\)/g, '(SELECT count(*) FROM unnest(@bounds) AS b(v) WHERE v <= epoch_us($1))')
    .replace(/\[OFFSET\((\w+)\)\]/g, '[$1 + 1]')
    .replace(/ARRAY_AGG\(IF\(sampled, (.+?), NULL\) IGNORE NULLS ORDER BY rn\)/g, 'array_agg($1 ORDER BY rn) FILTER (WHERE sampled)')
    .replace(/ARRAY_AGG\(IF\((.+?), (c\d+), NULL\) IGNORE NULLS ORDER BY rn LIMIT \d+\)/g, 'array_agg($2 ORDER BY rn) FILTER (WHERE $1)')
    .replace(/STRUCT\((\w+) AS v\)/g, "{'v': $1}")
    .replace(/TIMESTAMP_TRUNC\((.+?), DAY\)/g, "date_trunc('day', $1)")
    .replace(/FORMAT_TIMESTAMP\(('[^']+'), (.+?)\) AS/g, 'strftime($2, $1) AS')
    .replace(/TIMESTAMP_ADD\((\w+), (INTERVAL 1 MINUTE)\)/g, '($1 + $2)')
    .replace(/TIMESTAMP_DIFF\((\w+), (\w+), (MINUTE|SECOND)\)/g, (_, a, b, unit) => `date_diff('${String(unit).toLowerCase()}', ${b}, ${a})`)
    .replaceAll('`', '"')
    .replaceAll('AS FLOAT64)', 'AS DOUBLE)')
    .replaceAll('IS_INF(', 'isinf(')
    .replaceAll('IS_NAN(', 'isnan(')
    .replaceAll('COUNTIF(', 'count_if(')
    .replace(/@(\w+)/g, '$$$1');
}

/** The job runner of bigQueryProfile.ts, on DuckDB; records the steps and statements it ran. */
class DuckRunner implements ProfileRunner {
  readonly ran: StepSpec[] = [];
  constructor(
    private readonly c: DuckDBConnection,
    private readonly dir: string,
  ) {}

  async read<T>(spec: StepSpec): Promise<T[]> {
    this.ran.push(spec);
    const sql = duckSql(spec.sql, (uri) => path.join(this.dir, uri.replace('gs://bqx-output/', '')));
    const params = Object.fromEntries(Object.entries(spec.params ?? {}).map(([k, v]) => [k, Array.isArray(v) ? listValue(v as number[]) : v])) as Record<string, DuckDBValue>;
    const reader = await this.c.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as T[];
  }
}

describe('gcp/profile statements run (on DuckDB): the embedded profile\'s numbers', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  let dir: string;
  const files = ['training/r/group-000/part-a.parquet', 'training/r/group-000/part-b.parquet'];
  /** Where an earlier dataset ended inside the second shard, and that shard's two parts. */
  const GROWN = 4000;
  const parts = ['training/r/group-000/part-b1.parquet', 'training/r/group-000/part-b2.parquet'];
  const output = new MemoryObjectStore('bqx-output');
  const job = (over: Partial<ProfileJob> = {}): ProfileJob => ({
    runId: 'eurusd-20250101t000000-abc123',
    pair: 'eurusd',
    key: 'interval_time',
    groups: [{ index: 0, files, columns: ['interval_time', ...names] }],
    labels: ['target_x_h30'],
    rows: ROWS,
    warmupRows: WARMUP,
    cuts: [],
    ...sampleLayout(ROWS),
    // Time shards as the merge gives them: one per file here, each numbered apart on BigQuery.
    shards: [
      { start: minute(0), rows: HALF },
      { start: minute(HALF), rows: ROWS - HALF },
    ],
    ...over,
  });
  const bigQuery = (j: ProfileJob) => {
    const runner = new DuckRunner(conn, dir);
    return { runner, done: profileBigQuery(runner, config, output, j) };
  };
  const embedded = (j: ProfileJob) =>
    profileDuckDb(
      async (body) => {
        const c = await instance.connect();
        try {
          return await body(c);
        } finally {
          c.closeSync();
        }
      },
      (o) => path.join(dir, o),
      j,
      { memoryMb: 256, threads: 1 },
    );

  before(async () => {
    dir = tempDir('bqprofile');
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    await conn.run('CREATE SCHEMA bqx_scratch');
    await conn.run(`CREATE TABLE t AS SELECT i, TIMESTAMP '2020-01-06 00:00:00' + INTERVAL (i) MINUTE AS interval_time, ${names.map((n) => `${COLUMNS[n]} AS "${n}"`).join(', ')} FROM range(${ROWS}) r(i)`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'training/r/group-000'), { recursive: true });
    const cols = ['interval_time', ...names].map((n) => `"${n}"`).join(', ');
    await conn.run(`COPY (SELECT ${cols} FROM t WHERE i < ${HALF} ORDER BY i) TO '${path.join(dir, files[0]!)}' (FORMAT parquet)`);
    await conn.run(`COPY (SELECT ${cols} FROM t WHERE i >= ${HALF} ORDER BY i) TO '${path.join(dir, files[1]!)}' (FORMAT parquet)`);
    // The second shard in two parts: an earlier dataset's partial last shard, and the part a refresh grew it by.
    await conn.run(`COPY (SELECT ${cols} FROM t WHERE i >= ${HALF} AND i < ${GROWN} ORDER BY i) TO '${path.join(dir, parts[0]!)}' (FORMAT parquet)`);
    await conn.run(`COPY (SELECT ${cols} FROM t WHERE i >= ${GROWN} ORDER BY i) TO '${path.join(dir, parts[1]!)}' (FORMAT parquet)`);
  });
  after(() => {
    conn.closeSync();
    instance.closeSync();
  });

  /** Equal statistics: every count exactly, mean and sd to rounding (each engine sums in its own order). */
  function sameStats(got: ColumnStats[], want: ColumnStats[], what: string) {
    assert.deepEqual(got.map((s) => s.column), want.map((s) => s.column), what);
    got.forEach((g, j) => {
      const w = want[j]!;
      for (const k of ['mean', 'sd'] as const) {
        if (w[k] === null || Number.isNaN(w[k])) assert.deepEqual(g[k], w[k], `${what}: ${w.column}.${k}`);
        else assert.ok(Math.abs(g[k]! - w[k]!) <= 1e-9 * Math.max(1, Math.abs(w[k]!)), `${what}: ${w.column}.${k}: ${g[k]} vs ${w[k]}`);
      }
      assert.deepEqual({ ...g, mean: 0, sd: 0 }, { ...w, mean: 0, sd: 0 }, `${what}: ${w.column}`);
    });
  }

  /** Equal states: counts, extremes, runs and last values exactly; the shifted sums as the mean and variance they give. */
  function sameState(got: ScanState, want: ScanState, what: string) {
    assert.equal(got.row, want.row, what);
    assert.deepEqual(got.columns, want.columns, what);
    const exact = Object.entries(FIELD).filter(([name]) => !['shift', 'sum', 'sumSq', 'prev'].includes(name));
    got.columns.forEach((column, j) => {
      const at = (s: ScanState, f: number) => s.values[j * SCAN_FIELDS + f]!;
      for (const [name, f] of exact) assert.equal(at(got, f), at(want, f), `${what}: ${column}.${name}`);
      if (at(want, FIELD.prevValid) === 1) assert.ok(Object.is(at(got, FIELD.prev), at(want, FIELD.prev)), `${what}: ${column}.prev`);
      const n = at(want, FIELD.finite);
      if (n === 0) return;
      const moments = (s: ScanState) => {
        const mean = at(s, FIELD.shift) + at(s, FIELD.sum) / n;
        return [mean, at(s, FIELD.sumSq) / n - (at(s, FIELD.sum) / n) ** 2];
      };
      const [g, w] = [moments(got), moments(want)];
      for (const k of [0, 1]) assert.ok(Math.abs(g[k]! - w[k]!) <= 1e-9 * Math.max(1, Math.abs(w[k]!)), `${what}: ${column} moment ${k}: ${g[k]} vs ${w[k]}`);
    });
  }

  let full: ProfileData;
  let reference: ProfileData;

  it('a full pass: every statistic and the sample as the embedded profile gives them, and the state at the snapshot row', async () => {
    const { runner, done } = bigQuery(job({ snapshotAt: HALF }));
    full = await done;
    reference = await embedded(job({ snapshotAt: HALF }));
    sameStats(full.columns, reference.columns, 'full pass');
    assert.deepEqual(full.sample.rows, reference.sample.rows);
    for (const n of names) assert.deepEqual(Array.from(full.sample.values[n]!), Array.from(reference.sample.values[n]!), `sample of ${n}`);
    sameState(full.scanState!, reference.scanState!, 'state at the second file');
    sameState(full.endState!, reference.endState!, 'state after the last row');
    assert.equal(full.endState!.row, ROWS);
    // The planted cases are there (a broken engine agreeing with a broken adapter would not pass these).
    const by = Object.fromEntries(full.columns.map((s) => [s.column, s]));
    assert.equal(by.spike!.beyond10sd, 1);
    assert.equal(by.early!.beyond10sd, 1);
    assert.ok(by.stale!.longestRun! >= 861, `the run across the cut: ${by.stale!.longestRun}`);
    assert.equal(by.nans!.nan, 31);
    assert.equal(by.target_x_h30!.lastNonNullRow, 4969);
    assert.equal(by.plain!.lastNonNullRow, null, 'the last row is reported for labels only, as on DuckDB');
    // One load for the group, then one statement for its measures and sample (each column read once); the stretch cut at the second file.
    assert.deepEqual([...new Set(runner.ran.map((s) => s.step))], ['profile_load', 'profile_scan', 'profile_beyond', 'profile_tails', 'profile_gaps']);
    // The tails kept with the state: early's far value before the second file, as the embedded profile keeps it.
    assert.deepEqual(Object.keys(full.scanTails!), Object.keys(reference.scanTails!));
    for (const [column, tail] of Object.entries(reference.scanTails!)) {
      const got = full.scanTails![column]!;
      // The band is mean ± 8 sd, so equal to rounding; the values exactly.
      for (const k of ['lo', 'hi'] as const) assert.ok(Math.abs(got[k] - tail[k]) <= 1e-9 * Math.abs(tail[k]), `tail of ${column}: ${k} ${got[k]} vs ${tail[k]}`);
      assert.deepEqual(Array.from(got.values), Array.from(tail.values), `tail of ${column}`);
    }
    assert.ok(Array.from(full.scanTails!.early!.values).includes(-1e9));
    // Each shard numbered apart: the second starts at its first key, at row 2,600.
    assert.deepEqual(runner.ran.find((s) => s.step === 'profile_scan')!.params, { bounds: [Date.parse(minute(HALF)) * 1000, Number.MAX_SAFE_INTEGER], firsts: [0, HALF], lasts: [HALF - 1, ROWS - 1], warmup: WARMUP, ...layoutParams });
    assert.doesNotMatch(runner.ran.find((s) => s.step === 'profile_scan')!.sql, /OVER \(ORDER BY/, 'no window over every row');
  });

  it('carried on from that state, reading only the second file: the same numbers; the far value before the state read again', async () => {
    const resume = { groups: [{ index: 0, files: [files[1]!] }], from: { state: full.scanState!, sample: full.sample } };
    const { runner, done } = bigQuery(job({ snapshotAt: HALF, resume }));
    const carried = await done;
    sameStats(carried.columns, reference.columns, 'carried on');
    for (const n of names) assert.deepEqual(Array.from(carried.sample.values[n]!), Array.from(reference.sample.values[n]!), `sample of ${n}`);
    sameState(carried.scanState!, reference.scanState!, 'the state handed on');
    // The measured statements read the second file's table only; the key and the one column whose
    // earlier rows reach past 10 sd (early) read the whole group, loaded once.
    const loads = runner.ran.filter((s) => s.step === 'profile_load').map((s) => s.sql);
    assert.equal(loads.length, 2);
    assert.match(loads[0]!, /__profile_g000_r2600`\nFROM FILES\(format='PARQUET', uris=\['gs:\/\/bqx-output\/training\/r\/group-000\/part-b\.parquet'\]\)$/);
    assert.match(loads[1]!, /__profile_g000`\nFROM FILES.*part-a\.parquet', 'gs.*part-b\.parquet'\]\)$/s);
    for (const s of runner.ran.filter((x) => x.step === 'profile_scan')) assert.match(s.sql, /__profile_g000_r2600`/);
    assert.deepEqual(runner.ran.find((s) => s.step === 'profile_scan')!.params, { bounds: [Number.MAX_SAFE_INTEGER], firsts: [HALF], lasts: [ROWS - 1], warmup: WARMUP, ...layoutParams });
    assert.deepEqual(carried.beyond, { carried: 1, reread: 1 }, 'spike counted from the new rows alone, early read again');
    const beyond = runner.ran.filter((s) => s.step === 'profile_beyond');
    assert.deepEqual(beyond.map((s) => /__profile_g000(_r2600)?`/.exec(s.sql)![0]), ['__profile_g000_r2600`', '__profile_g000`']);
  });

  it('carried on with the kept tails: the far value before the state counted from its tail, no row before the state read again', async () => {
    const resume = { groups: [{ index: 0, files: [files[1]!] }], from: { state: full.scanState!, sample: full.sample }, tails: full.scanTails! };
    const { runner, done } = bigQuery(job({ snapshotAt: HALF, resume }));
    const carried = await done;
    sameStats(carried.columns, reference.columns, 'carried on with tails');
    assert.deepEqual(carried.beyond, { carried: 2, reread: 0 }, 'spike from the new rows, early from its tail');
    assert.deepEqual(runner.ran.filter((s) => s.step === 'profile_beyond').map((s) => /__profile_g000(_r2600)?`/.exec(s.sql)![0]), ['__profile_g000_r2600`']);
    // The tails go on for the next refresh: the carried ones as they were.
    assert.deepEqual(Array.from(carried.scanTails!.early!.values), Array.from(full.scanTails!.early!.values));
    assert.equal(runner.ran.filter((s) => s.step === 'profile_tails').length, 0, 'a carried tail is not read again');
  });

  it('a refresh that grew the last shard by a part carries on from the state after the earlier dataset\'s last row, inside that shard: only the part is read, the numbers are a full pass\'s', async () => {
    const columns = ['interval_time', ...names];
    // The earlier dataset: the first shard, and the second up to row 4,000 (its partial last shard).
    const earlierJob = job({ rows: GROWN, groups: [{ index: 0, files: [files[0]!, parts[0]!], columns }], shards: [{ start: minute(0), rows: HALF }, { start: minute(HALF), rows: GROWN - HALF }], snapshotAt: HALF });
    assert.deepEqual(sampleLayout(GROWN), sampleLayout(ROWS), 'the same sample layout, or nothing could be carried on');
    const earlier = await bigQuery(earlierJob).done;
    sameState(earlier.endState!, (await embedded(earlierJob)).endState!, 'the state after the earlier last row');
    assert.equal(earlier.endState!.row, GROWN);
    // This dataset: the second shard is the earlier part and the grown one; the pass reads the latter only.
    const resume = { groups: [{ index: 0, files: [parts[1]!] }], from: { state: earlier.endState!, sample: earlier.sample } };
    const { runner, done } = bigQuery(job({ groups: [{ index: 0, files: [files[0]!, ...parts], columns }], resume, snapshotAt: HALF }));
    const got = await done;
    sameStats(got.columns, reference.columns, 'carried on from the end');
    for (const n of names) assert.deepEqual(Array.from(got.sample.values[n]!), Array.from(reference.sample.values[n]!), `sample of ${n}`);
    sameState(got.endState!, reference.endState!, 'the state after the new last row');
    assert.equal(got.scanState, undefined, 'started past the snapshot row: the earlier dataset\'s state there stands (quality.ts)');
    assert.deepEqual(runner.ran.find((s) => s.step === 'profile_scan')!.params, { bounds: [Number.MAX_SAFE_INTEGER], firsts: [GROWN], lasts: [ROWS - 1], warmup: WARMUP, ...layoutParams });
    assert.match(runner.ran.find((s) => s.step === 'profile_load')!.sql, /__profile_g000_r4000`\nFROM FILES\(format='PARQUET', uris=\['gs:\/\/bqx-output\/training\/r\/group-000\/part-b2\.parquet'\]\)$/);
    // No tails come with the state after the last row: early's far value before it is read again, spike's counted from the part.
    assert.deepEqual(got.beyond, { carried: 1, reread: 1 });
  });

  it('a refresh whose state is taken later than it carries on from: the state is carried over the rows between', async () => {
    const later = 4000;
    const want = await embedded(job({ snapshotAt: later }));
    const resume = { groups: [{ index: 0, files: [files[1]!] }], from: { state: full.scanState!, sample: full.sample } };
    // Three shards: the state is kept at the last one's first row, two shards after the one carried on from.
    const shards = [{ start: minute(0), rows: HALF }, { start: minute(HALF), rows: later - HALF }, { start: minute(later), rows: ROWS - later }];
    const { done } = bigQuery(job({ snapshotAt: later, resume, shards }));
    const got = await done;
    sameStats(got.columns, want.columns, 'carried on');
    // The embedded scan keeps a state at a chunk's first row only: compare with a BigQuery full pass at that row instead.
    const { done: whole } = bigQuery(job({ snapshotAt: later, shards }));
    sameState(got.scanState!, (await whole).scanState!, 'state at row 4000');
    assert.equal(got.scanState!.row, later);
  });
});

describe('gcp/profile comparisons and key gaps run (on DuckDB): the embedded numbers, day by day', () => {
  // Rows on a key with gaps: 5 minutes missing at row 600, then a weekend (2 days) at row 1700;
  // from 20:00, so days and files (split at row 1500) cut the rows in different places.
  const ROWS2 = 3000;
  const RUN2 = 'eurusd-20250102t000000-def456';
  const at = (i: number) => new Date(Date.parse('2020-01-06T20:00:00Z') + (i + (i >= 600 ? 5 : 0) + (i >= 1700 ? 2 * 1440 : 0)) * 60_000);
  const LABELS: Record<string, string> = {
    target_x_h30: 'sin(i / 7.0)',
    lab2: 'CASE WHEN i % 11 = 0 THEN NULL ELSE cos(i / 3.0) END',
  };
  const FEATURES: Record<string, string> = {
    f_lead: 'sin((i + 10) / 7.0)', // the label 10 rows on: a leak at shift -10, equal on every row
    f_gappy: 'CASE WHEN i % 5 = 0 THEN NULL ELSE floor(i / 40) END',
    f_dup: 'CASE WHEN i % 5 = 0 THEN NULL ELSE floor(i / 40) END',
    f_const: '2.5',
  };
  const groupFiles = (g: number) => [`training/r2/group-00${g}/part-a.parquet`, `training/r2/group-00${g}/part-b.parquet`];
  const groups: CompareJob['groups'] = [
    { index: 0, files: groupFiles(0), columns: ['interval_time', ...Object.keys(LABELS)] },
    { index: 1, files: groupFiles(1), columns: ['interval_time', ...Object.keys(FEATURES)] },
  ];
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  let dir: string;
  const output = new MemoryObjectStore('bqx-output');
  const withConnection = async <T>(body: (c: DuckDBConnection) => Promise<T>) => {
    const c = await instance.connect();
    try {
      return await body(c);
    } finally {
      c.closeSync();
    }
  };

  before(async () => {
    dir = tempDir('bqcompare');
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
    await conn.run('CREATE SCHEMA bqx_scratch');
    const keys = Array.from({ length: ROWS2 }, (_, i) => `(${i}, TIMESTAMP '${at(i).toISOString().replace('T', ' ').replace('.000Z', '')}')`);
    await conn.run(`CREATE TABLE k(i INTEGER, interval_time TIMESTAMP); INSERT INTO k VALUES ${keys.join(', ')}`);
    const { mkdirSync } = await import('node:fs');
    for (const [g, cols] of [LABELS, FEATURES].entries()) {
      mkdirSync(path.join(dir, `training/r2/group-00${g}`), { recursive: true });
      const select = `SELECT interval_time, ${Object.entries(cols).map(([n, e]) => `${e} AS "${n}"`).join(', ')} FROM k`;
      const [a, b] = groupFiles(g);
      await conn.run(`COPY (${select} WHERE i < 1500 ORDER BY i) TO '${path.join(dir, a!)}' (FORMAT parquet)`);
      await conn.run(`COPY (${select} WHERE i >= 1500 ORDER BY i) TO '${path.join(dir, b!)}' (FORMAT parquet)`);
    }
  });
  after(() => {
    conn.closeSync();
    instance.closeSync();
  });

  const compared = async (job: CompareJob) => {
    const runner = new DuckRunner(conn, dir);
    const got = await compareBigQuery(runner, config, output, job);
    const want = await compareDuckDb(withConnection, (o) => path.join(dir, o), job);
    return { got, want, runner };
  };
  /** Equal counts; the correlation to rounding, or null on both sides. */
  function sameComparisons(got: ColumnComparison[], want: ColumnComparison[]) {
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const w = want[i]!;
      const what = `${w.a} ~ ${w.b} shifted ${w.shift}`;
      assert.deepEqual({ ...g, correlation: 0 }, { ...w, correlation: 0 }, what);
      const wc = w.correlation === null || Number.isNaN(w.correlation) ? null : w.correlation;
      if (wc === null) assert.equal(g.correlation, null, what);
      else assert.ok(Math.abs(g.correlation! - wc) <= 1e-9, `${what}: ${g.correlation} vs ${wc}`);
    });
  }

  it('shifted pairs on every 7th row: both, equal, mismatch and correlation as DuckDB gives them over every row', async () => {
    const pairs = [
      { a: 'f_lead', b: 'target_x_h30', shift: -10 },
      { a: 'f_gappy', b: 'target_x_h30', shift: 3 },
      { a: 'f_lead', b: 'lab2', shift: -10 },
      { a: 'f_dup', b: 'f_gappy', shift: 0 },
      { a: 'f_const', b: 'lab2', shift: 3 },
    ];
    const { got, want, runner } = await compared({ runId: RUN2, groups, pairs, step: 7 });
    sameComparisons(got, want);
    // The planted leak is found: f_lead is the label 10 rows on, on every sampled row that has both.
    const leak = got[0]!;
    assert.ok(leak.both > 400 && leak.equal === leak.both && leak.correlation! > 0.999999, JSON.stringify(leak));
    assert.equal(got[4]!.correlation, null, 'a constant column has no correlation');
    const sql = runner.ran.find((s) => s.step === 'profile_compare')!.sql;
    assert.doesNotMatch(sql, /OVER \(ORDER BY (?!d\))/, 'no window over every row (only over the days)');
    assert.match(sql, /ROW_NUMBER\(\) OVER \(PARTITION BY d ORDER BY k\)/);
  });

  it('unshifted pairs on every row, whole and on a part of the files, with no window at all', async () => {
    const pairs = [
      { a: 'f_dup', b: 'f_gappy', shift: 0 },
      { a: 'f_const', b: 'f_lead', shift: 0 },
      { a: 'target_x_h30', b: 'f_lead', shift: 0 },
    ];
    const whole = await compared({ runId: RUN2, groups, pairs, step: 1 });
    sameComparisons(whole.got, whole.want);
    assert.deepEqual({ ...whole.got[0], correlation: 0 }, { ...pairs[0], both: 2400, equal: 2400, nullMismatch: 0, correlation: 0 }, 'the duplicate, on all 3,000 rows');
    const second = groups.map((g) => ({ ...g, files: [g.files[1]!] }));
    const part = await compared({ runId: RUN2, groups: second, pairs, step: 1, part: 'p0' });
    sameComparisons(part.got, part.want);
    assert.equal(part.got[0]!.both, 1200);
    for (const r of [whole.runner, part.runner]) assert.doesNotMatch(r.ran.find((s) => s.step === 'profile_compare')!.sql, /OVER/);
  });

  it('the key\'s gaps, paired day by day: the embedded profile\'s, the weekend and the 5 minutes', async () => {
    const job: ProfileJob = {
      runId: RUN2,
      pair: 'eurusd',
      key: 'interval_time',
      groups: [{ index: 0, files: groupFiles(0), columns: ['interval_time'] }],
      labels: [],
      rows: ROWS2,
      warmupRows: 0,
      cuts: [],
      ...sampleLayout(ROWS2),
      shards: [
        { start: at(0).toISOString(), rows: 1500 },
        { start: at(1500).toISOString(), rows: 1500 },
      ],
    };
    const runner = new DuckRunner(conn, dir);
    const got = await profileBigQuery(runner, config, output, job);
    const want = await profileDuckDb(withConnection, (o) => path.join(dir, o), job, { memoryMb: 256, threads: 1 });
    assert.deepEqual(got.gaps, want.gaps);
    assert.deepEqual(got.gaps.map((g) => g.minutes), [5, 2 * 1440]);
    assert.doesNotMatch(runner.ran.find((s) => s.step === 'profile_gaps')!.sql, /OVER \(ORDER BY k\)/, 'no window over every key');
  });
});
