// Data versions of the embedded warehouse's tables. DuckDB keeps no modification time per table,
// so every bqx code path that writes a table (the demo build, `demo --touch`, `demo --append`)
// records a fresh version here, in a schema of its own that no dataset listing sees. Versions are
// unique (time + random), never a counter: a warehouse rebuilt from scratch must not hand out a
// version an older checkpoint was fingerprinted with. A table bqx did not write has no version,
// and its checkpoints are never reused.

import { randomBytes } from 'node:crypto';
import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { assertIdentifier } from '../../naming.js';

const META = 'bqx_meta';

const createSql = [
  `CREATE SCHEMA IF NOT EXISTS ${META}`,
  `CREATE TABLE IF NOT EXISTS ${META}.table_versions (dataset VARCHAR NOT NULL, table_name VARCHAR NOT NULL, version VARCHAR NOT NULL, changed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (dataset, table_name))`,
];

/** A version no earlier write can have had. */
export function newVersion(now = new Date()): string {
  return `${now.toISOString()}~${randomBytes(5).toString('hex')}`;
}

/** Records that the named tables of `dataset` changed now; returns the version they got. */
export async function recordTableChanges(c: DuckDBConnection, dataset: string, tables: readonly string[]): Promise<string> {
  assertIdentifier(dataset, 'dataset');
  tables.forEach((t) => assertIdentifier(t, 'table'));
  const version = newVersion();
  for (const statement of createSql) await c.run(statement);
  if (tables.length > 0) {
    await c.run(
      `INSERT OR REPLACE INTO ${META}.table_versions SELECT $1, unnest($2::VARCHAR[]), $3, now()`,
      [dataset, listValue([...tables]), version],
    );
  }
  return version;
}

/**
 * The recorded version of each named table, joined with the row count DuckDB keeps for it (so a
 * row added or removed by SQL outside bqx still changes the version); null when none is recorded.
 */
export async function readTableVersions(c: DuckDBConnection, dataset: string, tables: readonly string[]): Promise<Record<string, string | null>> {
  assertIdentifier(dataset, 'dataset');
  const out: Record<string, string | null> = Object.fromEntries(tables.map((t) => [t, null]));
  const present = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'table_versions'`)).getRows()[0]![0];
  if (Number(present) === 0 || tables.length === 0) return out;
  const rows = (
    await c.runAndReadAll(
      `SELECT v.table_name, v.version, t.estimated_size FROM ${META}.table_versions v
       JOIN duckdb_tables() t ON t.schema_name = v.dataset AND t.table_name = v.table_name
       WHERE v.dataset = $1 AND list_contains($2::VARCHAR[], v.table_name)`,
      [dataset, listValue([...tables])],
    )
  ).getRows();
  for (const [table, version, size] of rows) out[String(table)] = `${String(version)}/${String(size)}`;
  return out;
}
