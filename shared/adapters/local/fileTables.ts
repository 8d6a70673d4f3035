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

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { assertIdentifier, quoteIdent } from '../../naming.js';
import { literal } from './duckdbSql.js';

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
  const written = new Map<string, string>();
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
    const lists = new Map(writes.map((w) => [w.table, [...(mode === 'append' ? earlier.get(w.table)! : []), written.get(w.table)!]]));
    await connect(async (c) => {
      await ensureMeta(c);
      await c.run('BEGIN TRANSACTION');
      try {
        for (const [table, files] of lists) {
          if (!earlier.has(table)) await c.run(`DROP TABLE IF EXISTS ${q(dataset)}.${q(table)}`);
          await c.run(`CREATE OR REPLACE VIEW ${q(dataset)}.${q(table)} AS SELECT * FROM read_parquet(${listSql(files)})`);
        }
        const tables = [...lists.keys()];
        await c.run(`DELETE FROM ${META}.file_tables WHERE dataset = $1 AND list_contains($2::VARCHAR[], table_name)`, [dataset, listValue(tables)]);
        await c.run(
          `INSERT INTO ${META}.file_tables SELECT $1, unnest($2::VARCHAR[]), unnest($3::VARCHAR[][])`,
          [dataset, listValue(tables), listValue(tables.map((t) => listValue(lists.get(t)!)))],
        );
        await c.run('COMMIT');
      } catch (error) {
        await c.run('ROLLBACK').catch(() => {});
        throw error;
      }
    });
    await Promise.all([...lists].map(([table, files]) => removeUnlisted(place, dataset, table, files)));
  } catch (error) {
    await Promise.all([...written.values()].map((f) => fs.rm(path.join(place.root, f), { force: true })));
    throw error;
  }
}

/** Writes one table's rows to a new file (named once complete); returns its name relative to the root. */
async function writeFile(c: DuckDBConnection, place: FileTablesPlace, dataset: string, w: FileTableWrite): Promise<string> {
  const dir = path.join(place.folder, dataset, w.table);
  await fs.mkdir(path.join(place.root, dir), { recursive: true });
  const name = path.join(dir, `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}.parquet`);
  const partial = path.join(place.root, `${name}.partial`);
  try {
    await c.run(`COPY (${w.select}) TO ${literal(partial)} (${WRITE_OPTIONS})`, w.params ?? []);
    await fs.rename(partial, path.join(place.root, name));
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  }
  return name;
}

/** Every file table of `dataset` with its files, in order. */
async function fileTableLists(c: DuckDBConnection, dataset: string): Promise<Map<string, string[]>> {
  if (!(await hasMeta(c))) return new Map();
  const rows = (await c.runAndReadAll(`SELECT table_name, files FROM ${META}.file_tables WHERE dataset = $1`, [dataset])).getRowsJS();
  return new Map(rows.map((r) => [String(r[0]), r[1] as string[]]));
}

/** The file tables of a dataset. */
export async function fileTableNames(c: DuckDBConnection, dataset: string): Promise<Set<string>> {
  return new Set((await fileTableLists(c, dataset)).keys());
}

async function hasMeta(c: DuckDBConnection): Promise<boolean> {
  const [row] = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'file_tables'`)).getRows();
  return Number(row![0]) > 0;
}

async function ensureMeta(c: DuckDBConnection): Promise<void> {
  if (await hasMeta(c)) return;
  await c.run(`CREATE SCHEMA IF NOT EXISTS ${META}`);
  await c.run(`CREATE TABLE IF NOT EXISTS ${META}.file_tables (dataset VARCHAR NOT NULL, table_name VARCHAR NOT NULL, files VARCHAR[] NOT NULL, PRIMARY KEY (dataset, table_name))`);
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
