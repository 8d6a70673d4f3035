// The profile's own DOUBLE column decoder (parquetDoubles.ts) against DuckDB reading the same
// files: every value bit for bit (NaN, infinities, -0) and every null, for the files bqx writes
// (zstd, byte-stream-split, several row groups and pages), for the other codecs and encodings
// DuckDB's writer chooses, for a stitched file with a null page of padding, and for null patterns
// that exercise both kinds of definition-level runs. Anything it does not read is refused up front.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { CompressionCodecs, Encodings, FieldRepetitionTypes, ParquetTypes } from 'hyparquet/src/constants.js';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { copyToParquetSql } from '../../shared/adapters/local/duckdbSql.js';
import { readDoubleChunk, readableDoubles, zstdReady, type DecodeScratch } from '../../shared/adapters/local/parquetDoubles.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { padParquet, readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { tempDir } from '../helpers/temp.js';

const COLUMNS = [
  'CASE WHEN i % 7 = 0 THEN NULL ELSE sin(i) * 1000 END AS sparse_nulls',
  // Long runs of nulls and of values: RLE runs between bit-packed ones, at odd offsets.
  'CASE WHEN (i // 37) % 3 = 0 THEN NULL ELSE i / 3 END::DOUBLE AS runs',
  "CASE WHEN i % 11 = 0 THEN 'nan'::DOUBLE WHEN i % 13 = 0 THEN 'inf'::DOUBLE WHEN i % 17 = 0 THEN '-inf'::DOUBLE WHEN i % 19 = 0 THEN -0.0 ELSE -i * 1e-12 END::DOUBLE AS specials",
  'CAST(NULL AS DOUBLE) AS all_null',
  'round(i * 0.001, 5)::DOUBLE AS no_nulls',
  'CASE WHEN i >= 250000 THEN NULL ELSE 1.5::DOUBLE END AS tail_nulls',
];
const NAMES = ['sparse_nulls', 'runs', 'specials', 'all_null', 'no_nulls', 'tail_nulls'];

/** Every column of `file` as DuckDB reads it: row order, null as null, doubles by their bits. */
async function duckdbColumns(c: DuckDBConnection, file: string, names: readonly string[]): Promise<(bigint | null)[][]> {
  const rows = (await c.runAndReadAll(`SELECT ${names.map((n) => `"${n}"`).join(', ')} FROM read_parquet('${file}')`)).getRows();
  const view = new DataView(new ArrayBuffer(8));
  return names.map((_, j) =>
    rows.map((r) => {
      const v = r[j];
      if (v === null) return null;
      view.setFloat64(0, Number(v), true);
      return view.getBigUint64(0, true);
    }),
  );
}

/** The footer's layout (parquetLayout.ts) says what hyparquet's full parse of it says. */
function assertSameLayout(file: string): void {
  const { metadata } = readLocalFooter(file);
  const layout = readLayout(file);
  assert.deepEqual(
    layout.schema.map((e) => [e.name, e.type === undefined ? undefined : ParquetTypes[e.type], e.repetition === undefined ? undefined : FieldRepetitionTypes[e.repetition], e.children]),
    metadata.schema.slice(1).map((e) => [e.name, e.type, e.repetition_type, e.num_children ?? 0]),
  );
  const bits = (names: readonly (typeof Encodings)[number][]) => names.reduce((b, e) => b | (2 ** Encodings.indexOf(e)), 0);
  assert.deepEqual(
    layout.rowGroups.map((g) => [g.rows, [...g.type].map((_, i) => [ParquetTypes[g.type[i]!], g.depth[i], CompressionCodecs[g.codec[i]!], g.encodings[i], g.dataPageOffset[i], Number.isNaN(g.dictionaryPageOffset[i]) ? undefined : g.dictionaryPageOffset[i], g.compressedSize[i]])]),
    metadata.row_groups.map((g) => [Number(g.num_rows), g.columns.map((c) => { const m = c.meta_data!; return [m.type, m.path_in_schema.length, m.codec, bits(m.encodings), Number(m.data_page_offset), m.dictionary_page_offset === undefined ? undefined : Number(m.dictionary_page_offset), Number(m.total_compressed_size)]; })]),
  );
}

/** Every column of `file` as the decoder reads it, in the same form. */
function decodedColumns(file: string, names: readonly string[]): (bigint | null)[][] {
  const layout = readLayout(file);
  const fd = openSync(file, 'r');
  const view = new DataView(new ArrayBuffer(8));
  try {
    // One scratch for every chunk, as the profile's scan uses it: each chunk read before the next call.
    const scratch = {};
    return names.map((name) => {
      const out: (bigint | null)[] = [];
      layout.rowGroups.forEach((_, g) => {
        const { values, valid } = readDoubleChunk(fd, layout, g, name, scratch);
        for (let r = 0; r < values.length; r++) {
          if (valid && ((valid[r >>> 5]! >>> (r & 31)) & 1) === 0) out.push(null);
          else {
            view.setFloat64(0, values[r]!, true);
            out.push(view.getBigUint64(0, true));
          }
        }
      });
      return out;
    });
  } finally {
    closeSync(fd);
  }
}

describe('parquet DOUBLE decoding (the profile\'s reader)', () => {
  let dir: string;
  let c: DuckDBConnection;
  let db: DuckDBInstance;
  const source = `SELECT ${COLUMNS.join(', ')} FROM range(0, 300000) r(i) ORDER BY i`;

  before(async () => {
    await zstdReady();
    dir = tempDir('doubles');
    db = await DuckDBInstance.create(':memory:');
    c = await db.connect();
  });
  after(() => {
    c.closeSync();
    db.closeSync();
  });

  it('loads the zstd decoder without loading undici (Node\'s fetch), the global fetch left as it was', async () => {
    const fetch = globalThis.fetch;
    await zstdReady();
    assert.equal(globalThis.fetch, fetch);
    assert.ok(Object.getOwnPropertyDescriptor(globalThis, 'fetch')?.enumerable, 'the property is put back as it was');
    // In a process of its own (this one may have loaded undici for other tests): zstddec's own
    // init() loads it, zstdReady must not.
    const module = JSON.stringify(pathToFileURL(path.resolve('shared/adapters/local/parquetDoubles.ts')).href);
    const loaded = (init: string) => {
      const script = `import { zstdReady } from ${module}; import { ZSTDDecoder } from 'zstddec'; await ${init}; console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as string[];
    };
    assert.deepEqual(loaded('zstdReady()'), []);
    assert.notDeepEqual(loaded('new ZSTDDecoder().init()'), [], 'zstddec alone loads undici: the check can tell');
  });

  const cases: [string, (file: string) => string][] = [
    ['bqx\'s own settings (zstd, byte-stream-split, 3 row groups)', (file) => copyToParquetSql(source, file)],
    ['uncompressed PLAIN v1', (file) => `COPY (${source}) TO '${file}' (FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1, ROW_GROUP_SIZE 100000)`],
    ['snappy', (file) => `COPY (${source}) TO '${file}' (FORMAT parquet, COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1, PARQUET_VERSION v2)`],
  ];
  for (const [label, sql] of cases) {
    it(`reads what DuckDB reads: ${label}`, async () => {
      const file = path.join(dir, `${label.replace(/\W+/g, '-')}.parquet`);
      await c.run(sql(file));
      assertSameLayout(file);
      assert.ok(readableDoubles(readLayout(file), NAMES), 'readable');
      const expected = await duckdbColumns(c, file, NAMES);
      const actual = decodedColumns(file, NAMES);
      NAMES.forEach((name, j) => {
        assert.equal(actual[j]!.length, 300000, name);
        const firstDiff = actual[j]!.findIndex((v, r) => v !== expected[j]![r]);
        assert.equal(firstDiff, -1, `${name}: row ${firstDiff}: ${actual[j]![firstDiff]} against ${expected[j]![firstDiff]}`);
      });
      assert.equal(actual[3]!.every((v) => v === null), true, 'all_null is all null');
      assert.equal(actual[2]!.filter((v) => v === 0x7ff0000000000000n).length > 0, true, 'an infinity survives');
    });
  }

  it('reads data pages v2, many pages per chunk, as another writer (hyparquet-writer) writes them', async () => {
    // DuckDB writes v1 pages only; the v2 layout (levels uncompressed before the values) is read too.
    const rows = 20000;
    const values = (f: (i: number) => number | null) => Array.from({ length: rows }, (_, i) => f(i));
    const columnData = [
      { name: 'split', type: 'DOUBLE' as const, encoding: 'BYTE_STREAM_SPLIT' as const, data: values((i) => (i % 9 === 0 ? null : Math.cos(i) * 1e3)) },
      { name: 'plain', type: 'DOUBLE' as const, encoding: 'PLAIN' as const, data: values((i) => (i % 500 < 120 ? null : i / 7)) },
      { name: 'dictionary', type: 'DOUBLE' as const, data: values((i) => (i % 13 === 0 ? null : i % 5)) },
    ];
    for (const codec of ['SNAPPY', 'UNCOMPRESSED'] as const) {
      const file = path.join(dir, `v2-${codec}.parquet`);
      writeFileSync(file, Buffer.from(parquetWriteBuffer({ columnData, codec, pageSize: 8192, rowGroupSize: 7000 })));
      assertSameLayout(file);
      const layout = readLayout(file);
      const names = columnData.map((c) => c.name);
      assert.ok(readableDoubles(layout, names), codec);
      assert.ok(layout.rowGroups.length >= 3, `${layout.rowGroups.length} row groups`);
      const expected = await duckdbColumns(c, file, names);
      assert.deepEqual(decodedColumns(file, names), expected, codec);
      assert.equal(expected[1]!.filter((v) => v === null).length, 4800, 'the nulls are there');
    }
  });

  it('decodes only the rows asked for, as the whole chunk gives them, and reads only their values from a one-page uncompressed chunk (a file table\'s)', async () => {
    // A DuckDB file table's group: one uncompressed PLAIN page a column; and files of many pages,
    // compressed and v2, where the whole chunk is read.
    const table = path.join(dir, 'file-table.parquet');
    await c.run(`COPY (SELECT ${COLUMNS.join(', ')} FROM range(0, 20120) r(i) ORDER BY i) TO '${table}' (FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1)`);
    const many = path.join(dir, 'many-pages.parquet');
    await c.run(copyToParquetSql(source, many));
    const v2 = path.join(dir, 'v2-UNCOMPRESSED.parquet');
    writeFileSync(v2, Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'plain', type: 'DOUBLE', encoding: 'PLAIN', data: Array.from({ length: 20000 }, (_, i) => (i % 500 < 120 ? null : i / 7)) }], codec: 'UNCOMPRESSED', rowGroupSize: 20000 })));
    const bits = (v: number) => {
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, v, true);
      return view.getBigUint64(0, true);
    };
    const at = (chunk: { values: Float64Array; valid: Uint32Array | null }, r: number) => (chunk.valid && ((chunk.valid[r >>> 5]! >>> (r & 31)) & 1) === 0 ? null : bits(chunk.values[r]!));
    for (const [file, names] of [[table, NAMES], [many, NAMES], [v2, ['plain']]] as const) {
      const layout = readLayout(file);
      const fd = openSync(file, 'r');
      const bytes = readFileSync(file);
      try {
        for (const name of names) {
          for (let g = 0; g < layout.rowGroups.length; g++) {
            const rows = layout.rowGroups[g]!.rows;
            const whole = readDoubleChunk(fd, layout, g, name, {});
            const expected = Array.from({ length: rows }, (_, r) => at(whole, r));
            // The first row of `part` in [from, to) other than the whole chunk's (its bits, or null), or undefined.
            const wholeBits = new BigUint64Array(whole.values.buffer, whole.values.byteOffset, rows);
            const isNull = (chunk: typeof whole, r: number) => chunk.valid !== null && ((chunk.valid[r >>> 5]! >>> (r & 31)) & 1) === 0;
            const differs = (part: typeof whole, from: number, to: number) => {
              const bits = new BigUint64Array(part.values.buffer, part.values.byteOffset, to);
              for (let r = from; r < to; r++) if (isNull(part, r) !== isNull(whole, r) || (!isNull(whole, r) && bits[r] !== wholeBits[r])) return r;
              return undefined;
            };
            assert.equal(differs(readDoubleChunk(bytes, layout, g, name, {}), 0, rows), undefined, `${path.basename(file)} ${name} group ${g}, from the file's bytes in memory`);
            for (const [from, to] of [[0, 1], [17, 4100], [rows - 60, rows], [7, 7], [0, rows], [rows - 1, rows]] as const) {
              const part = readDoubleChunk(fd, layout, g, name, {}, { from, to });
              const got = Array.from({ length: to - from }, (_, k) => at(part, from + k));
              assert.deepEqual(got, expected.slice(from, to), `${path.basename(file)} ${name} group ${g} rows ${from}-${to}`);
              // The same rows from the file's bytes held whole (a source an extract reads whole).
              assert.equal(differs(readDoubleChunk(bytes, layout, g, name, {}, { from, to }), from, to), undefined, `${path.basename(file)} ${name} group ${g} rows ${from}-${to} in memory`);
            }
          }
        }
        if (file === table) {
          // Every column's last 60 rows in the file's order with one scratch, as an extract reads a
          // table's earlier file: each column's header comes from the bytes read with the values before it.
          const shared: DecodeScratch = {};
          const group = layout.rowGroups[0]!;
          const order = layout.schema.map((s) => s.name).filter((n) => (names as readonly string[]).includes(n));
          for (const [k, name] of order.entries()) {
            const whole = readDoubleChunk(fd, layout, 0, name, {});
            const part = readDoubleChunk(fd, layout, 0, name, shared, { from: group.rows - 60, to: group.rows });
            assert.deepEqual(Array.from({ length: 60 }, (_, r) => at(part, group.rows - 60 + r)), Array.from({ length: 60 }, (_, r) => at(whole, group.rows - 60 + r)), `${name}'s last rows, one scratch`);
            const next = order[k + 1] && group.dataPageOffset[layout.schema.findIndex((s) => s.name === order[k + 1])]!;
            if (next) assert.ok(shared.ahead && shared.ahead.start < next && shared.ahead.end > next + 512, `${name}: the next column's header was read with its last values`);
          }
          // The last 60 rows of a column read its header and levels and their values, not the chunk.
          const i = layout.schema.findIndex((s) => s.name === 'sparse_nulls');
          const scratch: { bytes?: Buffer } = {};
          readDoubleChunk(fd, layout, 0, 'sparse_nulls', scratch, { from: 20060, to: 20120 });
          assert.ok(scratch.bytes!.length < layout.rowGroups[0]!.compressedSize[i]! / 4, `${scratch.bytes!.length} bytes read of a ${layout.rowGroups[0]!.compressedSize[i]}-byte chunk`);
        }
      } finally {
        closeSync(fd);
      }
    }
    assert.throws(() => readDoubleChunk(openSync(table, 'r'), readLayout(table), 0, 'no_nulls', {}, { from: 5, to: 20121 }), /rows 5 to 20121 of a group of 20120/);
  });

  it('reads a stitched file with a null page of padding as DuckDB does', async () => {
    const keyed = (from: number, to: number) => `SELECT TIMESTAMPTZ '2021-03-01 00:00:00+00' + INTERVAL (i) MINUTE AS interval_time, ${COLUMNS.join(', ')} FROM range(${from}, ${to}) r(i) ORDER BY i`;
    const [base, part, padded] = ['base', 'part', 'padded'].map((n) => path.join(dir, `${n}.parquet`)) as [string, string, string];
    await c.run(copyToParquetSql(keyed(0, 3000), base));
    await c.run(copyToParquetSql(keyed(1000, 2500), part));
    // (Not the constant column: DuckDB gives it a dictionary page, which no null row may precede.)
    const names = NAMES.filter((n) => n !== 'tail_nulls');
    padParquet({ file: base, metadata: readLocalFooter(base).metadata }, { file: part, metadata: readLocalFooter(part).metadata, columns: names }, 'interval_time', 1000, 500, padded);
    assertSameLayout(padded);
    assert.ok(readableDoubles(readLayout(padded), names));
    const expected = await duckdbColumns(c, padded, names);
    const actual = decodedColumns(padded, names);
    assert.deepEqual(actual, expected);
    const noNulls = actual[names.indexOf('no_nulls')]!;
    assert.equal(noNulls.slice(0, 1000).every((v) => v === null) && noNulls.slice(2500).every((v) => v === null), true, 'the padding is null');
    assert.equal(noNulls.slice(1000, 2500).every((v) => v !== null), true, 'the source rows have their values');
  });

  it('refuses up front what it does not read: other codecs, other types, nested and unknown columns', async () => {
    const file = (n: string) => path.join(dir, `${n}.parquet`);
    await c.run(`COPY (SELECT i / 2 AS d, i AS n FROM range(0, 5000) r(i)) TO '${file('types')}' (FORMAT parquet)`);
    await c.run(`COPY (SELECT i / 2 AS d, [i / 2] AS l FROM range(0, 5000) r(i)) TO '${file('nested')}' (FORMAT parquet)`);
    await c.run(`COPY (SELECT i / 2 AS d FROM range(0, 5000) r(i)) TO '${file('gzip')}' (FORMAT parquet, COMPRESSION gzip, DICTIONARY_SIZE_LIMIT 1)`);
    assert.equal(readableDoubles(readLayout(file('types')), ['d']), true, 'a DOUBLE column');
    assert.equal(readableDoubles(readLayout(file('types')), ['n']), false, 'a BIGINT column');
    assert.equal(readableDoubles(readLayout(file('nested')), ['d']), false, 'a file with a list column (flat files only)');
    assert.equal(readableDoubles(readLayout(file('gzip')), ['d']), false, 'gzip');
    assert.equal(readableDoubles(readLayout(file('gzip')), ['missing']), false, 'no such column');
  });
});
