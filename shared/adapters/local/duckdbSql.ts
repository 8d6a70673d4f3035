// SQL for the embedded warehouse (DuckDB). Identifiers are quoted by the one quoting function;
// values (window bounds, file lists) are parameters: $1, $2, ...

import { KEY_COLUMN, quoteIdent } from '../../naming.js';
import type { GroupMember } from '../../planner.js';

const q = (name: string) => quoteIdent(name, 'duckdb');
const K = q(KEY_COLUMN);

/** Normalises DuckDB type names to BigQuery's, so the core sees one vocabulary. */
export function normaliseType(duckType: string): string {
  const t = duckType.toUpperCase();
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'TIMESTAMP';
  if (t.startsWith('TIMESTAMP')) return 'DATETIME';
  if (t === 'DOUBLE' || t === 'FLOAT' || t === 'REAL') return 'FLOAT64';
  if (['BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'HUGEINT', 'UBIGINT', 'UINTEGER'].includes(t)) return 'INT64';
  if (t === 'VARCHAR' || t.startsWith('VARCHAR(')) return 'STRING';
  if (t === 'BOOLEAN') return 'BOOL';
  if (t.startsWith('DECIMAL')) return 'NUMERIC';
  return t;
}

export const catalogSql = `SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = $1 ORDER BY table_name, ordinal_position`;

/** Rows and key range of a table, within [$1, $2) when windowed. */
export function labelStatsSql(dataset: string, table: string, windowed: boolean): string {
  const where = windowed ? ` WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ` : '';
  return `SELECT count(*) AS n, min(${K}) AS lo, max(${K}) AS hi FROM ${q(dataset)}.${q(table)}${where}`;
}

/**
 * Source rows and distinct keys of a feature in the window [$1, $2), then its rows in each of
 * `shards` time shards, shard i being [$(3 + 2i), $(4 + 2i)). `uniqueKeys`: the table is known to
 * hold one row per key (fileTables.ts), so the rows are the distinct keys, without counting them.
 */
export function extractCountSql(dataset: string, table: string, shards = 0, uniqueKeys = false): string {
  const perShard = Array.from({ length: shards }, (_, i) => `, count(*) FILTER (WHERE ${K} >= $${3 + 2 * i}::TIMESTAMPTZ AND ${K} < $${4 + 2 * i}::TIMESTAMPTZ)`);
  const distinct = uniqueKeys ? 'count(*)' : `count(DISTINCT ${K})`;
  return `SELECT count(*) AS n, ${distinct} AS k${perShard.join('')} FROM ${q(dataset)}.${q(table)} WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ`;
}

/**
 * One feature in the window [$1, $2), one row per key, sorted by key. Of duplicate keys the row
 * kept is the first by all its columns (nulls last): deterministic, whatever order the table has.
 */
export function extractSelectSql(dataset: string, table: string, columns: readonly string[]): string {
  const cols = columns.map(q);
  return `SELECT ${[K, ...cols].join(', ')} FROM ${q(dataset)}.${q(table)}
WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ
QUALIFY row_number() OVER (PARTITION BY ${K} ORDER BY ${cols.map((c) => `${c} ASC NULLS LAST`).join(', ')}) = 1
ORDER BY ${K}`;
}

/**
 * One feature in the window [$1, $2), in key order: for tables whose keys are already unique.
 * Sorted unless `sort` is false: a table known to be in key order (fileTables.ts) is read in its
 * own order, which DuckDB keeps without an ORDER BY (preserve_insertion_order, on by default).
 */
export function extractPlainSql(dataset: string, table: string, columns: readonly string[], sort = true): string {
  return `SELECT ${[K, ...columns.map(q)].join(', ')} FROM ${q(dataset)}.${q(table)}
WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ${sort ? `\nORDER BY ${K}` : ''}`;
}

/**
 * A run of an extract's shards read from the table once (`select` over the run's [$1, $2)), then
 * written shard by shard with `stagedShardSql` (extractBatches.ts). A temporary table: the
 * extract's own connection sees it, and DuckDB spills it under its memory limit.
 */
export function stageSql(select: string): string {
  return `CREATE OR REPLACE TEMP TABLE bqx_extract_stage AS ${select}`;
}

/** One shard [$1, $2) of the staged rows in key order: sorted, unless staged in key order already. */
export function stagedShardSql(sort = true): string {
  return `SELECT * FROM bqx_extract_stage WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ${sort ? ` ORDER BY ${K}` : ''}`;
}

export const dropStageSql = 'DROP TABLE IF EXISTS bqx_extract_stage';

/** The views of schema $1 with their SQL. */
export const viewsSql = 'SELECT view_name, sql FROM duckdb_views() WHERE schema_name = $1';

/**
 * A refresh's grown shard: the rows of the checkpoint files $3 (the cell's earlier rows, already
 * one per key) and `select`'s rows of [$1, $2), in key order.
 */
export function carrySelectSql(select: string, columns: readonly string[]): string {
  return `SELECT * FROM (SELECT ${[K, ...columns.map(q)].join(', ')} FROM read_parquet($3::VARCHAR[]) UNION ALL SELECT * FROM (${select})) ORDER BY ${K}`;
}

/**
 * Parquet as DuckDB writes it in every local step (the keyed extract writes its own, uncompressed
 * PLAIN pages in the same row groups: keyedShardWriter.ts): zstd level 1 on v2 pages
 * (byte-stream-split doubles) was the fastest to write and the smallest of zstd 3, zstd 1, lz4
 * and snappy on the demo features.
 * One row-group size for every file, a multiple of DuckDB's 2,048-row vectors, so files with the
 * same keys have the same row groups and the merge can stitch them. No dictionary encoding
 * (DICTIONARY_SIZE_LIMIT 1): the writer built a dictionary for every double column and then gave it
 * up (the values are nearly all distinct), a tenth to a quarter of each COPY's time; the files came
 * out the same size without it (42 demo tables at 20,000 rows: 103.9 MB either way).
 */
export const ROW_GROUP_ROWS = 122_880;

export function copyToParquetSql(select: string, target: string): string {
  return `COPY (${select}) TO ${literal(target)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PARQUET_VERSION v2, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, DICTIONARY_SIZE_LIMIT 1)`;
}

/** A string literal; only for file paths DuckDB's COPY needs as literals (built from safe names). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The window [$1, $2)'s label keys and label columns, in key order: the rows every group has. */
export function labelSliceSql(dataset: string, table: string, labelColumns: readonly string[]): string {
  return `SELECT ${[K, ...labelColumns.map(q)].join(', ')} FROM ${q(dataset)}.${q(table)}
WHERE ${K} >= $1::TIMESTAMPTZ AND ${K} < $2::TIMESTAMPTZ ORDER BY ${K}`;
}

/**
 * One slice of the alignment: the base file's ($1) rows [$5, $6) by row number, with the
 * checkpoint's columns for those keys (files $2, window [$3, $4), keys [$7, $8] read only), in
 * key order. A slice is one base row group, so DuckDB never holds more than that of a table.
 */
export function alignSliceSql(columns: readonly string[]): string {
  const cols = columns.map((c) => `f.${q(c)}`);
  return `SELECT k.${K}, ${cols.join(', ')} FROM (SELECT ${K} FROM read_parquet($1, file_row_number = true) WHERE file_row_number >= $5 AND file_row_number < $6) k
LEFT JOIN (SELECT * FROM read_parquet($2) WHERE ${K} >= $3::TIMESTAMPTZ AND ${K} < $4::TIMESTAMPTZ AND ${K} >= $7::TIMESTAMPTZ AND ${K} <= $8::TIMESTAMPTZ) f ON f.${K} = k.${K}
ORDER BY k.${K}`;
}

/** First and last key of the base file's ($1) rows [$2, $3), as text that casts back exactly. */
export const sliceBoundsSql = `SELECT min(${K})::VARCHAR, max(${K})::VARCHAR FROM read_parquet($1, file_row_number = true)
WHERE file_row_number >= $2 AND file_row_number < $3`;
