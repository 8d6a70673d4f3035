// An extract of a file table known to be in key order, written from the table's own pages without
// DuckDB (keyedExtract.ts, keyedShardWriter.ts). What must hold: the files are the ones DuckDB's
// sorted copy writes of the same rows (shard for shard, value for value: nulls, NaN and -0.0
// kept), with the same schema and the figures the landing check reads from the footers; a
// refresh's partial shard stays in its files until four hold it, then its rows (from either
// writer's checkpoint) are carried first into the first shard's file; a table with a column of
// another type is left to DuckDB.

import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import { DuckDbWarehouse, KEYED_THREAD_CELLS } from '../../shared/adapters/local/duckdbWarehouse.js';
import { keyOrderedTables } from '../../shared/adapters/local/fileTables.js';
import { readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { summariseFooters } from '../../shared/checkpoint.js';
import { shardGrid } from '../../shared/shards.js';
import type { ExtractResult, Window } from '../../shared/ports.js';
import { rowsOfFiles } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const DS = 'f';
const COLUMNS = ['a', 'b', 'c'];
// Minutes i from 2021-03-01 20:03 (so shards begin at rows that are not multiples of 8). b: a null every 7th; c: NaN, -0.0, +inf, and no value at all for a whole day (minutes 1,000-2,500).
const rowsSql = (from: number, to: number, tail = '', extra = '') => `SELECT TIMESTAMPTZ '2021-03-01 20:03:00+00' + to_minutes(i) AS interval_time, (i * 0.5)::DOUBLE AS a,
  CASE WHEN i % 7 = 0 THEN NULL ELSE cos(i) END AS b,
  CASE WHEN i BETWEEN 1000 AND 2500 THEN NULL WHEN i % 11 = 0 THEN 'NaN'::DOUBLE WHEN i % 13 = 0 THEN -0.0 WHEN i % 17 = 0 THEN 'inf'::DOUBLE ELSE i / 3 END AS c${extra}
  FROM range(${from}, ${to}) r(i)${tail}`;
/** The files of a file table known in key order, as absolute paths. */
const keyedOrderedFiles = async (c: Parameters<typeof keyOrderedTables>[0], dir: string, table: string) => (await keyOrderedTables(c, { root: dir, folder: 'wh.tables' }, DS)).get(table)?.files;
const at = (minutes: number) => new Date(Date.parse('2021-03-01T20:03:00Z') + minutes * 60_000).toISOString();

describe('embedded warehouse: extracts written from a key-ordered table\'s own pages', function () {
  this.timeout(60_000);
  let dir: string;
  let w: DuckDbWarehouse;
  let staging: FolderObjectStore;
  let n = 0;
  const extract = (feature: string, window: Window, options: { shards?: boolean; carry?: string[]; columns?: string[] } = {}): Promise<ExtractResult> =>
    w.extract({ runId: 'r', pair: 'eurusd', feature, dataset: DS, columns: options.columns ?? COLUMNS, window, prefix: `runs/r/${feature}-${n++}/`, shards: options.shards === false ? [] : shardGrid(window, 'day'), ...(options.carry ? { carry: options.carry } : {}) });
  const filesOf = (r: ExtractResult) => {
    assert.equal(r.state, 'done');
    return (r as { files: string[] }).files.map((f) => staging.uri(f));
  };
  const schemaOf = async (file: string) => {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      return (await c.runAndReadAll('SELECT name, type, repetition_type, converted_type, logical_type FROM parquet_schema($1)', [listValue([file])])).getRowsJS();
    } finally {
      c.closeSync();
      db.closeSync();
    }
  };
  const summary = (file: string) => {
    const s = summariseFooters([readLocalFooter(file)]);
    return { rows: s.rows, columns: [...s.columns], nullCounts: [...s.nullCounts], minKey: s.minKey, maxKey: s.maxKey, keyOrdered: s.keyOrdered };
  };
  /** Both extracts wrote the same files: rows (cell for cell, by file), schema and footer figures. */
  const assertSameFiles = async (keyed: ExtractResult, copied: ExtractResult) => {
    const counts = (r: ExtractResult) => r.state === 'done' && [r.rows, r.sourceRows, r.duplicates, r.files.length, r.carried];
    assert.deepEqual(counts(keyed), counts(copied));
    const [a, b] = [filesOf(keyed), filesOf(copied)];
    assert.deepStrictEqual(await rowsOfFiles(a), await rowsOfFiles(b));
    for (const [i, file] of a.entries()) {
      assert.deepEqual(await schemaOf(file), await schemaOf(b[i]!), `${path.basename(file)}: schema`);
      assert.deepEqual(summary(file), summary(b[i]!), `${path.basename(file)}: footer figures`);
    }
  };

  beforeEach(async () => {
    dir = tempDir('keyed-extract');
    staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
    w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, new FolderObjectStore(path.join(dir, 'output'), 'output'), { memoryMb: 512 });
    await w.execute(`CREATE SCHEMA ${DS}`);
    // The same rows as a file table in two files (the second appended) and as a table DuckDB stores, shuffled.
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(0, 5000) }], 'replace');
    await w.writeFileTables(DS, [{ table: 'up', select: rowsSql(5000, 6000) }], 'append');
    await w.execute(`CREATE TABLE ${DS}.stored AS ${rowsSql(0, 6000, ' ORDER BY hash(i)')}`);
  });
  afterEach(async () => {
    await w.close();
  });

  it('writes the same files as DuckDB\'s sorted copy: day shards across both files, one shard, a window with no rows', async () => {
    const windows = [
      { start: at(0), end: at(5040) }, // ends mid-day, past the first file
      { start: at(-600), end: at(7000) }, // begins before the first key, ends after the last
      { start: at(10_000), end: at(12_000) }, // nothing: one empty file
    ];
    for (const window of windows) {
      for (const shards of [true, false]) {
        const before = w.keyedExtracts;
        const keyed = await extract('up', window, { shards });
        assert.equal(w.keyedExtracts, before + 1, `${window.start} ${shards}: written from the pages`);
        const copied = await extract('stored', window, { shards });
        assert.equal(w.keyedExtracts, before + 1, 'a table DuckDB stores is copied by DuckDB');
        await assertSameFiles(keyed, copied);
      }
    }
    const whole = await extract('up', windows[1]!);
    assert.deepEqual(whole.state === 'done' && [whole.rows, whole.files.length], [6000, 6], 'every row, one file per day with rows (six days)');
  });

  it('a refresh\'s partial day: left in its file, the new rows in their own, until four files hold it; then carried first into one (a carry DuckDB wrote is left to DuckDB)', async () => {
    const [before, after] = [{ start: at(0), end: at(4000) }, { start: at(4000), end: at(6000) }];
    // Minute 3,117 is 2021-03-04 00:00: the earlier checkpoint's last day holds 883 rows.
    const dayStart = 3117;
    assert.equal(at(dayStart), '2021-03-04T00:00:00.000Z');
    const firstKey = async (file: string) => Date.parse(String((await rowsOfFiles([file]))[0]![1]));
    // The partial last day of an earlier checkpoint: written from the pages, or by DuckDB (its v2
    // pages encode the key with DELTA_BINARY_PACKED, which the decoder does not read).
    for (const earlier of ['up', 'stored']) {
      // One file holds the day: it stays, and the new rows are written as without it.
      const first = await extract(earlier, before);
      const one = [(first as { files: string[] }).files.at(-1)!];
      const keyedCount = w.keyedExtracts;
      const left = await extract('up', after, { carry: one });
      assert.equal(w.keyedExtracts, keyedCount + 1, `${earlier}: written from the pages, the earlier file not read`);
      assert.ok(left.state === 'done' && left.carried === undefined && left.rows === 2000, 'nothing carried');
      assert.equal(await firstKey(filesOf(left)[0]!), Date.parse(at(4000)), 'the first file begins with the new rows');
      await assertSameFiles(left, await extract('up', after));
      // DuckDB's copy carries it still (its new rows' pages may not join the earlier ones'):
      const copiedOne = await extract('stored', after, { carry: one });
      assert.ok(copiedOne.state === 'done' && copiedOne.carried === 883);

      // Four files hold the day (four earlier refreshes): the keyed extract carries them.
      const pieces = [dayStart, 3300, 3500, 3800, 4000];
      const four: string[] = [];
      for (let i = 0; i < 4; i++) four.push(...(((await extract(earlier, { start: at(pieces[i]!), end: at(pieces[i + 1]!) })) as { files: string[] }).files));
      assert.equal(four.length, 4);
      const countBefore = w.keyedExtracts;
      const keyed = await extract('up', after, { carry: four });
      assert.equal(w.keyedExtracts, countBefore + (earlier === 'up' ? 1 : 0));
      const copied = await extract('stored', after, { carry: four });
      await assertSameFiles(keyed, copied);
      assert.ok(keyed.state === 'done' && keyed.carried === 883 && keyed.rows === 2000);
      // The first file: the carried day's earlier rows, then its new ones, as in the table.
      const [firstFile] = await rowsOfFiles([filesOf(keyed)[0]!]).then((rows) => [rows.map((r) => r.slice(1))]);
      const expected = await w.query(`SELECT * FROM ${DS}.stored WHERE interval_time >= $1::TIMESTAMPTZ AND interval_time < $2::TIMESTAMPTZ ORDER BY interval_time`, [at(dayStart), '2021-03-05T00:00:00Z']);
      assert.equal(firstFile!.length, expected.length);
      assert.equal(Date.parse(String(firstFile![0]![0])), Date.parse(at(dayStart)), 'begins with the carried rows');
    }
  });

  it('writes pages larger than its write buffer as they come, between the buffered ones: the same file as DuckDB\'s', async () => {
    // 40,000 rows: each column's page is 320 KB, over the 256 KB a file's pages wait in; the key's
    // page goes first, and the footer after the last page.
    await w.writeFileTables(DS, [{ table: 'long', select: rowsSql(0, 40_000) }], 'replace');
    await w.execute(`CREATE TABLE ${DS}.long_stored AS ${rowsSql(0, 40_000, ' ORDER BY hash(i)')}`);
    const window = { start: at(0), end: at(40_000) };
    const before = w.keyedExtracts;
    const keyed = await extract('long', window, { shards: false });
    assert.equal(w.keyedExtracts, before + 1, 'written from the pages');
    await assertSameFiles(keyed, await extract('long_stored', window, { shards: false }));
    // And with day shards: 28 files of about 1,440 rows, several an extract, each written at once.
    await assertSameFiles(await extract('long', window), await extract('long_stored', window));
  });

  it('writes a larger table on the keyed writer\'s threads, the same files again; a write that fails there leaves no file', async () => {
    // 40 more columns: 2,000 rows x 44 columns is over KEYED_THREAD_CELLS.
    const wide = Array.from({ length: 40 }, (_, k) => `, CASE WHEN (i + ${k}) % 9 = 0 THEN NULL ELSE sin(i * ${k + 1}) END AS w${k}`).join('');
    const columns = [...COLUMNS, ...Array.from({ length: 40 }, (_, k) => `w${k}`)];
    await w.writeFileTables(DS, [{ table: 'wide', select: rowsSql(0, 2000, '', wide) }], 'replace');
    await w.execute(`CREATE TABLE ${DS}.wide_stored AS ${rowsSql(0, 2000, ' ORDER BY hash(i)', wide)}`);
    const window = { start: at(0), end: at(2000) };
    assert.ok(2000 * (columns.length + 1) >= KEYED_THREAD_CELLS);
    const before = w.keyedOnThreads;
    const keyed = await extract('wide', window, { columns });
    assert.equal(w.keyedOnThreads, before + 1, 'written on a thread');
    await assertSameFiles(keyed, await extract('wide_stored', window, { columns }));
    // A page the thread cannot read (the last column's, past what the plan reads: the footer and
    // the key): its error comes back from the thread, and no file is left behind.
    const [file] = (await w.withConnection((c) => keyedOrderedFiles(c, dir, 'wide')))!;
    const layout = readLayout(file!);
    const page = layout.rowGroups[0]!.dataPageOffset[layout.schema.findIndex((e) => e.name === 'w39')]!;
    const handle = await fs.open(file!, 'r+');
    const before8 = Buffer.alloc(8);
    await handle.read(before8, 0, 8, page);
    await handle.write(Buffer.alloc(8, 0xff), 0, 8, page);
    await assert.rejects(extract('wide', window, { columns }), /keyed extract thread: column w39/);
    await handle.write(before8, 0, 8, page);
    await handle.close();
    // A thread that dies fails the extract under way; the next one starts new threads.
    const pool = (w as unknown as { keyedThreads: { all: { terminate(): Promise<number> }[] } }).keyedThreads;
    const dying = extract('wide', window, { columns });
    await Promise.all(pool.all.map((t) => t.terminate()));
    await assert.rejects(dying, /keyed extract thread exited|keyed extract threads were closed/);
    const again = await extract('wide', window, { columns });
    assert.ok(again.state === 'done' && again.rows === 2000, 'written by new threads');
    const leftover = (await fs.readdir(path.join(dir, 'staging', '.tmp')).catch(() => [] as string[])).filter((f) => f.endsWith('.parquet'));
    assert.deepEqual(leftover, [], 'no temp file left');
  });

  it('ends the keyed writer\'s threads once idle, and starts new ones for the next extract', async () => {
    const wide = Array.from({ length: 40 }, (_, k) => `, sin(i * ${k + 1}) AS w${k}`).join('');
    const columns = [...COLUMNS, ...Array.from({ length: 40 }, (_, k) => `w${k}`)];
    await w.close();
    w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, new FolderObjectStore(path.join(dir, 'output'), 'output'), { memoryMb: 512, keyedIdleMs: 50, extractConcurrency: 4 });
    await w.writeFileTables(DS, [{ table: 'wide', select: rowsSql(0, 2000, '', wide) }], 'replace');
    const window = { start: at(0), end: at(2000) };
    const threads = () => (w as unknown as { keyedThreads?: { all: unknown[] } }).keyedThreads;
    const first = await extract('wide', window, { columns });
    assert.equal(w.keyedOnThreads, 1, 'written on a thread');
    const pool = threads();
    assert.ok(pool, 'the threads stay just after an extract');
    assert.equal(pool.all.length, Math.min(4, os.availableParallelism()), 'a thread a core, up to the extract concurrency');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(threads(), undefined, 'ended once idle');
    const second = await extract('wide', window, { columns });
    assert.equal(w.keyedOnThreads, 2, 'written on a thread again');
    assert.ok(threads() && threads() !== pool, 'by new threads');
    assert.deepStrictEqual(await rowsOfFiles(filesOf(second)), await rowsOfFiles(filesOf(first)));
  });

  it('leaves a table with a column of another type to DuckDB, counted from its keys', async () => {
    await w.writeFileTables(DS, [{ table: 'mixed', select: rowsSql(0, 3000, '', ', i::INTEGER AS n') }], 'replace');
    const [keyed, counted] = [w.keyedExtracts, w.countsFromKeys];
    const window = { start: at(0), end: at(2000) };
    const r = await extract('mixed', window, { columns: [...COLUMNS, 'n'] });
    assert.equal(w.keyedExtracts, keyed);
    assert.equal(w.countsFromKeys, counted + 1);
    assert.ok(r.state === 'done' && r.rows === 2000);
    const rows = await rowsOfFiles(filesOf(r));
    assert.deepEqual(rows.map((x) => x[5]), Array.from({ length: 2000 }, (_, i) => i));
  });
});
