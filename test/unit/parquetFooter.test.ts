// The stitch's own footer encoder (parquetFooter.ts) against hyparquet-writer's `writeMetadata`:
// the same bytes for footers of files DuckDB writes (every column type bqx meets, statistics,
// dictionary and plain pages, several row groups), for a footer of a stitched file, and for the
// rare fields (key-value metadata, sorting columns, encoding stats, size statistics, empty lists).

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { FileMetaData } from 'hyparquet';
import { parquetMetadata } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { encodeFooter } from '../../shared/adapters/local/parquetFooter.js';
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

  it('writes a stitched file\'s footer that reads back as the metadata stitched', () => {
    const [a, b] = files.map((file) => ({ file, metadata: readLocalFooter(file).metadata }));
    const [part] = stitchParquet(
      [
        { ...a!, columns: ['interval_time', 'a', 'e'].map((n) => ({ source: n, output: n })) },
        { ...b!, columns: [{ source: 'z', output: 'z_renamed' }, { source: 'g', output: 'g2' }] },
      ],
      () => path.join(dir, 'stitched.parquet'),
    );
    const back = readLocalFooter(part!.file).metadata;
    assert.deepEqual(back.schema.map((e) => e.name), ['schema', 'interval_time', 'a', 'e', 'z_renamed', 'g2']);
    assert.deepEqual(ours(back), theirs(back));
    // Fields left out are read back as undefined: compared through JSON, which drops them.
    const plain = ({ metadata_length: _length, ...m }: FileMetaData): unknown => JSON.parse(JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
    assert.deepEqual(plain(back), plain(part!.metadata));
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
});
