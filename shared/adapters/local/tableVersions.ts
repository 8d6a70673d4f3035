// Data versions of the embedded warehouse's tables. DuckDB keeps no modification time per table,
// so every bqx code path that writes a table (the demo build, `demo --touch`, `demo --append`)
// records a fresh version here, in a schema of its own that no dataset listing sees. Versions are
// unique (time + random), never a counter: a warehouse rebuilt from scratch must not hand out a
// version an older checkpoint was fingerprinted with. A table bqx did not write has no version,
// and its checkpoints are never reused.
// A write may say which key range it changed (`demo --append`: the new minutes only); every change
// is also logged with that range, so the version of the rows inside a window stays put when only
// rows after it were written (what an incremental refresh relies on). Where the log cannot tell
// (no range, a change before the log existed, a row count moved by SQL outside bqx), the version of
// a window is the table's own version: never too old, at worst an extract too many.

import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { listValue } from './duckdbApi.js';
import { assertIdentifier } from '../../naming.js';

const META = 'bqx_meta';

const createSql = [
  `CREATE SCHEMA IF NOT EXISTS ${META}`,
  `CREATE TABLE IF NOT EXISTS ${META}.table_versions (dataset VARCHAR NOT NULL, table_name VARCHAR NOT NULL, version VARCHAR NOT NULL, changed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (dataset, table_name))`,
  // One row per change: the key range it touched (range_start NULL: the whole table), and the
  // table's row count right after it was recorded.
  `CREATE TABLE IF NOT EXISTS ${META}.table_changes (dataset VARCHAR NOT NULL, table_name VARCHAR NOT NULL, version VARCHAR NOT NULL, range_start TIMESTAMPTZ, range_end TIMESTAMPTZ, size_after BIGINT, changed_at TIMESTAMPTZ NOT NULL)`,
];

/**
 * What says a table's rows moved without bqx: a native table's row count as DuckDB keeps it, a
 * view's definition (a file table's view names its files, and every write names new files).
 */
const TABLE_SIZES = `(SELECT schema_name, table_name, estimated_size AS size FROM duckdb_tables()
  UNION ALL SELECT schema_name, view_name, (hash(sql) >> 1)::BIGINT FROM duckdb_views() WHERE NOT internal)`;

/** The key range a write changed: [start, end), an open end when end is null. */
export interface ChangedRange {
  start: string;
  end: string | null;
}

/** A version no earlier write can have had. */
export function newVersion(now = new Date()): string {
  return `${now.toISOString()}~${randomBytes(5).toString('hex')}`;
}

/** Records that the named tables of `dataset` changed now; returns the version they got. */
export async function recordTableChanges(c: DuckDBConnection, dataset: string, tables: readonly string[], range?: ChangedRange): Promise<string> {
  assertIdentifier(dataset, 'dataset');
  tables.forEach((t) => assertIdentifier(t, 'table'));
  const version = newVersion();
  for (const statement of createSql) await c.run(statement);
  if (tables.length > 0) {
    await c.run(
      `INSERT OR REPLACE INTO ${META}.table_versions SELECT $1, unnest($2::VARCHAR[]), $3, now()`,
      [dataset, listValue([...tables]), version],
    );
    await c.run(
      `INSERT INTO ${META}.table_changes
       SELECT $1, t.table_name, $3, $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, d.size, now()
       FROM (SELECT unnest($2::VARCHAR[]) AS table_name) t LEFT JOIN ${TABLE_SIZES} d ON d.schema_name = $1 AND d.table_name = t.table_name`,
      [dataset, listValue([...tables]), version, range?.start ?? null, range?.end ?? null],
    );
  }
  return version;
}

/** The tables of a dataset with a recorded version. */
export async function recordedTables(c: DuckDBConnection, dataset: string): Promise<string[]> {
  assertIdentifier(dataset, 'dataset');
  const present = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'table_versions'`)).getRows()[0]![0];
  if (Number(present) === 0) return [];
  return (await c.runAndReadAll(`SELECT table_name FROM ${META}.table_versions WHERE dataset = $1`, [dataset])).getRows().map(([t]) => String(t));
}

/**
 * The recorded version of each named table, joined with the row count DuckDB keeps for it (so a
 * row added or removed by SQL outside bqx still changes the version); null when none is recorded.
 */
export async function readTableVersions(c: DuckDBConnection, dataset: string, tables: readonly string[], range?: { start: string; end: string }): Promise<Record<string, string | null>> {
  assertIdentifier(dataset, 'dataset');
  const out: Record<string, string | null> = Object.fromEntries(tables.map((t) => [t, null]));
  const present = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'table_versions'`)).getRows()[0]![0];
  if (Number(present) === 0 || tables.length === 0) return out;
  const rows = (
    await c.runAndReadAll(
      `SELECT v.table_name, v.version, t.size FROM ${META}.table_versions v
       JOIN ${TABLE_SIZES} t ON t.schema_name = v.dataset AND t.table_name = v.table_name
       WHERE v.dataset = $1 AND list_contains($2::VARCHAR[], v.table_name)`,
      [dataset, listValue([...tables])],
    )
  ).getRows();
  for (const [table, version, size] of rows) out[String(table)] = `${String(version)}/${String(size)}`;
  if (range) Object.assign(out, await rangeVersions(c, dataset, tables, range, out));
  return out;
}

/**
 * The version of each table's rows inside [range.start, range.end): the newest logged change whose
 * range meets it, trusted only when the log is complete (its newest entry is the table's version
 * and the row count has not moved since). Otherwise the table's own version stands.
 */
async function rangeVersions(c: DuckDBConnection, dataset: string, tables: readonly string[], range: { start: string; end: string }, whole: Record<string, string | null>): Promise<Record<string, string>> {
  const logged = (await c.runAndReadAll(`SELECT count(*) FROM duckdb_tables() WHERE schema_name = '${META}' AND table_name = 'table_changes'`)).getRows()[0]![0];
  if (Number(logged) === 0) return {};
  const rows = (
    await c.runAndReadAll(
      `WITH log AS (
         SELECT table_name, version, range_start, range_end, size_after, changed_at,
                row_number() OVER (PARTITION BY table_name ORDER BY version DESC) AS newest
         FROM ${META}.table_changes WHERE dataset = $1 AND list_contains($2::VARCHAR[], table_name))
       SELECT l.table_name,
              max(l.version) FILTER (WHERE l.range_start IS NULL OR (l.range_start < $4::TIMESTAMPTZ AND (l.range_end IS NULL OR l.range_end > $3::TIMESTAMPTZ))) AS in_range,
              any_value(l.version) FILTER (WHERE l.newest = 1) AS last_version,
              any_value(l.size_after) FILTER (WHERE l.newest = 1) AS last_size,
              any_value(t.size) AS size
       FROM log l JOIN ${TABLE_SIZES} t ON t.schema_name = $1 AND t.table_name = l.table_name
       GROUP BY l.table_name`,
      [dataset, listValue([...tables]), range.start, range.end],
    )
  ).getRows();
  const out: Record<string, string> = {};
  for (const [table, inRange, lastVersion, lastSize, size] of rows) {
    const name = String(table);
    const current = whole[name];
    // The log is complete when its newest entry is the version the table carries, at today's row count.
    const complete = current !== null && current !== undefined && current.startsWith(`${String(lastVersion)}/`) && lastSize !== null && String(lastSize) === String(size);
    if (complete && inRange !== null) out[name] = `${String(inRange)}@range`;
  }
  return out;
}
