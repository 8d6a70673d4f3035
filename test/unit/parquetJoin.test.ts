// Joining files' rows into one row group page for page (parquetStitch.ts `joinRows`): a refresh's
// partial last shard is its earlier file followed by the new rows' file. DuckDB, hyparquet and the
// profile's own decoder must read the joined file as the two files one after the other, and its
// footer must give the statistics DuckDB would have written for those rows.

import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { joinable, joinableLayouts, joinRows, readLocalFooter, stitchParquet } from '../../shared/adapters/local/parquetStitch.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { readDoubleChunk, zstdReady } from '../../shared/adapters/local/parquetDoubles.js';
import { tempDir } from '../helpers/temp.js';

const keys = (from: number, to: number) => `SELECT TIMESTAMP '2021-03-01 00:00:00' + INTERVAL (i) MINUTE AS interval_time, i FROM range(${from}, ${to}) r(i)`;
// Nulls, NaN, infinities and a column with no value at all in the first part.
const COLUMNS = `CASE WHEN i % 7 = 0 THEN NULL ELSE sin(i) END AS a, CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 13 = 0 THEN '-inf'::DOUBLE ELSE i * 0.5 END AS b, CASE WHEN i < 1000 THEN NULL ELSE i * 2.0::DOUBLE END AS late, CAST(i % 5 AS BIGINT) AS c`;

describe('parquet join (one row group from files read one after the other)', () => {
  let instance: DuckDBInstance;
  let c: DuckDBConnection;
  let dir: string;

  before(async () => {
    dir = tempDir('join');
    instance = await DuckDBInstance.create(':memory:');
    c = await instance.connect();
    await zstdReady();
  });
  after(() => {
    c.closeSync();
    instance.closeSync();
  });

  const write = async (name: string, select: string) => {
    const file = path.join(dir, name);
    await c.run(copyToParquetSql(select, file));
    return { file, metadata: readLocalFooter(file).metadata };
  };
  const rowsOf = async (sqlText: string) => (await c.runAndReadAll(sqlText)).getRows().map((r) => r.map((v) => (v === null ? null : typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : String(v))));

  it('three writes joined: every reader gives the rows in order, the footer the statistics of all of them', async () => {
    const parts = [
      await write('p0.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(0, 1000)}) ORDER BY interval_time`),
      await write('p1.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(1000, 1060)}) ORDER BY interval_time`),
      await write('p2.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(1060, 2500)}) ORDER BY interval_time`),
    ];
    assert.ok(joinable(parts.map((p) => p.metadata)));
    const target = path.join(dir, 'joined.parquet');
    const joined = joinRows(parts, target);
    assert.equal(joined.rows, 2500);
    const metadata = readLocalFooter(target).metadata;
    assert.equal(metadata.row_groups.length, 1, 'one row group');

    const list = parts.map((p) => `'${p.file}'`).join(', ');
    const want = await rowsOf(`SELECT interval_time, a, b, late, c FROM read_parquet([${list}]) ORDER BY interval_time`);
    assert.deepEqual(await rowsOf(`SELECT interval_time, a, b, late, c FROM read_parquet('${target}')`), want, 'DuckDB reads the parts in order');
    const viaHyparquet = await parquetReadObjects({ file: await asyncBufferFromFile(target), compressors });
    assert.equal(viaHyparquet.length, 2500);
    assert.deepEqual(viaHyparquet.map((r) => [r.a ?? null, r.c === undefined || r.c === null ? null : Number(r.c)]), want.map((r) => [r[1], r[4]]), 'hyparquet reads them too');

    // The profile's decoder: bit for bit what DuckDB reads.
    const layout = readLayout(target);
    const fd = openSync(target, 'r');
    try {
      for (const [k, name] of [[1, 'a'], [2, 'b'], [3, 'late']] as const) {
        const chunk = readDoubleChunk(fd, layout, 0, name);
        // A bitmap in 32-bit words, or null when every row has a value.
        const valid = chunk.valid && new Uint8Array(chunk.valid.buffer, chunk.valid.byteOffset, chunk.valid.byteLength);
        const got = Array.from({ length: 2500 }, (_, r) => (!valid || (valid[r >> 3]! >> (r & 7)) & 1 ? chunk.values[r]! : null));
        assert.deepEqual(got, want.map((row) => row[k]), `column ${name}`);
      }
    } finally {
      closeSync(fd);
    }

    // Statistics as DuckDB writes them for the same rows in one file.
    const whole = await write('whole.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(0, 2500)}) ORDER BY interval_time`);
    const stats = (m: typeof metadata) => m.row_groups[0]!.columns.map((col) => {
      const s = col.meta_data!.statistics!;
      return { column: col.meta_data!.path_in_schema[0], nulls: s.null_count, min: s.min_value, max: s.max_value, values: col.meta_data!.num_values };
    });
    assert.deepEqual(stats(metadata), stats(whole.metadata));
  });

  it('a file with no rows is left out; a second part with a dictionary page, another codec or two row groups cannot be joined', async () => {
    const first = await write('q0.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(0, 500)}) ORDER BY interval_time`);
    const empty = await write('q-empty.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(0, 0)})`);
    const next = await write('q1.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(500, 800)}) ORDER BY interval_time`);
    assert.ok(joinable([first.metadata, empty.metadata, next.metadata]));
    const target = path.join(dir, 'q-joined.parquet');
    assert.equal(joinRows([first, empty, next], target).rows, 800);
    assert.deepEqual(await rowsOf(`SELECT count(*), min(i), max(i) FROM (SELECT epoch(interval_time) / 60 - epoch(TIMESTAMP '2021-03-01') / 60 AS i FROM read_parquet('${target}'))`), [[800, 0, 799]]);

    // DuckDB writes a dictionary page for a column constant in the file, whatever its limit.
    const constant = await write('q-const.parquet', `SELECT interval_time, 1.5 AS a, i * 0.5 AS b, NULL::DOUBLE AS late, CAST(i % 5 AS BIGINT) AS c FROM (${keys(800, 900)}) ORDER BY interval_time`);
    assert.ok(constant.metadata.row_groups[0]!.columns.some((col) => col.meta_data!.dictionary_page_offset !== undefined), 'the fixture has a dictionary page');
    assert.equal(joinable([first.metadata, constant.metadata]), false);
    // The merge's check from layouts says the same (a file of no rows aside: it has no row group).
    const layouts = (...files: { file: string }[]) => files.map((f) => readLayout(f.file));
    assert.equal(joinableLayouts(layouts(first, next)), true);
    // The same with the columns' types as the first file's, so only the dictionary page differs.
    const typed = await write('q-const-typed.parquet', `SELECT interval_time, 1.5::DOUBLE AS a, (i * 0.5)::DOUBLE AS b, NULL::DOUBLE AS late, CAST(i % 5 AS BIGINT) AS c FROM (${keys(800, 900)}) ORDER BY interval_time`);
    assert.ok(typed.metadata.row_groups[0]!.columns.some((col) => col.meta_data!.dictionary_page_offset !== undefined));
    assert.equal(joinable([first.metadata, typed.metadata]), false);
    assert.equal(joinableLayouts(layouts(first, typed)), false);
    assert.equal(joinable([typed.metadata, first.metadata]), true, 'a dictionary page first in a chunk is where it belongs');
    assert.equal(joinableLayouts(layouts(typed, first)), true);
    assert.throws(() => joinRows([first, constant], path.join(dir, 'never.parquet')), /cannot be joined/);

    const snappy = path.join(dir, 'q-snappy.parquet');
    await c.run(copyToParquetSql(`SELECT interval_time, ${COLUMNS} FROM (${keys(900, 1000)}) ORDER BY interval_time`, snappy).replace('COMPRESSION zstd, COMPRESSION_LEVEL 1', 'COMPRESSION snappy'));
    assert.equal(joinable([first.metadata, readLocalFooter(snappy).metadata]), false);
    assert.equal(joinableLayouts(layouts(first, { file: snappy })), false);

    const groups = path.join(dir, 'q-groups.parquet');
    await c.run(copyToParquetSql(`SELECT interval_time, ${COLUMNS} FROM (${keys(1000, 6000)}) ORDER BY interval_time`, groups).replace('ROW_GROUP_SIZE 122880', 'ROW_GROUP_SIZE 2048'));
    assert.ok(readLocalFooter(groups).metadata.row_groups.length > 1);
    assert.equal(joinable([first.metadata, readLocalFooter(groups).metadata]), false);
    assert.equal(joinableLayouts(layouts(first, { file: groups })), false);
  });

  it('a stitch takes files joined after a source as its rows: each column their chunks\' pages in turn, with joinRows\'s metadata; a key column from another file beside them', async () => {
    const parts = [
      await write('s0.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(0, 1370)}) ORDER BY interval_time`),
      await write('s1.parquet', `SELECT interval_time, ${COLUMNS} FROM (${keys(1370, 1440)}) ORDER BY interval_time`),
    ];
    const base = await write('s-base.parquet', `SELECT interval_time FROM (${keys(0, 1440)}) ORDER BY interval_time`);
    const [p0, p1] = parts.map((p) => ({ file: p.file, layout: readLayout(p.file) }));
    const stitched = path.join(dir, 's-stitched.parquet');
    // Columns out of the files' order and renamed: b and late back to back (one read a file), then a.
    const [part] = await stitchParquet(
      [
        { file: base.file, layout: readLayout(base.file), columns: [{ source: 'interval_time', output: 'interval_time' }] },
        { ...p0!, columns: [{ source: 'b', output: 'f_b' }, { source: 'late', output: 'f_late' }, { source: 'a', output: 'f_a' }], then: [p1!] },
      ],
      () => stitched,
    );
    assert.equal(part!.rows, 1440);
    const list = parts.map((p) => `'${p.file}'`).join(', ');
    const want = await rowsOf(`SELECT interval_time, b, late, a FROM read_parquet([${list}]) ORDER BY interval_time`);
    assert.deepEqual(await rowsOf(`SELECT interval_time, f_b, f_late, f_a FROM read_parquet('${stitched}')`), want, 'DuckDB reads the files\' rows in order beside the key');

    // Each chunk's metadata is joinRows's for the same files, moved and renamed.
    const joinedFile = path.join(dir, 's-joined.parquet');
    joinRows(parts, joinedFile);
    const [mine, theirs] = [readLocalFooter(stitched).metadata, readLocalFooter(joinedFile).metadata];
    const meta = (m: typeof mine, name: string) => {
      const col = m.row_groups[0]!.columns.find((x) => x.meta_data!.path_in_schema[0] === name)!.meta_data!;
      const { path_in_schema: _p, data_page_offset: _d, dictionary_page_offset: _o, ...rest } = col;
      return rest;
    };
    for (const name of ['a', 'b', 'late']) assert.deepEqual(meta(mine, `f_${name}`), meta(theirs, name), name);

    // The profile's decoder reads the stitched chunks as the joined file's.
    const fds = [openSync(stitched, 'r'), openSync(joinedFile, 'r')];
    try {
      const [ls, lj] = [readLayout(stitched), readLayout(joinedFile)];
      for (const name of ['a', 'b', 'late']) {
        const [x, y] = [readDoubleChunk(fds[0]!, ls, 0, `f_${name}`), readDoubleChunk(fds[1]!, lj, 0, name)];
        assert.deepEqual([Array.from(x.values.subarray(0, 1440)), x.valid && Array.from(x.valid)], [Array.from(y.values.subarray(0, 1440)), y.valid && Array.from(y.valid)], name);
      }
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    // A second file with a dictionary page cannot follow: the stitch is not given one (the merge checks), and says so if it is.
    await assert.rejects(
      stitchParquet([{ ...p0!, columns: [{ source: 'a', output: 'a' }], then: [{ file: base.file, layout: readLayout(base.file) }] }], () => path.join(dir, 'never.parquet')),
      /one row group of the same columns/,
    );
  });
});
