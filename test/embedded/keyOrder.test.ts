// File tables known to be in key order (fileTables.ts, keyOrder.ts): each file's keys are read
// back as it is written, and a table whose keys ascend strictly, file after file, is extracted
// without a sort or a distinct count. What must hold: only such tables are trusted (a repeated,
// a descending or a null key, an append of earlier keys, a view replaced outside bqx, a list
// written before the order was recorded: none are), and a trusted extract writes the same
// checkpoint files as the sorted one. Such a table's rows in a window and its shards are counted
// from its files' keys, exactly as DuckDB counts them.

import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { keyOrderedTables } from '../../shared/adapters/local/fileTables.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { keyMicros, keyOrder, keySpans, spanRows } from '../../shared/adapters/local/keyOrder.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { readKeyColumn } from '../../shared/parquetKeys.js';
import { asyncBufferFromFile } from 'hyparquet';
import { shardGrid } from '../../shared/shards.js';
import type { ExtractResult } from '../../shared/ports.js';
import { rowsOfFiles as rowsOf } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const DS = 'f';
const COLUMNS = ['a', 'b'];
// Minutes i in [from, to) from 2021-03-01 20:00: three and a half days, so day shards are staged.
const rowsSql = (from: number, to: number, tail = '', more = '') =>
  `SELECT TIMESTAMPTZ '2021-03-01 20:00:00+00' + to_minutes(i) AS interval_time, (i * 0.5)::DOUBLE AS a, CASE WHEN i % 7 = 0 THEN NULL ELSE cos(i) END AS b${more} FROM range(${from}, ${to}) r(i)${tail}`;
const WINDOW = { start: '2021-03-01T20:00:00.000Z', end: '2021-03-05T08:00:00.000Z' };

describe('embedded warehouse: file tables known in key order', function () {
  this.timeout(60_000);
  let dir: string;
  let w: DuckDbWarehouse;
  let staging: FolderObjectStore;
  const orderedTables = () => w.withConnection((c) => keyOrderedTables(c, { root: dir, folder: 'wh.tables' }, DS));
  const ordered = async () => new Set((await orderedTables()).keys());
  const extract = (feature: string, shards = true, columns: readonly string[] = COLUMNS): Promise<ExtractResult> =>
    w.extract({ runId: 'r', pair: 'eurusd', feature, dataset: DS, columns: [...columns], window: WINDOW, prefix: `runs/r/${feature}-${shards}/`, shards: shards ? shardGrid(WINDOW, 'day') : [] });
  const rowsOfResult = (r: ExtractResult) => {
    assert.equal(r.state, 'done');
    return rowsOf((r as { files: string[] }).files.map((f) => staging.uri(f)));
  };

  beforeEach(async () => {
    dir = tempDir('key-order');
    staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
    w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, new FolderObjectStore(path.join(dir, 'output'), 'output'), { memoryMb: 512 });
    await w.execute(`CREATE SCHEMA ${DS}`);
  });
  afterEach(async () => {
    await w.close();
  });

  it('trusts only tables whose keys ascend strictly: not a repeated, a descending or a null key', async () => {
    await w.writeFileTables(DS, [
      { table: 'up', select: rowsSql(0, 5000) },
      { table: 'empty', select: rowsSql(0, 0) },
      { table: 'repeated', select: `${rowsSql(0, 5000)} UNION ALL ${rowsSql(2500, 2501)} ORDER BY interval_time` },
      { table: 'down', select: rowsSql(0, 5000, ' ORDER BY i DESC') },
      { table: 'null_key', select: `${rowsSql(0, 10)} UNION ALL SELECT NULL, 1, 1` },
    ], 'replace');
    assert.deepEqual([...(await ordered())].sort(), ['empty', 'up']);
  });

  it('an append of later keys keeps the order, one of keys not after the last loses it', async () => {
    await w.writeFileTables(DS, [{ table: 'later', select: rowsSql(0, 100) }, { table: 'overlap', select: rowsSql(0, 100) }, { table: 'none_yet', select: rowsSql(0, 0) }], 'replace');
    await w.writeFileTables(DS, [{ table: 'later', select: rowsSql(100, 200) }, { table: 'overlap', select: rowsSql(99, 200) }, { table: 'none_yet', select: rowsSql(5, 9) }], 'append');
    assert.deepEqual([...(await ordered())].sort(), ['later', 'none_yet']);
    await w.writeFileTables(DS, [{ table: 'later', select: rowsSql(0, 0) }], 'append');
    await w.writeFileTables(DS, [{ table: 'later', select: rowsSql(200, 201) }], 'append');
    assert.ok((await ordered()).has('later'), 'an empty file between keeps the last key');
    await w.writeFileTables(DS, [{ table: 'later', select: rowsSql(150, 151) }], 'append');
    assert.ok(!(await ordered()).has('later'));
  });

  it('extracts a trusted table without a sort, to the same files as the sorted extract of the same rows (from its pages; staged and shard by shard)', async () => {
    // Rows past the window's end too: one shard's extract, not counted first, must leave them out.
    // `mixed` has a column of another type, so DuckDB copies it (keyedExtract.ts writes DOUBLE columns only).
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 6000) }, { table: 'mixed', select: rowsSql(0, 6000, '', ', (i % 5)::INTEGER AS n') }], 'replace');
    await w.execute(`CREATE TABLE ${DS}.stored AS ${rowsSql(0, 6000, ' ORDER BY hash(i)', ', (i % 5)::INTEGER AS n')}`);
    for (const shards of [true, false]) {
      for (const [table, columns] of [['up', COLUMNS], ['mixed', [...COLUMNS, 'n']]] as const) {
        const before = w.inOrderExtracts;
        const [staged, fromKeys, keyed] = [w.stagedRuns, w.countsFromKeys, w.keyedExtracts];
        const trusted = await extract(table, shards, columns);
        assert.equal(w.inOrderExtracts, before + 1, 'read in its own order');
        if (table === 'up') assert.equal(w.keyedExtracts, keyed + 1, 'written from its pages');
        else {
          assert.equal(w.keyedExtracts, keyed, 'copied by DuckDB');
          assert.equal(w.countsFromKeys, fromKeys + (shards ? 1 : 0), 'shards counted from the keys; one shard is not counted first');
          if (shards) assert.equal(w.stagedRuns, staged + 1, 'the day shards were staged');
        }
        const sorted = await extract('stored', shards, columns);
        assert.equal(w.inOrderExtracts, before + 1, 'a table DuckDB stores is sorted');
        const counts = (r: ExtractResult) => r.state === 'done' && [r.rows, r.sourceRows, r.duplicates, r.files.length];
        assert.deepEqual(counts(trusted), [5040, 5040, 0, shards ? 5 : 1]);
        assert.deepEqual(counts(trusted), counts(sorted));
        const [a, b] = await Promise.all([rowsOfResult(trusted), rowsOfResult(sorted)]);
        assert.equal(a!.length, 5040);
        assert.deepEqual(a, b);
      }
    }
  });

  it('does not trust a view replaced outside bqx: its rows are sorted again', async () => {
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 5000) }], 'replace');
    const [view] = await w.query(`SELECT sql FROM duckdb_views() WHERE schema_name = '${DS}' AND view_name = 'up'`);
    // The same files, read in the opposite order.
    const reads = /read_parquet\(.*\)\)/.exec(String(view!.sql))![0];
    await w.execute(`CREATE OR REPLACE VIEW ${DS}.up AS SELECT * FROM ${reads} ORDER BY interval_time DESC`);
    assert.ok(!(await ordered()).has('up'));
    const before = w.inOrderExtracts;
    const rows = await rowsOfResult(await extract('up', false));
    assert.equal(w.inOrderExtracts, before);
    const keys = rows.map((r) => Number(new Date(String(r[1]))));
    assert.equal(keys.length, 5000);
    assert.ok(keys.every((k, i) => i === 0 || k > keys[i - 1]!), 'keys ascending in the checkpoint');
  });

  it('a list written before the order was recorded gains the columns on the next write, its tables read as unknown order until rewritten', async () => {
    await w.writeFileTables(DS, [{ table: 'old', select: rowsSql(0, 100) }], 'replace');
    await w.withConnection(async (c) => {
      for (const column of ['ordered', 'last_key', 'row_count', 'view_hash']) await c.run(`ALTER TABLE bqx_meta.file_tables DROP COLUMN ${column}`);
    });
    assert.deepEqual([...(await ordered())], []);
    await w.writeFileTables(DS, [{ table: 'new', select: rowsSql(0, 100) }], 'replace');
    assert.deepEqual([...(await ordered())], ['new']);
    await w.writeFileTables(DS, [{ table: 'old', select: rowsSql(100, 200) }], 'append');
    assert.deepEqual([...(await ordered())], ['new'], 'an append to a table of unknown order stays unknown');
    assert.deepEqual((await w.query(`SELECT count(*)::INT AS n FROM ${DS}.old`))[0], { n: 200 });
  });

  it('keySpans finds a trusted table\'s rows in a window and its shards as DuckDB counts them, across files and row groups, and declines bounds it cannot read exactly', async () => {
    // Two row groups in the first file (DuckDB's 122,880 rows each), an empty file, and a later one.
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 130_000) }], 'replace');
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 0) }], 'append');
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(130_000, 131_000) }], 'append');
    const table = (await orderedTables()).get('up')!;
    const keyCounts = (files: string[], window: { start: string; end: string }, shards: { start: string; end: string }[]) => {
      const spans = keySpans(files, window, shards);
      return spans && { window: spanRows(spans.window), shards: spans.shards.map(spanRows) };
    };
    assert.equal(table.files.length, 3);
    const duckdb = async (r: { start: string; end: string }) =>
      Number((await w.query(`SELECT count(*)::INT AS n FROM ${DS}.up WHERE interval_time >= '${r.start}'::TIMESTAMPTZ AND interval_time < '${r.end}'::TIMESTAMPTZ`))[0]!.n);
    const last = '2021-06-01T07:20:00.000Z'; // the key of row 130,000: the first of the later file
    const windows = [
      { start: '2021-03-01T20:00:00.000Z', end: '2021-06-02T00:00:00.000Z' },
      { start: '2021-02-01T00:00:00Z', end: '2021-03-01T20:00:00Z' }, // ends at the first key: none
      { start: '2021-05-31T00:00:00+02:00', end: last }, // a zone offset; ends where the later file begins
      { start: last, end: '2021-09-01T00:00:00.001Z' },
    ];
    for (const window of windows) {
      const shards = shardGrid(window, 'day');
      const counted = keyCounts(table.files, window, shards);
      assert.ok(counted, `${window.start}: counted`);
      assert.equal(counted.window, await duckdb(window), `${window.start}: the window`);
      assert.deepEqual(counted.shards, await Promise.all(shards.map(duckdb)), `${window.start}: the shards`);
    }
    assert.ok(windows.some((win) => keyCounts(table.files, win, [])!.window > 100_000), 'the rows of both row groups');
    assert.equal(keyCounts(table.files, { start: '2021-03-02T00:00:00.000001Z', end: last }, []), null, 'microseconds: DuckDB counts');
    assert.equal(keyCounts(table.files, { start: '2021-03-02T00:00:00', end: last }, []), null, 'no zone: DuckDB counts');
  });

  it('keySpans reads the keys of only the row groups whose key statistics meet a range (a refresh\'s day does not read the whole table\'s keys)', async () => {
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 5000) }], 'replace');
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(5000, 6440) }], 'append');
    const [early, later] = (await orderedTables()).get('up')!.files as [string, string];
    const layout = readLayout(early);
    const keyAt = (minute: number) => BigInt(Date.parse('2021-03-01T20:00:00Z') + minute * 60_000) * 1000n;
    assert.deepEqual(layout.rowGroups.map((g) => [g.keyMin, g.keyMax]), [[keyAt(0), keyAt(4999)]], 'the key statistics DuckDB wrote');
    // The early file's key pages overwritten: reading them fails, and keySpans then declines.
    const key = layout.schema.findIndex((n) => n.name === 'interval_time');
    const g = layout.rowGroups[0]!;
    const fd = openSync(early, 'r+');
    writeSync(fd, Buffer.alloc(g.compressedSize[key]!, 0xff), 0, g.compressedSize[key]!, g.dataPageOffset[key]!);
    closeSync(fd);
    const iso = (minute: number) => new Date(Date.parse('2021-03-01T20:00:00Z') + minute * 60_000).toISOString();
    const day = { start: iso(5000), end: iso(6440) };
    const spans = keySpans([early, later], day, shardGrid(day, 'day'));
    assert.ok(spans, 'a window after the early file never reads its keys');
    assert.equal(spanRows(spans.window), 1440);
    assert.deepEqual(spans.window, [{ source: 1, group: 0, from: 0, to: 1440 }]);
    assert.equal(keySpans([early, later], { start: iso(4999), end: iso(6440) }, []), null, 'a window that meets the early file reads its keys');
  });

  it('keySpans finds a range at the end of a big file from the end of its key chunk, doubling back as far as it must (a refresh\'s new minutes: not the whole chunk)', async () => {
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 20_000) }], 'replace');
    const [file] = (await orderedTables()).get('up')!.files as [string];
    const iso = (minute: number) => new Date(Date.parse('2021-03-01T20:00:00Z') + minute * 60_000).toISOString();
    const last60 = { start: iso(19_940), end: iso(21_000) };
    const last3000 = { start: iso(17_000), end: iso(21_000) };
    const whole = [keySpans([file], last60, shardGrid(last60, 'day')), keySpans([file], last3000, shardGrid(last3000, 'day'))];
    assert.deepEqual(whole[0]!.window, [{ source: 0, group: 0, from: 19_940, to: 20_000 }]);
    assert.deepEqual(whole[1]!.window, [{ source: 0, group: 0, from: 17_000, to: 20_000 }]);
    // Every key but the last 4,096 overwritten (the values end the chunk's one page): ranges in
    // those are found as before, so the keys before them were not read.
    const layout = readLayout(file);
    const key = layout.schema.findIndex((n) => n.name === 'interval_time');
    const g = layout.rowGroups[0]!;
    const end = g.dataPageOffset[key]! + g.compressedSize[key]!;
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc((20_000 - 4096) * 8, 0xff), 0, (20_000 - 4096) * 8, end - 20_000 * 8);
    closeSync(fd);
    assert.deepEqual(keySpans([file], last60, shardGrid(last60, 'day')), whole[0], 'the last 2,048 keys');
    assert.deepEqual(keySpans([file], last3000, shardGrid(last3000, 'day')), whole[1], 'the last 2,048 keys, then the last 4,096');
    // A range from the file's first rows reads every key (and here the overwritten ones).
    const early = { start: iso(10), end: iso(21_000) };
    assert.notDeepEqual(keySpans([file], early, [])?.window, [{ source: 0, group: 0, from: 10, to: 20_000 }]);
  });

  it('keyMicros gives a file\'s keys as hyparquet reads them (readKeyColumn), across row groups, and null where it cannot read them', async () => {
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 130_000) }], 'replace');
    const [file] = (await orderedTables()).get('up')!.files;
    const layout = readLayout(file!);
    assert.equal(layout.rowGroups.length, 2);
    const ours = keyMicros(file!, layout);
    assert.deepEqual(ours, await readKeyColumn(await asyncBufferFromFile(file!), readLocalFooter(file!).metadata));
    assert.equal(ours![0], Date.parse('2021-03-01T20:00:00Z') * 1000);
    // DuckDB's v2 pages encode an INT64 key DELTA_BINARY_PACKED, which the decoder does not read.
    const v2 = path.join(dir, 'v2.parquet');
    await w.execute(`COPY (${rowsSql(0, 100)}) TO '${v2}' (FORMAT parquet, PARQUET_VERSION v2)`);
    assert.equal(keyMicros(v2, readLayout(v2)), null);
  });

  it('keyOrder reads the first and last key of a file bqx wrote, and says null of a file whose keys repeat', async () => {
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 3) }, { table: 'repeated', select: `${rowsSql(0, 3)} UNION ALL ${rowsSql(2, 3)}` }], 'replace');
    const fileOf = async (table: string) => {
      const [view] = await w.query(`SELECT sql FROM duckdb_views() WHERE schema_name = '${DS}' AND view_name = '${table}'`);
      return path.join(dir, /read_parquet\(main\.list_value\('([^']*)'\)\)/.exec(String(view!.sql))![1]!);
    };
    const start = BigInt(Date.parse('2021-03-01T20:00:00Z')) * 1000n;
    assert.deepEqual(keyOrder(await fileOf('up')), { rows: 3, first: start, last: start + 2n * 60_000_000n });
    assert.equal(keyOrder(await fileOf('repeated')), null);
  });
});
