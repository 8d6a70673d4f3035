// The profile reads bqx's own files with its own decoder (parquetDoubles.ts) and anything else
// through DuckDB (duckdbProfile.ts). Both must give the same profile to the last bit: the same
// two shards, once in bqx's parquet settings (decoded here) and once in gzip (read by DuckDB),
// profiled by the same job, with a snapshot of the scan state at the second shard.

import assert from 'node:assert/strict';
import { closeSync, copyFileSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { compareDuckDb, profileDuckDb } from '../../shared/adapters/local/duckdbProfile.js';
import { compareOwn } from '../../shared/adapters/local/parquetCompare.js';
import { FooterCache } from '../../shared/adapters/local/parquetScan.js';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { readableDoubles } from '../../shared/adapters/local/parquetDoubles.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import type { ColumnComparison, CompareJob, ProfileJob } from '../../shared/profile/types.js';
import { tempDir } from '../helpers/temp.js';

const COLUMNS = [
  "TIMESTAMPTZ '2021-03-01 00:00:00+00' + INTERVAL (i) MINUTE AS interval_time",
  'CASE WHEN i % 7 = 0 THEN NULL ELSE sin(i / 50) * 1000 END AS wave',
  "CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 401 = 0 THEN 'inf'::DOUBLE ELSE i * 1e-3 END AS ramp",
  'CASE WHEN i < 3000 THEN NULL ELSE 2.5::DOUBLE END AS late_constant',
  'CASE WHEN i % 1000 = 999 THEN 1e9 ELSE (i % 10)::DOUBLE END AS spiky',
  // An integer column: DuckDB reads it in either case, in a batch of its own beside the others.
  'CAST(i % 4 AS INTEGER) AS regime',
  'CASE WHEN i % 3 = 0 THEN 1.0 ELSE 0.0 END::DOUBLE AS target_up',
];
const NAMES = ['interval_time', 'wave', 'ramp', 'late_constant', 'spiky', 'regime', 'target_up'];

describe('the profile\'s two decoders (own and DuckDB\'s)', () => {
  let dir: string;
  let db: DuckDBInstance;

  before(async () => {
    dir = tempDir('decoders');
    db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const shard = (from: number, to: number) => `SELECT ${COLUMNS.join(', ')} FROM range(${from}, ${to}) r(i) ORDER BY i`;
    for (const [n, [from, to]] of [[0, [0, 5000]], [1, [5000, 8200]]] as const) {
      await c.run(copyToParquetSql(shard(from, to), path.join(dir, `own-${n}.parquet`)));
      await c.run(`COPY (${shard(from, to)}) TO '${path.join(dir, `gzip-${n}.parquet`)}' (FORMAT parquet, COMPRESSION gzip)`);
    }
    c.closeSync();
  });
  after(() => db.closeSync());

  const withConnection = async <T>(body: (c: DuckDBConnection) => Promise<T>): Promise<T> => {
    const c = await db.connect();
    try {
      return await body(c);
    } finally {
      c.closeSync();
    }
  };

  const job = (kind: string): ProfileJob => ({
    runId: 'r',
    pair: 'eurusd',
    key: 'interval_time',
    groups: [{ index: 0, files: [`${kind}-0.parquet`, `${kind}-1.parquet`], columns: NAMES }],
    labels: ['target_up'],
    rows: 8200,
    warmupRows: 120,
    blockFrom: 4000,
    blockRows: 300,
    spreadStep: 97,
    cuts: ['2021-03-03T00:00:00Z'],
    snapshotAt: 5000,
  });

  it('gives the same statistics, sample, gaps, fold rows and scan state from either decoder', async () => {
    const features = NAMES.slice(1).filter((n) => n !== 'regime');
    assert.equal(readableDoubles(readLayout(path.join(dir, 'own-0.parquet')), features), true, 'bqx\'s files are decoded here');
    assert.equal(readableDoubles(readLayout(path.join(dir, 'own-0.parquet')), ['regime']), false, 'but not their integer column');
    assert.equal(readableDoubles(readLayout(path.join(dir, 'gzip-0.parquet')), features), false, 'gzip files go to DuckDB');
    const engine = { memoryMb: 512, threads: 2 };
    const uri = (o: string) => path.join(dir, o);
    const own = await profileDuckDb(withConnection, uri, job('own'), engine);
    const duck = await profileDuckDb(withConnection, uri, job('gzip'), engine);
    assert.deepEqual(own.columns.map((s) => s.column), NAMES.slice(1), 'in the dataset\'s column order');
    assert.deepEqual(own.columns, duck.columns);
    assert.deepEqual(own.sample, duck.sample);
    assert.deepEqual(own.gaps, duck.gaps);
    assert.deepEqual(own.cutRows, duck.cutRows);
    assert.ok(own.scanState && duck.scanState, 'both kept the scan state at row 5,000');
    assert.equal(own.scanState.row, 5000);
    assert.deepEqual(own.scanState, duck.scanState);
    const ramp = own.columns.find((s) => s.column === 'ramp')!;
    assert.ok(ramp.nan > 0 && ramp.inf > 0, 'NaN and infinities counted');
    assert.ok(own.columns.find((s) => s.column === 'spiky')!.beyond10sd > 0, 'the second pass counted the spikes');
    const late = own.columns.find((s) => s.column === 'late_constant')!;
    assert.equal(late.nonNull, 5200);
  });

  it('fails the profile, naming the column, when a page of bqx\'s own files does not decode (no hang, no guess)', async () => {
    const [good, bad] = ['own-1.parquet', 'bad-1.parquet'].map((n) => path.join(dir, n)) as [string, string];
    copyFileSync(good, bad);
    copyFileSync(path.join(dir, 'own-0.parquet'), path.join(dir, 'bad-0.parquet'));
    // Garbage inside the zstd frame of the column `ramp`'s page (its header and the footer left intact).
    const { metadata } = readLocalFooter(bad);
    const index = metadata.schema.slice(1).findIndex((s) => s.name === 'ramp');
    const m = metadata.row_groups[0]!.columns[index]!.meta_data!;
    const fd = openSync(bad, 'r+');
    writeSync(fd, Buffer.alloc(40, 0xff), 0, 40, Number(m.data_page_offset) + Number(m.total_compressed_size) - 60);
    closeSync(fd);
    const uri = (o: string) => path.join(dir, o);
    await assert.rejects(profileDuckDb(withConnection, uri, job('bad'), { memoryMb: 512, threads: 2 }), /profile scan thread: .*bad-1\.parquet: column ramp, row group 0: parquet page: zstd/);
  });

  it('compares column pairs in this process as DuckDB\'s statement does: counts exact, correlation to 1e-12, DuckDB kept for what is not bqx\'s doubles', async () => {
    const uri = (o: string) => path.join(dir, o);
    const compare = (kind: string, pairs: CompareJob['pairs'], step: number): CompareJob => ({ runId: 'r', groups: job(kind).groups, pairs, step });
    const pairs = [
      { a: 'wave', b: 'wave', shift: 0 }, // a duplicate: equal wherever both hold a value
      { a: 'target_up', b: 'spiky', shift: -3 },
      { a: 'late_constant', b: 'wave', shift: 2 }, // constant where present: no correlation
      { a: 'spiky', b: 'target_up', shift: 4999 }, // across the two files
      { a: 'wave', b: 'spiky', shift: 9000 }, // beyond the rows: b never holds a value
      { a: 'target_up', b: 'wave', shift: 1 },
    ];
    for (const step of [1, 5]) {
      const own = await compareOwn(compare('own', pairs, step), uri, new FooterCache(), 2 ** 30);
      const duck = await compareDuckDb(withConnection, uri, compare('own', pairs, step));
      assert.ok(own, 'bqx\'s files are compared here');
      const counts = (c: ColumnComparison[]) => c.map(({ correlation: _, ...rest }) => rest);
      assert.deepEqual(counts(own), counts(duck), `step ${step}`);
      own.forEach((c, i) => {
        const d = duck[i]!.correlation;
        if (d === null) assert.equal(c.correlation, null, `${c.a}/${c.b} step ${step}`);
        else assert.ok(c.correlation !== null && Math.abs(c.correlation - d) <= 1e-12 * Math.max(1, Math.abs(d)), `${c.a}/${c.b} step ${step}: ${c.correlation} against ${d}`);
      });
      assert.equal(own[0]!.equal, own[0]!.both);
      assert.ok(own[0]!.both > 0 && own[3]!.both > 0 && own[4]!.both === 0);
      assert.equal(own[5]!.correlation === null, false);
      // NaN and infinity in ramp: no correlation, from either (DuckDB's corr alone would stop the
      // statement on them, "STDDEV_POP is out of range"; DuckDB compares bqx's doubles too when
      // the columns would not fit in memory here, at scale).
      const [ramp] = (await compareOwn(compare('own', [{ a: 'wave', b: 'ramp', shift: 1 }], step), uri, new FooterCache(), 2 ** 30))!;
      assert.deepEqual(await compareDuckDb(withConnection, uri, compare('own', [{ a: 'wave', b: 'ramp', shift: 1 }, { a: 'ramp', b: 'ramp', shift: 0 }], step)), [ramp, { a: 'ramp', b: 'ramp', shift: 0, both: Math.ceil(8200 / step), equal: Math.ceil(8200 / step), nullMismatch: 0, correlation: null }]);
      // Wave is null on every 7th row; ramp, a row back, holds a value from row 1 on.
      let [both, nullMismatch] = [0, 0];
      for (let r = 0; r < 8200; r += step) {
        const [hasWave, hasRamp] = [r % 7 !== 0, r >= 1];
        if (hasWave && hasRamp) both++;
        else if (hasWave !== hasRamp) nullMismatch++;
      }
      assert.deepEqual(ramp, { a: 'wave', b: 'ramp', shift: 1, both, equal: 0, nullMismatch, correlation: null });
      // Equal as DuckDB's = is: NaN to NaN included.
      const [self] = (await compareOwn(compare('own', [{ a: 'ramp', b: 'ramp', shift: 0 }], step), uri, new FooterCache(), 2 ** 30))!;
      assert.deepEqual(self, { a: 'ramp', b: 'ramp', shift: 0, both: Math.ceil(8200 / step), equal: Math.ceil(8200 / step), nullMismatch: 0, correlation: null });
    }
    assert.equal(await compareOwn(compare('own', [{ a: 'regime', b: 'wave', shift: 0 }], 1), uri, new FooterCache(), 2 ** 30), undefined, 'an integer column goes to DuckDB');
    assert.equal(await compareOwn(compare('gzip', pairs, 1), uri, new FooterCache(), 2 ** 30), undefined, 'gzip files go to DuckDB');
    assert.equal(await compareOwn(compare('own', pairs, 1), uri, new FooterCache(), 8200 * 9 * 3), undefined, 'columns over the memory allowed go to DuckDB');
  });
});
