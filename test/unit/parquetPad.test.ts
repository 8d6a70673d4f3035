// Lining a checkpoint up with the label keys by null pages (parquetStitch.ts `padParquet`,
// parquetNullPage.ts): a feature whose keys are a contiguous run of the base's keys gets null rows
// before and after its own pages, copied byte for byte. Two readers (DuckDB and hyparquet) must
// read the padded file as the LEFT JOIN of the base's keys with the feature gives it.

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { padParquet, paddable, readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { nullPage } from '../../shared/adapters/local/parquetNullPage.js';
import { tempDir } from '../helpers/temp.js';

const BASE_ROWS = 3000;
const keys = (from: number, to: number) => `SELECT TIMESTAMP '2021-03-01 00:00:00' + INTERVAL (i) MINUTE AS interval_time, i FROM range(${from}, ${to}) r(i)`;
// Values with nulls, NaN, infinities and repeats, so every kind of cell crosses the padding.
const COLUMNS = `CASE WHEN i % 7 = 0 THEN NULL ELSE sin(i) END AS a, CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 13 = 0 THEN 'inf'::DOUBLE ELSE floor(i / 50) END AS b, CAST(i % 5 AS BIGINT) AS c`;

describe('parquet padding (null pages around copied chunks)', () => {
  let instance: DuckDBInstance;
  let c: DuckDBConnection;
  let dir: string;
  let base: string;

  before(async () => {
    dir = tempDir('pad');
    instance = await DuckDBInstance.create(':memory:');
    c = await instance.connect();
    base = path.join(dir, 'base.parquet');
    await c.run(copyToParquetSql(`SELECT interval_time, i * 1.0 AS target FROM (${keys(0, BASE_ROWS)}) ORDER BY interval_time`, base));
  });
  after(() => {
    c.closeSync();
    instance.closeSync();
  });

  const rowsOf = async (sqlText: string) => (await c.runAndReadAll(sqlText)).getRows().map((r) => r.map((v) => (v === null ? null : typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : String(v))));

  for (const [name, from, to, options] of [
    ['starts late', 1200, BASE_ROWS, ''],
    ['ends early', 0, 2100, ''],
    ['a run in the middle, uncompressed', 700, 2500, 'uncompressed'],
  ] as const) {
    it(`${name}: DuckDB and hyparquet read the LEFT JOIN of the base's keys with the feature`, async () => {
      const feature = path.join(dir, `f-${from}-${to}.parquet`);
      const copy = copyToParquetSql(`SELECT interval_time, ${COLUMNS} FROM (${keys(from, to)}) ORDER BY interval_time`, feature);
      await c.run(options === 'uncompressed' ? copy.replace('COMPRESSION zstd, COMPRESSION_LEVEL 1', 'COMPRESSION uncompressed') : copy);
      const source = { file: feature, metadata: readLocalFooter(feature).metadata, columns: ['a', 'b', 'c'] };
      assert.equal(source.metadata.row_groups[0]!.columns[1]!.meta_data!.codec, options === 'uncompressed' ? 'UNCOMPRESSED' : 'ZSTD');
      assert.ok(paddable(source.metadata, source.columns, from));
      const target = path.join(dir, `padded-${from}-${to}.parquet`);
      const written = padParquet({ file: base, metadata: readLocalFooter(base).metadata }, source, 'interval_time', from, BASE_ROWS - to, target);
      assert.equal(written.rows, BASE_ROWS);

      const want = await rowsOf(`SELECT k.interval_time, f.a, f.b, f.c FROM read_parquet('${base}') k LEFT JOIN read_parquet('${feature}') f USING (interval_time) ORDER BY k.interval_time`);
      const got = await rowsOf(`SELECT interval_time, a, b, c FROM read_parquet('${target}')`);
      assert.equal(got.length, BASE_ROWS);
      assert.deepEqual(got, want, 'DuckDB reads the join');
      assert.equal(got.filter((r) => r[1] === null && r[3] === null).length, BASE_ROWS - (to - from), 'the padded rows are null');

      const objects = (await parquetReadObjects({ file: await asyncBufferFromFile(target), compressors })) as { a: number | null; b: number | null; c: bigint | number | null }[];
      assert.equal(objects.length, BASE_ROWS);
      objects.forEach((o, i) => {
        const [, a, b, cc] = want[i]!;
        assert.deepEqual([o.a, o.b === null ? null : Number.isNaN(o.b) ? 'nan' : o.b, o.c === null ? null : Number(o.c)], [a, b === null ? null : Number.isNaN(b) ? 'nan' : b, cc], `hyparquet row ${i}`);
      });
      // The footer's statistics count the new nulls.
      const meta = readLocalFooter(target).metadata.row_groups[0]!.columns[3]!.meta_data!;
      assert.equal(meta.num_values, BigInt(BASE_ROWS));
      assert.equal(meta.statistics?.null_count, BigInt(BASE_ROWS - (to - from)));
    });
  }

  it('a feature with no row in the shard: columns of nulls only, typed as the feature\'s', async () => {
    const feature = path.join(dir, 'f-none.parquet');
    await c.run(copyToParquetSql(`SELECT interval_time, ${COLUMNS} FROM (${keys(0, 10)}) ORDER BY interval_time`, feature));
    const schemaOnly = { ...readLocalFooter(feature).metadata, num_rows: 0n, row_groups: [] };
    assert.ok(paddable(schemaOnly, ['a', 'c'], 0));
    const target = path.join(dir, 'padded-none.parquet');
    padParquet({ file: base, metadata: readLocalFooter(base).metadata }, { file: feature, metadata: schemaOnly, columns: ['a', 'c'] }, 'interval_time', 0, BASE_ROWS, target);
    const got = await rowsOf(`SELECT count(*), count(a), count(c), typeof(any_value(a)), typeof(any_value(c)), min(interval_time)::VARCHAR FROM read_parquet('${target}')`);
    assert.deepEqual(got, [[BASE_ROWS, 0, 0, 'DOUBLE', 'BIGINT', '2021-03-01 00:00:00']]);
    const objects = (await parquetReadObjects({ file: await asyncBufferFromFile(target), compressors })) as { a: unknown; c: unknown }[];
    assert.equal(objects.length, BASE_ROWS);
    assert.ok(objects.every((o) => o.a === null && o.c === null));
  });

  it('is refused for more than one row group, and needs a codec it can write a null page in', async () => {
    const two = path.join(dir, 'two-groups.parquet');
    await c.run(`COPY (SELECT interval_time, ${COLUMNS} FROM (${keys(0, 5000)}) ORDER BY interval_time) TO '${two}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
    assert.equal(paddable(readLocalFooter(two).metadata, ['a'], 10), false);
    const snappy = path.join(dir, 'snappy.parquet');
    await c.run(`COPY (SELECT interval_time, ${COLUMNS} FROM (${keys(0, 100)}) ORDER BY interval_time) TO '${snappy}' (FORMAT parquet, COMPRESSION snappy)`);
    assert.equal(paddable(readLocalFooter(snappy).metadata, ['a'], 10), false);
    assert.throws(() => nullPage(10, 'SNAPPY'), /no null page in SNAPPY/);
    assert.throws(() => nullPage(0, 'ZSTD'), /at least one row/);
  });
});
