// Every row of an embedded run's output, its column groups put side by side (POSITIONAL JOIN), in
// file order: what the window, reuse and refresh tests compare cell for cell. And the rows of
// checkpoint files, file by file in order: what the extract tests compare.

import { DuckDBInstance, listValue } from '@duckdb/node-api';
import type { Embedded } from '../../shared/runtime/embedded.js';

export async function readOutput(e: Embedded, manifestObject: string): Promise<Record<string, unknown>[]> {
  const m = JSON.parse(Buffer.from(await e.output.read(manifestObject)).toString('utf8'));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const parts = m.groups.map((_: unknown, i: number) => `(SELECT * ${i ? 'EXCLUDE (interval_time)' : ''} FROM read_parquet($${i + 1}))`);
    const rows = await c.runAndReadAll(`SELECT * FROM ${parts.join(' POSITIONAL JOIN ')}`, m.groups.map((g: { files: string[] }) => listValue(g.files)));
    return rows.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** Every row of `files` (parquet), in file and row order, each led by its file's name. */
export async function rowsOfFiles(files: string[]): Promise<unknown[][]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const sql = 'SELECT parse_filename(filename) AS file, * EXCLUDE (filename, file_row_number) FROM read_parquet($1, filename = true, file_row_number = true) ORDER BY filename, file_row_number';
    return (await c.runAndReadAll(sql, [listValue(files)])).getRowsJS();
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
