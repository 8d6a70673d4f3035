// Tables the embedded warehouse keeps as parquet files read through views (the demo's feature
// tables): what a write leaves on disk and in the catalog, that a failed write changes nothing,
// that a rewrite by any path gives a new data version (no stale reuse), and that a home copied
// elsewhere still reads them.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { tempDir } from '../helpers/temp.js';

const DS = 'features';
const rowsSql = (from: number, to: number, scale = 1) =>
  `SELECT TIMESTAMPTZ '2021-03-01 00:00:00+00' + to_minutes(i) AS interval_time, (i * ${scale})::DOUBLE AS v FROM range(${from}, ${to}) r(i)`;

async function open(home: string): Promise<DuckDbWarehouse> {
  const store = new FolderObjectStore(path.join(home, 'scratch'));
  return DuckDbWarehouse.open(path.join(home, 'warehouse.duckdb'), store, store, { memoryMb: 512 });
}

function filesOf(home: string, table: string): string[] {
  const dir = path.join(home, 'warehouse.tables', DS, table);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

async function values(w: DuckDbWarehouse, table: string): Promise<number[]> {
  const rows = await w.query(`SELECT v FROM ${DS}.${table} ORDER BY interval_time`);
  return rows.map((r) => Number(r.v));
}

describe('embedded warehouse: file tables (parquet files read through views)', function () {
  let home: string;
  let w: DuckDbWarehouse;

  beforeEach(async () => {
    home = tempDir('file-tables');
    w = await open(home);
    await w.execute(`CREATE SCHEMA ${DS}`);
  });
  afterEach(async () => {
    await w.close().catch(() => {});
  });

  it('writes each table as one parquet file under warehouse.tables, listed by the catalog with its types', async () => {
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 5) }, { table: 'b', select: rowsSql(0, 3, 2) }], 'replace');
    assert.deepEqual(await values(w, 'a'), [0, 1, 2, 3, 4]);
    assert.deepEqual(await values(w, 'b'), [0, 2, 4]);
    assert.equal(filesOf(home, 'a').length, 1);
    assert.match(filesOf(home, 'a')[0]!, /\.parquet$/);
    const tables = await w.listTables(DS);
    assert.deepEqual(tables.map((t) => t.table), ['a', 'b']);
    assert.deepEqual(tables[0]!.columns, [{ name: 'interval_time', type: 'TIMESTAMP' }, { name: 'v', type: 'FLOAT64' }]);
    assert.deepEqual([...(await w.fileTables(DS))].sort(), ['a', 'b']);
  });

  it('a replace takes the place of a DuckDB table of that name, and a later replace removes the files it no longer reads', async () => {
    await w.execute(`CREATE TABLE ${DS}.a AS ${rowsSql(0, 2)}`);
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 4) }], 'replace');
    assert.deepEqual(await values(w, 'a'), [0, 1, 2, 3]);
    const first = filesOf(home, 'a');
    // A crash's leftover in the table's folder goes too.
    writeFileSync(path.join(home, 'warehouse.tables', DS, 'a', 'stray.parquet.partial'), 'x');
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 4, 3) }], 'replace');
    assert.deepEqual(await values(w, 'a'), [0, 3, 6, 9]);
    const second = filesOf(home, 'a');
    assert.equal(second.length, 1);
    assert.notDeepEqual(second, first);
  });

  it('an append adds a file and the rows; appending to a table that is not a file table is refused', async () => {
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 3) }], 'replace');
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(3, 5) }], 'append');
    assert.deepEqual(await values(w, 'a'), [0, 1, 2, 3, 4]);
    assert.equal(filesOf(home, 'a').length, 2);
    await w.execute(`CREATE TABLE ${DS}.native AS ${rowsSql(0, 2)}`);
    await assert.rejects(w.writeFileTables(DS, [{ table: 'native', select: rowsSql(2, 3) }], 'append'), /features\.native: not file tables, nothing to append to/);
    assert.deepEqual(await values(w, 'native'), [0, 1]);
  });

  it('a write that fails in one table changes no table and leaves no new file', async () => {
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 3) }, { table: 'b', select: rowsSql(0, 3) }], 'replace');
    const before = [filesOf(home, 'a'), filesOf(home, 'b')];
    await assert.rejects(
      w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 3, 5) }, { table: 'b', select: 'SELECT no_such_column FROM range(3)' }], 'replace'),
      /no_such_column/,
    );
    assert.deepEqual(await values(w, 'a'), [0, 1, 2]);
    assert.deepEqual([filesOf(home, 'a'), filesOf(home, 'b')], before);
  });

  it('every rewrite gives a new data version, even one no version was recorded for (no stale reuse), and an append only moves later windows', async () => {
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 100) }], 'replace');
    await w.markChanged(DS, ['a']);
    const window = { start: '2021-03-01T00:00:00.000Z', end: '2021-03-01T01:00:00.000Z' };
    const v1 = await w.dataVersions(DS, ['a'], window);
    assert.ok(v1.a);
    // Same schema, same rows, new values, and no markChanged: the version still moves.
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 100, 2) }], 'replace');
    const v2 = await w.dataVersions(DS, ['a'], window);
    assert.notEqual(v2.a, v1.a);
    // An append recorded with its range (as demo --append does) keeps the earlier window's version.
    await w.markChanged(DS, ['a']);
    const v3 = await w.dataVersions(DS, ['a'], window);
    const range = { start: '2021-03-01T01:40:00.000Z', end: null };
    await w.markChanged(DS, ['a'], range);
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(100, 120) }], 'append');
    await w.markChanged(DS, ['a'], range);
    assert.equal((await w.dataVersions(DS, ['a'], window)).a, v3.a);
    const later = { start: '2021-03-01T01:00:00.000Z', end: '2021-03-01T03:00:00.000Z' };
    assert.notEqual((await w.dataVersions(DS, ['a'], later)).a, v3.a);
  });

  it('a home copied elsewhere reads its own copy of the files', async () => {
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 3) }], 'replace');
    await w.close();
    const copy = tempDir('file-tables-copy');
    cpSync(home, copy, { recursive: true });
    w = await open(copy);
    assert.deepEqual(await values(w, 'a'), [0, 1, 2]);
    await w.writeFileTables(DS, [{ table: 'a', select: rowsSql(0, 3, 7) }], 'replace');
    assert.deepEqual(await values(w, 'a'), [0, 7, 14]);
    await w.close();
    w = await open(home);
    assert.deepEqual(await values(w, 'a'), [0, 1, 2], 'the original home is untouched');
  });
});
