// The stitch's own footer encoder (parquetFooter.ts) against hyparquet-writer's `writeMetadata`:
// the same bytes for footers of files DuckDB writes (every column type bqx meets, statistics,
// dictionary and plain pages, several row groups), for a footer of a stitched file, and for the
// rare fields (key-value metadata, sorting columns, encoding stats, size statistics, empty lists).
// The stitched footer, copied from its sources' footer bytes, reads back as their metadata moved
// and renamed; a projection of a footer onto a few columns reads them from the file.

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { FileMetaData } from 'hyparquet';
import { asyncBufferFromFile, parquetMetadata, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { CompactWriter, encodeFooter, plainPageHeader, projectMetadata } from '../../shared/adapters/local/parquetFooter.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { readLocalFooter, stitchParquet } from '../../shared/adapters/local/parquetStitch.js';
import { tempDir } from '../helpers/temp.js';

const theirs = (m: FileMetaData) => {
  const w = new ByteWriter();
  writeMetadata(w, m);
  return Buffer.from(w.getBuffer());
};
const ours = (m: FileMetaData) => Buffer.from(encodeFooter(m));

describe('parquet footer encoding (the stitch\'s footers)', () => {
  let dir: string;
  let files: string[];

  before(async () => {
    dir = tempDir('footer');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const rows = `SELECT TIMESTAMPTZ '2021-03-01 00:00:00+00' + INTERVAL (i) MINUTE AS interval_time, i FROM range(0, 300000) r(i)`;
    const columns = [
      'CASE WHEN i % 7 = 0 THEN NULL ELSE sin(i) END AS a',
      "CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE ELSE -i * 1e12 END AS b",
      'CAST(i % 5 AS BIGINT) AS c',
      'CAST(i AS INTEGER) AS d',
      "CASE WHEN i % 3 = 0 THEN 'x' || (i % 17) END AS e",
      'i % 2 = 0 AS f',
      "DATE '2021-01-01' + CAST(i % 400 AS INTEGER) AS g",
      'CAST(i AS DECIMAL(18, 3)) / 7 AS h',
    ].join(', ');
    files = [path.join(dir, 'a.parquet'), path.join(dir, 'b.parquet')];
    // Three row groups, with and without dictionary pages.
    await c.run(copyToParquetSql(`SELECT interval_time, ${columns} FROM (${rows}) ORDER BY interval_time`, files[0]!));
    await c.run(`COPY (SELECT interval_time, i * 2.0 AS z, ${columns} FROM (${rows}) ORDER BY interval_time) TO '${files[1]}' (FORMAT parquet, ROW_GROUP_SIZE 122880)`);
    c.closeSync();
    db.closeSync();
  });

  it('writes what hyparquet-writer writes for footers DuckDB wrote', () => {
    for (const file of files) {
      const { metadata } = readLocalFooter(file);
      assert.ok(metadata.row_groups.length >= 3, `${file}: ${metadata.row_groups.length} row groups`);
      const expected = theirs(metadata);
      assert.ok(expected.length > 1000);
      assert.deepEqual(ours(metadata), expected);
    }
  });

  it('writes a stitched file\'s footer from its sources\' footer bytes: each chunk\'s metadata as the source\'s, moved and renamed', async () => {
    const [a, b] = files.map((file) => ({ file, layout: readLayout(file), metadata: readLocalFooter(file).metadata }));
    const picks = [
      { from: a!, source: 'interval_time', output: 'interval_time' },
      { from: a!, source: 'a', output: 'a' },
      { from: a!, source: 'e', output: 'e' },
      { from: b!, source: 'z', output: 'z_renamed' },
      { from: b!, source: 'g', output: 'g2' },
    ];
    const [part] = await stitchParquet(
      [
        { ...a!, columns: picks.slice(0, 3) },
        { ...b!, columns: picks.slice(3) },
      ],
      () => path.join(dir, 'stitched.parquet'),
    );
    const back = readLocalFooter(part!.file).metadata;
    assert.deepEqual(back.schema.map((e) => e.name), ['schema', 'interval_time', 'a', 'e', 'z_renamed', 'g2']);
    assert.equal(back.row_groups.length, a!.metadata.row_groups.length);
    // hyparquet-writer would write the same bytes for what hyparquet reads back.
    assert.deepEqual(ours(back), theirs(back));
    // Fields left out are read back as undefined: compared through JSON, which drops them.
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)));
    picks.forEach((p, i) => {
      const element = p.from.metadata.schema.find((e) => e.name === p.source)!;
      assert.deepEqual(plain(back.schema[i + 1]), plain({ ...element, name: p.output }), `schema element of ${p.output}`);
      const index = p.from.metadata.schema.slice(1).indexOf(element);
      back.row_groups.forEach((g, r) => {
        const source = p.from.metadata.row_groups[r]!.columns[index]!.meta_data!;
        const copied = g.columns[i]!;
        const shift = copied.file_offset - (source.dictionary_page_offset ?? source.data_page_offset);
        const expected = {
          ...source,
          path_in_schema: [p.output],
          data_page_offset: source.data_page_offset + shift,
          dictionary_page_offset: source.dictionary_page_offset === undefined ? undefined : source.dictionary_page_offset + shift,
          index_page_offset: undefined,
          bloom_filter_offset: undefined,
          bloom_filter_length: undefined,
        };
        assert.deepEqual(plain(copied.meta_data), plain(expected), `row group ${r}, ${p.output}`);
      });
    });
    // The part's layout is the footer written.
    assert.deepEqual(part!.layout.schema.map((e) => e.name), ['interval_time', 'a', 'e', 'z_renamed', 'g2']);
    assert.deepEqual(part!.layout.rowGroups.map((g) => g.rows), back.row_groups.map((g) => Number(g.num_rows)));
  });

  it('projects a layout onto chosen columns that hyparquet reads from the file itself', async () => {
    const file = files[0]!;
    const full = readLocalFooter(file).metadata;
    const projected = projectMetadata(readLayout(file), ['e', 'interval_time']);
    assert.deepEqual(projected.schema.map((e) => e.name), ['schema', 'e', 'interval_time']);
    assert.equal(projected.num_rows, full.num_rows);
    const read = async (metadata: FileMetaData) => {
      let rows: unknown[][] = [];
      await parquetRead({ file: await asyncBufferFromFile(file), metadata, columns: ['interval_time', 'e'], compressors, onComplete: (r: unknown[][]) => (rows = rows.concat(r)) });
      return rows;
    };
    const expected = await read(full);
    assert.equal(expected.length, 300000);
    assert.deepEqual(await read(projected), expected);
    assert.throws(() => projectMetadata(readLayout(file), ['missing']), /no column missing/);
  });

  it('writes the rare fields as hyparquet-writer does', () => {
    const { metadata } = readLocalFooter(files[0]!);
    const chunk = metadata.row_groups[0]!.columns[1]!;
    const odd: FileMetaData = {
      ...metadata,
      key_value_metadata: [{ key: 'k', value: 'v' }, { key: 'only key' }],
      row_groups: [
        {
          ...metadata.row_groups[0]!,
          sorting_columns: [{ column_idx: 0, descending: false, nulls_first: true }],
          columns: [
            {
              ...chunk,
              offset_index_offset: 10n,
              offset_index_length: 20,
              meta_data: {
                ...chunk.meta_data!,
                key_value_metadata: [],
                encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding: 'PLAIN', count: 3 }],
                size_statistics: { unencoded_byte_array_data_bytes: 5n, definition_level_histogram: [1n, 2n] },
                data_page_offset: 2n ** 40n,
              },
            },
            ...metadata.row_groups[0]!.columns.slice(1),
          ],
        },
      ],
    };
    assert.deepEqual(ours(odd), theirs(odd));
    const file = Buffer.concat([ours(odd), Buffer.from('PAR1')]);
    const back = parquetMetadata(file.buffer.slice(file.byteOffset, file.byteOffset + file.length) as ArrayBuffer);
    assert.equal(back.row_groups[0]!.columns[0]!.meta_data!.data_page_offset, 2n ** 40n);
  });

  it('writes a plain page\'s header as hyparquet-writer does (the keyed extract\'s pages)', () => {
    const w = new CompactWriter();
    for (const [values, size] of [[1, 13], [1440, 11_706], [122_880, 983_057], [7, 0]] as const) {
      const theirs = new ByteWriter();
      writePageHeader(theirs, {
        type: 'DATA_PAGE',
        uncompressed_page_size: size,
        compressed_page_size: size,
        data_page_header: { num_values: values, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
      });
      assert.deepEqual(Buffer.from(plainPageHeader(w, values, size)), Buffer.from(theirs.getBuffer()), `${values} values, ${size} bytes`);
    }
  });
});
