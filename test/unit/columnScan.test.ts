// The profile's one-pass column scan on DuckDB (shared/adapters/local/duckdbProfile.ts over
// shared/profile/columnScan.ts) against a plain reference computed here value by value: nulls,
// warm-up nulls, inf and NaN, repeats and runs across DuckDB's 2,048-row chunks, values beyond
// 10 sd, the labels' last non-null row, the sample, and two files read as one.

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { profileBatchColumns, profileDuckDb, profileStreams } from '../../shared/adapters/local/duckdbProfile.js';
import { fillEarlierSample, LONGEST_RUN_FROM_SHARE, sampleRows } from '../../shared/profile/columnScan.js';
import { sampleLayout } from '../../shared/profile/profile.js';
import type { ColumnStats, ProfileJob } from '../../shared/profile/types.js';
import type { MergeProgress } from '../../shared/ports.js';
import { SCAN_FIELDS } from '../../shared/profile/scanState.js';
import { readableDoubles } from '../../shared/adapters/local/parquetDoubles.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { tempDir } from '../helpers/temp.js';

const ROWS = 5000;
const HALF = 2600; // two files, the cut inside DuckDB's second chunk
const WARMUP = 700;

// Column expressions over i = 0 .. ROWS-1 (DuckDB SQL).
const COLUMNS: Record<string, string> = {
  plain: 'sin(i) * 100',
  gappy: "CASE WHEN i % 7 = 0 THEN NULL ELSE cos(i) END",
  late: 'CASE WHEN i < 1000 THEN NULL ELSE i * 0.5 END',
  constant: '3.25',
  allnull: 'CAST(NULL AS DOUBLE)',
  odd: "CASE WHEN i % 97 = 0 THEN 'inf'::DOUBLE WHEN i % 89 = 0 THEN 'nan'::DOUBLE WHEN i % 83 = 0 THEN NULL ELSE i % 13 END",
  stale: 'CASE WHEN i BETWEEN 2040 AND 2300 THEN 7 WHEN i % 50 < 10 THEN NULL ELSE floor(i / 5) END',
  holes: 'CASE WHEN i % 3 = 1 THEN NULL ELSE floor(i / 300) END', // equal values either side of a null: no repeat
  spike: 'CASE WHEN i = 4321 THEN 1e9 ELSE i % 10 END',
  intcol: 'CAST(i % 4 AS BIGINT)',
  target_x_h30: 'CASE WHEN i >= 4970 THEN NULL ELSE i END',
};

function reference(name: string, v: (number | null)[], labels: Set<string>): ColumnStats {
  const finite = v.filter((x): x is number => x !== null && Number.isFinite(x));
  const nonNull = v.filter((x) => x !== null).length;
  const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
  const sd = mean === null ? null : Math.sqrt(finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length);
  let repeats = 0;
  let run = 0;
  let longest = 0;
  v.forEach((x, i) => {
    const p = i > 0 ? v[i - 1] : null;
    if (x === null) return void (run = 0);
    if (p !== null && p !== undefined && (x === p || (Number.isNaN(x) && Number.isNaN(p)))) (repeats++, run++);
    else run = 1;
    longest = Math.max(longest, run);
  });
  const last = v.reduce<number | null>((l, x, i) => (x === null ? l : i), null);
  return {
    column: name,
    nonNull,
    warmupNonNull: v.slice(0, WARMUP).filter((x) => x !== null).length,
    min: finite.length ? Math.min(...finite) : null,
    max: finite.length ? Math.max(...finite) : null,
    mean,
    sd,
    inf: v.filter((x) => x === Infinity || x === -Infinity).length,
    nan: v.filter((x) => x !== null && Number.isNaN(x)).length,
    beyond10sd: mean === null || sd === null || sd === 0 ? 0 : finite.filter((x) => Math.abs(x - mean) > 10 * sd).length,
    repeats,
    longestRun: nonNull === 0 ? 0 : repeats === 0 ? 1 : repeats / nonNull >= LONGEST_RUN_FROM_SHARE ? longest : null,
    lastNonNullRow: labels.has(name) ? last : null,
  };
}

describe('profile column scan (DuckDB, one pass)', () => {
  it('sizes a batch by the largest row group, not the rows: day shards give wide batches, so few statements', () => {
    // 21,440 rows as one file against 18 day shards of at most 1,440 rows, both at 1 GB: every
    // statement binds every file's schema, so the day-sharded dataset wants the wider batch.
    const oneFile = profileBatchColumns(1024, 21_440, 1);
    const dayShards = profileBatchColumns(1024, 1_440, 2);
    assert.equal(oneFile, 130);
    assert.equal(dayShards, 682);
    // Whatever the rows, a batch never takes more than an eighth of the setting (48 bytes per row, column and decoder).
    for (const [rows, decoding] of [[1_440, 2], [21_440, 1], [177_748, 1], [122_880, 2]] as const) {
      const columns = profileBatchColumns(1024, rows, decoding);
      assert.ok(columns === 50 || columns * Math.max(2048, Math.min(rows, 122_880)) * 48 * decoding <= (1024 * 2 ** 20) / 8, `${rows} rows: ${columns} columns`);
    }
  });

  it('decodes bqx\'s own columns on two threads whatever the budget; DuckDB runs one statement at a time where the budget is at its floor', () => {
    // 177,748 rows in month shards (at most 31,680 rows a file, two decoders) at the default
    // setting's DuckDB share: the budget is at its floor, and the threads' was with it before.
    const monthShards = profileBatchColumns(1024, 31_680, 2);
    assert.equal(monthShards, 50);
    assert.deepEqual(profileStreams(monthShards, 340), { duckdb: 1, threads: 2 });
    // 20,000 rows in one file: room for two statements.
    assert.deepEqual(profileStreams(profileBatchColumns(1024, 20_000, 1), 62), { duckdb: 2, threads: 2 });
    // No thread for one batch of bqx's own, none without any.
    assert.deepEqual(profileStreams(monthShards, 1), { duckdb: 1, threads: 1 });
    assert.deepEqual(profileStreams(monthShards, 0), { duckdb: 1, threads: 0 });
  });

  let instance: DuckDBInstance;
  let files: string[];
  let gzipFirst: string;
  let table: unknown[][];
  const names = Object.keys(COLUMNS);
  const labels = ['target_x_h30'];
  const layout = sampleLayout(ROWS);
  const job = (over: Partial<ProfileJob> = {}): ProfileJob => ({ runId: 'r', pair: 'eurusd', key: 'ts', groups: [{ index: 0, files, columns: ['ts', ...names] }], labels, rows: ROWS, warmupRows: WARMUP, cuts: [], ...layout, ...over });
  const profile = (j: ProfileJob, progress?: (p: MergeProgress) => void) =>
    profileDuckDb(
      async (body) => {
        const conn = await instance.connect();
        try {
          return await body(conn);
        } finally {
          conn.closeSync();
        }
      },
      (o) => o,
      j,
      { memoryMb: 256, threads: 2 },
      progress,
    );

  before(async () => {
    const dir = tempDir('colscan');
    instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    await c.run(`CREATE TABLE t AS SELECT i, TIMESTAMP '2020-01-06 00:00:00' + INTERVAL (i) MINUTE AS ts, ${names.map((n) => `${COLUMNS[n]} AS "${n}"`).join(', ')} FROM range(${ROWS}) r(i) ORDER BY i`);
    files = [path.join(dir, 'a.parquet'), path.join(dir, 'b.parquet')];
    await c.run(`COPY (SELECT * FROM t WHERE i < ${HALF} ORDER BY i) TO '${files[0]}' (FORMAT parquet)`);
    await c.run(`COPY (SELECT * FROM t WHERE i >= ${HALF} ORDER BY i) TO '${files[1]}' (FORMAT parquet)`);
    // The first file again in a codec bqx's own decoder does not read (parquetDoubles.ts).
    gzipFirst = path.join(dir, 'a-gzip.parquet');
    await c.run(`COPY (SELECT * FROM t WHERE i < ${HALF} ORDER BY i) TO '${gzipFirst}' (FORMAT parquet, COMPRESSION gzip)`);
    table = (await c.runAndReadAll(`SELECT ${names.map((n) => `CAST("${n}" AS DOUBLE)`).join(', ')} FROM t ORDER BY i`)).getRows();
    c.closeSync();
  });
  after(() => instance.closeSync());

  it('measures every statistic as a value-by-value reference does, across chunks and files', async () => {
    const progress: { done: number; total: number }[] = [];
    const data = await profile(job(), (p) => progress.push({ done: p.done, total: p.total }));
    // The CLI's bar: a start, then every batch of columns done. Two batches here: the doubles
    // (decoded by bqx, parquetDoubles.ts) and the BIGINT column (read by DuckDB).
    assert.deepEqual(progress, [{ done: 0, total: 2 }, { done: 1, total: 2 }, { done: 2, total: 2 }]);

    assert.deepEqual(data.gaps, []);
    const set = new Set(labels);
    assert.deepEqual(data.columns.map((s) => s.column), names);
    names.forEach((n, j) => {
      const want = reference(n, table.map((r) => (r[j] === null ? null : Number(r[j]))), set);
      const got = data.columns[j]!;
      for (const k of ['mean', 'sd'] as const) {
        if (want[k] === null) assert.equal(got[k], null, `${n}.${k}`);
        else assert.ok(Math.abs(got[k]! - want[k]!) <= 1e-9 * Math.max(1, Math.abs(want[k]!)), `${n}.${k}: ${got[k]} vs ${want[k]}`);
      }
      assert.deepEqual({ ...got, mean: 0, sd: 0 }, { ...want, mean: 0, sd: 0 }, n);
    });
    // The planted cases are what the reference says they are (the test would catch a scan that agrees with a broken reference).
    const by = Object.fromEntries(data.columns.map((s) => [s.column, s]));
    assert.equal(by.odd!.inf, 52);
    assert.ok(by.odd!.nan > 0);
    assert.equal(by.allnull!.nonNull, 0);
    assert.equal(by.constant!.min, by.constant!.max);
    assert.equal(by.spike!.beyond10sd, 1);
    assert.ok(by.stale!.longestRun! >= 261, `a run across the chunk boundary: ${by.stale!.longestRun}`);
    assert.equal(by.holes!.repeats, Math.ceil(ROWS / 3) - Math.ceil(ROWS / 300));
    assert.equal(by.late!.warmupNonNull, 0);
    assert.equal(by.target_x_h30!.lastNonNullRow, 4969);

    const rows = sampleRows(ROWS, { warmupRows: WARMUP, ...layout });
    assert.deepEqual(data.sample.rows, rows);
    names.forEach((n, j) => {
      const want = rows.map((r) => (table[r]![j] === null ? NaN : Number(table[r]![j])));
      assert.deepEqual(Array.from(data.sample.values[n]!), want, `sample of ${n}`);
    });
  });

  it('carries on from a scan state taken at the second file\'s first row: the same numbers as one pass, reading only that file', async () => {
    const whole = await profile(job({ snapshotAt: HALF }));
    const state = whole.scanState!;
    assert.equal(state.row, HALF, 'the state is taken where the second file begins');
    assert.deepEqual(state.columns, names);
    const carried = await profile(job({ resume: { groups: [{ index: 0, files: [files[1]!] }], from: { state, sample: whole.sample } }, snapshotAt: HALF }));
    assert.deepEqual(carried.columns, whole.columns, 'every statistic, to the last bit (the constant\'s run crosses the cut)');
    assert.deepEqual(carried.sample.rows, whole.sample.rows);
    for (const n of names) assert.deepEqual(Array.from(carried.sample.values[n]!), Array.from(whole.sample.values[n]!), `sample of ${n}`);
    assert.deepEqual(carried.scanState, state, 'and the same state for the next one');
    // Carried on from a state that is not the first rows' (another column's numbers): the result differs, so the state is what is used.
    const wrong = { ...state, values: state.values.map((v, i) => (i % SCAN_FIELDS === 0 ? v + 1 : v)) };
    const off = await profile(job({ resume: { groups: [{ index: 0, files: [files[1]!] }], from: { state: wrong, sample: whole.sample } } }));
    assert.notDeepEqual(off.columns.map((c) => c.nonNull), whole.columns.map((c) => c.nonNull));
    // A state without one of the columns is refused, not guessed.
    const partial = { row: HALF, columns: names.slice(1), values: state.values.slice(SCAN_FIELDS) };
    await assert.rejects(profile(job({ resume: { groups: [{ index: 0, files: [files[1]!] }], from: { state: partial, sample: whole.sample } } })), /the scan state has no column plain/);
  });

  it('carries on when a file before the state is one its own decoder cannot read: the far values there are counted by DuckDB, every statistic still one pass\'s', async () => {
    // What the test relies on: the scanned file is in bqx's own encodings, the earlier one is not.
    assert.equal(readableDoubles(readLayout(files[1]!), ['spike']), true);
    assert.equal(readableDoubles(readLayout(gzipFirst), ['spike']), false);
    const whole = await profile(job({ snapshotAt: HALF }));
    const both = [gzipFirst, files[1]!];
    const carried = await profile(job({ groups: [{ index: 0, files: both, columns: ['ts', ...names] }], resume: { groups: [{ index: 0, files: [files[1]!] }], from: { state: whole.scanState!, sample: whole.sample } }, snapshotAt: HALF }));
    assert.deepEqual(carried.columns, whole.columns, 'every statistic, beyond 10 sd included');
    assert.equal(carried.columns.find((c) => c.column === 'spike')!.beyond10sd, 1);
  });

  it('fills a resumed sample\'s rows before the resumed row from the earlier sample, as a block or row by row', () => {
    const earlierValues = (rows: number[], column: number) => new Float64Array(rows.map((r) => column * 1000 + r));
    const check = (earlierRows: number[], rows: number[], row: number) => {
      const columns = ['a', 'b', 'c'];
      const earlier = { rows: earlierRows, values: Object.fromEntries(columns.map((c, j) => [c, earlierValues(earlierRows, j)])) };
      const sample = columns.map(() => new Float64Array(rows.length).fill(NaN));
      fillEarlierSample(columns, rows, sample, row, earlier);
      // Each row before `row` holds its earlier value; the rest are left for the scan.
      sample.forEach((values, j) => assert.deepEqual([...values], rows.map((r) => (r < row ? j * 1000 + r : NaN)), columns[j]));
    };
    check([0, 4, 8, 12], [0, 4, 8, 12, 16, 20], 16); // the same layout: the earlier sample whole, first
    check([0, 4, 8, 12, 16], [0, 4, 8, 12, 16, 20], 10); // part of it
    check([0, 2, 4, 6, 8, 10], [0, 4, 8, 12], 10); // other positions: row by row
    assert.throws(() => check([0, 4], [0, 2, 4], 4), /sample row 2 is not in the earlier sample/);
  });
});
