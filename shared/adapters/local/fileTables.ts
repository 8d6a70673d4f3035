// Tables the embedded warehouse keeps as parquet files beside its DuckDB file, read through a view
// (what a BigQuery external table is to Cloud Storage). The demo's feature tables are kept so: writing
// 667 wide tables into DuckDB's own storage cost twice the time of writing them as parquet (its
// checkpoints compress and gather statistics for every column on one thread), and an extract reads
// either as fast.
//
// Layout: <warehouse dir>/<warehouse name>.tables/<dataset>/<table>/<unique id>.parquet. The views
// name the files relative to the warehouse's folder (DuckDB's file_search_path is set to it), so a
// home moved or copied whole keeps working. Files are never changed once written: a rewrite writes
// new files and points the view at them, an append adds a file to the view's list. The view and
// the list bqx keeps of its files (bqx_meta.file_tables) change in one transaction; files no view
// names any more are removed after it, and files a crash left behind on the next write of the table.
// The list also says whether the table's keys are strictly ascending, file after file (checked on
// each file as it is written: keyOrder.ts), and the hash of the view that reads them: an extract
// trusts that order, and skips its sort and distinct count, only while the view is still bqx's.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { listValue } from './duckdbApi.js';
import { assertIdentifier, quoteIdent } from '../../naming.js';
import { literal } from './duckdbSql.js';
import { keyOrder, type KeyOrder } from './keyOrder.js';

const META = 'bqx_meta';
const q = (name: string) => quoteIdent(name, 'duckdb');

/** The folder a warehouse file's tables are kept in, relative to the warehouse file's folder. */
export function fileTablesFolder(warehouseFile: string): string {
  return `${path.basename(warehouseFile, path.extname(warehouseFile))}.tables`;
}

/**
 * Parquet as the tables are written: uncompressed (snappy saved no disk on the demo's values, about
 * 1.3 GB either way at 10,000 rows, and the demo build took 12.3-12.4 s against 13.4-13.7 s with it;
 * zstd took longer still) and without dictionaries (the values are nearly all distinct). Row groups
 * of DuckDB's default size: with 2,048-row groups the first run's extracts took 26.5 s, not 16-18 s.
 */
const WRITE_OPTIONS = 'FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 0';

export type FileTableMode = 'replace' | 'append';

/** Where a warehouse keeps its file tables: its file's folder, and the tables' folder in it. */
export interface FileTablesPlace {
  root: string;
  folder: string;
}

/** One table's new rows: a SELECT (with its parameters). */
export interface FileTableWrite {
  table: string;
  select: string;
  params?: DuckDBValue[];
}

/**
 * Writes each `select`'s rows as the table `dataset`.`table`: its only rows ('replace'; a native
 * table of that name is dropped), or rows added to it ('append'; it must be a file table). The
 * files are written by `copies` statements at a time, each on a connection of its own; then every
 * view changes in one transaction (one per table cost a third of the demo build), so a failure
 * leaves every table as it was.
 */
export async function writeFileTables(
  connect: <T>(body: (c: DuckDBConnection) => Promise<T>) => Promise<T>,
  place: FileTablesPlace,
  dataset: string,
  writes: readonly FileTableWrite[],
  mode: FileTableMode,
  options: { copies: number; onWritten?: (table: string) => void },
): Promise<void> {
  assertIdentifier(dataset, 'dataset');
  writes.forEach((w) => assertIdentifier(w.table, 'table'));
  if (writes.length === 0) return;
  const earlier = await connect((c) => fileTableLists(c, dataset));
  const strays = writes.filter((w) => mode === 'append' && !earlier.has(w.table)).map((w) => w.table);
  if (strays.length > 0) throw new Error(`${strays.map((t) => `${dataset}.${t}`).join(', ')}: not file tables, nothing to append to`);
  const written = new Map<string, { name: string; order: KeyOrder | null }>();
  try {
    let next = 0;
    let failed = false;
    const worker = () => connect(async (c) => {
      while (next < writes.length && !failed) {
        const w = writes[next++]!;
        try {
          written.set(w.table, await writeFile(c, place, dataset, w));
        } catch (error) {
          failed = true;
          throw error;
        }
        options.onWritten?.(w.table);
      }
    });
    // Every worker settles before a failure is thrown, so the clean-up below sees every file written.
    const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(options.copies, writes.length)) }, worker));
    const rejected = settled.find((r) => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    const lists = new Map(writes.map((w) => {
      const before = mode === 'append' ? earlier.get(w.table)! : undefined;
      const file = written.get(w.table)!;
      return [w.table, { files: [...(before?.files ?? []), file.name], order: following(before ? before.order : { rows: 0 }, file.order) }];
    }));
    await connect(async (c) => {
      await ensureMeta(c);
      await c.run('BEGIN TRANSACTION');
      try {
        for (const [table, { files }] of lists) {
          if (!earlier.has(table)) await c.run(`DROP TABLE IF EXISTS ${q(dataset)}.${q(table)}`);
          await c.run(`CREATE OR REPLACE VIEW ${q(dataset)}.${q(table)} AS SELECT * FROM read_parquet(${listSql(files)})`);
        }
        const tables = [...lists.keys()];
        const orders = tables.map((t) => lists.get(t)!.order);
        await c.run(`DELETE FROM ${META}.file_tables WHERE dataset = $1 AND list_contains($2::VARCHAR[], table_name)`, [dataset, listValue(tables)]);
        // The views' hashes as DuckDB keeps their text, read back in the same transaction.
        await c.run(
          `INSERT INTO ${META}.file_tables (dataset, table_name, files, ordered, last_key, row_count, view_hash)
           SELECT $1, t.table_name, t.files, t.ordered, t.last_key, t.row_count, hash(v.sql)
           FROM (SELECT unnest($2::VARCHAR[]) AS table_name, unnest($3::VARCHAR[][]) AS files, unnest($4::BOOLEAN[]) AS ordered, unnest($5::BIGINT[]) AS last_key, unnest($6::BIGINT[]) AS row_count) t
           JOIN duckdb_views() v ON v.schema_name = $1 AND v.view_name = t.table_name`,
          [
            dataset,
            listValue(tables),
            listValue(tables.map((t) => listValue(lists.get(t)!.files))),
            listValue(orders.map((o) => o !== null)),
            listValue(orders.map((o) => o?.last ?? null)),
            listValue(orders.map((o) => (o ? BigInt(o.rows) : null))),
          ],
        );
        await c.run('COMMIT');
      } catch (error) {
        await c.run('ROLLBACK').catch(() => {});
        throw error;
      }
    });
    await Promise.all([...lists].map(([table, { files }]) => removeUnlisted(place, dataset, table, files)));
  } catch (error) {
    await Promise.all([...written.values()].map((f) => fs.rm(path.join(place.root, f.name), { force: true })));
    throw error;
  }
}

/** A file table's keys, known strictly ascending file after file: how many, and the last (none while it has no row). */
interface TableOrder {
  rows: number;
  last?: bigint;
}

/** A table's key order once a file of order `next` follows its files: null when not ascending. */
function following(before: TableOrder | null, next: KeyOrder | null): TableOrder | null {
  if (before === null || next === null) return null;
  if (next.last === undefined) return before;
  if (before.last !== undefined && !(next.first! > before.last)) return null;
  return { rows: before.rows + next.rows, last: next.last };
}

/**
 * Writes one table's rows to a new file (named once complete); returns its name relative to the
 * root and the order of its keys (read back from the file, 0.3 ms at 20,000 rows).
 */
async function writeFile(c: DuckDBConnection, place: FileTablesPlace, dataset: string, w: FileTableWrite): Promise<{ name: string; order: KeyOrder | null }> {
  const dir = path.join(place.folder, dataset, w.table);
  await fs.mkdir(path.join(place.root, dir), { recursive: true });
  const name = path.join(dir, `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}.parquet`);
  const partial = path.join(place.root, `${name}.partial`);
  try {
    await c.run(`COPY (${w.select}) TO ${literal(partial)} (${WRITE_OPTIONS})`, w.params ?? []);
    const order = keyOrder(partial);
    await fs.rename(partial, path.join(place.root, name));
    return { name, order };
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  }
}

/** A file table's files, in order, and its key order as recorded (null: not known ascending). */
interface FileTableList {
  files: string[];
  order: TableOrder | null;
}

/** Every file table of `dataset` with its files and key order. */
async function fileTableLists(c: DuckDBConnection, dataset: string): Promise<Map<string, FileTableList>> {
  if (!(await hasMeta(c))) return new Map();
  // A list written before the order was recorded reads as not known ascending.
  const known = await hasOrderColumns(c);
  const rows = (await c.runAndReadAll(`SELECT table_name, files${known ? ', ordered, last_key, row_count' : ''} FROM ${META}.file_tables WHERE dataset = $1`, [dataset])).getRowsJS();
  return new Map(rows.map((r) => {
    const [table, files, ordered, last, count] = r as [string, string[], boolean | null | undefined, bigint | null | undefined, bigint | null | undefined];
    const order = ordered === true ? { rows: Number(count), ...(last === null || last === undefined ? {} : { last: BigInt(last) }) } : null;
    return [String(table), { files, order }];
  }));
}

/** A file table known to be in key order: its rows, and its files (paths under the place's root). */
export interface OrderedTable {
  rows: number;
  files: string[];
}

/**
 * The file tables of `dataset` whose keys are strictly ascending, file after file, with their
 * rows and files, each read through the very view bqx wrote for it (a view replaced by other means
 * reads as unknown order).
 */
export async function keyOrderedTables(c: DuckDBConnection, place: FileTablesPlace | undefined, dataset: string): Promise<Map<string, OrderedTable>> {
  if (!place || !(await hasMeta(c)) || !(await hasOrderColumns(c))) return new Map();
  const rows = (await c.runAndReadAll(
    `SELECT f.table_name, f.row_count, f.files FROM ${META}.file_tables f JOIN duckdb_views() v ON v.schema_name = f.dataset AND v.view_name = f.table_name
     WHERE f.dataset = $1 AND f.ordered AND f.view_hash = hash(v.sql)`,
    [dataset],
  )).getRowsJS();
  return new Map(rows.map((r) => {
    const [table, count, files] = r as [string, bigint, string[]];
    return [String(table), { rows: Number(count), files: files.map((f) => path.join(place.root, f)) }];
  }));
}

/** The file tables of a dataset. */
export async function fileTableNames(c: DuckDBConnection, dataset: string): Promise<Set<string>> {
  return new Set((await fileTableLists(c, dataset)).keys());
}

async function hasMeta(c: DuckDBConnection): Promise<boolean> {
  const [row] = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'file_tables'`)).getRows();
  return Number(row![0]) > 0;
}

/** What the list records of a table's key order (added to lists written before it was). */
const ORDER_COLUMNS = ['ordered BOOLEAN', 'last_key BIGINT', 'row_count BIGINT', 'view_hash UBIGINT'];

/** Whether the list has the order columns. Asked of the list itself: duckdb_columns() lists every column of every table (50 ms with the demo's 17,000). */
async function hasOrderColumns(c: DuckDBConnection): Promise<boolean> {
  const names = new Set((await c.runAndReadAll(`SELECT * FROM ${META}.file_tables LIMIT 0`)).columnNames());
  return ORDER_COLUMNS.every((d) => names.has(d.split(' ')[0]!));
}

/** The list's table; one written before the key order was recorded gains its columns (its tables read as unknown order). */
async function ensureMeta(c: DuckDBConnection): Promise<void> {
  if (!(await hasMeta(c))) {
    await c.run(`CREATE SCHEMA IF NOT EXISTS ${META}`);
    await c.run(`CREATE TABLE IF NOT EXISTS ${META}.file_tables (dataset VARCHAR NOT NULL, table_name VARCHAR NOT NULL, files VARCHAR[] NOT NULL, ${ORDER_COLUMNS.join(', ')}, PRIMARY KEY (dataset, table_name))`);
    return;
  }
  if (await hasOrderColumns(c)) return;
  for (const column of ORDER_COLUMNS) await c.run(`ALTER TABLE ${META}.file_tables ADD COLUMN IF NOT EXISTS ${column}`);
}

function listSql(files: readonly string[]): string {
  return `[${files.map(literal).join(', ')}]`;
}

/** Removes what the table's folder holds beyond `files` (replaced files, a crash's leftovers). */
async function removeUnlisted(place: FileTablesPlace, dataset: string, table: string, files: readonly string[]): Promise<void> {
  const dir = path.join(place.root, place.folder, dataset, table);
  const keep = new Set(files.map((f) => path.basename(f)));
  const present = await fs.readdir(dir);
  await Promise.all(present.filter((f) => !keep.has(f)).map((f) => fs.rm(path.join(dir, f), { force: true })));
}
