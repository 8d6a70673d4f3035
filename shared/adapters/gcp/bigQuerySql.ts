// Every statement the BigQuery warehouse runs, rendered by pure functions so each can be read and
// tested alone. Identifiers go through `quoteIdent` (which refuses anything not plain); values go
// in as query parameters (@start, @end, @dataset). The only literals are Cloud Storage URIs, built
// from validated names and checked again here, and constants of our own.

import type { ManifestColumn } from '../../manifest.js';
import { InputError, KEY_COLUMN, assertIdentifier, assertRunId, quoteIdent } from '../../naming.js';
import type { Window } from '../../ports.js';

/** BigQuery refuses a statement that references more than 1,000 tables. */
export const MAX_TABLES_PER_STATEMENT = 1000;
/** BigQuery refuses a table or query result wider than 10,000 columns. */
export const MAX_RESULT_COLUMNS = 10000;

export interface Rendered {
  sql: string;
  /** Named parameters; TIMESTAMP values are Dates. */
  params?: Record<string, unknown>;
  /** Tables the statement reads or writes, as `dataset.table`. */
  tables: string[];
  /** Columns of its result: what it selects, loads or exports. */
  columns: string[];
  /** For EXPORT DATA: the query inside the wrapper. */
  query?: string;
}

const q = (name: string): string => quoteIdent(name, 'bigquery');
const key = q(KEY_COLUMN);

export function tableRef(dataset: string, table: string): string {
  return `${q(dataset)}.${q(table)}`;
}

const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z$/;

/**
 * A table as it was at `at` (ISO, UTC), by BigQuery's time travel: `FOR SYSTEM_TIME AS OF` takes
 * "a constant timestamp expression" (https://cloud.google.com/bigquery/docs/access-historical-data),
 * so the instant goes in as a literal, checked here; without `at`, the table as it is now.
 */
export function tableAsOf(dataset: string, table: string, at?: string): string {
  if (at === undefined) return tableRef(dataset, table);
  const m = ISO_INSTANT.exec(at);
  if (!m || Number.isNaN(Date.parse(at))) throw new InputError(`snapshot time ${JSON.stringify(at)} is not an ISO instant such as 2026-01-02T03:04:05.678Z`);
  return `${tableRef(dataset, table)} FOR SYSTEM_TIME AS OF TIMESTAMP '${m[1]} ${m[2]}+00'`;
}

const GCS_URI = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]\/([A-Za-z0-9_.=-]+\/)*[A-Za-z0-9_.=*-]+$/;

/** A `gs://` URI as an SQL string literal; refuses anything with characters a literal could misread. */
export function gcsLiteral(uri: string): string {
  if (!GCS_URI.test(uri) || uri.split('/').some((p) => p === '..' || p === '.')) {
    throw new InputError(`${JSON.stringify(uri)} is not a plain gs:// URI`);
  }
  return `'${uri}'`;
}

/** Window bounds as TIMESTAMP parameters; refuses a window that is not a valid [start, end). */
export function windowParams(window: Window): { start: Date; end: Date } {
  const start = new Date(window.start);
  const end = new Date(window.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || !(start < end)) {
    throw new InputError(`window [${window.start}, ${window.end}) is not a valid time window`);
  }
  return { start, end };
}

const WINDOW_FILTER = `WHERE ${key} >= @start AND ${key} < @end`;

/** A table read through the statement's window (@start, @end): a table partitioned by the key is billed for those partitions only. */
export const withinWindow = (ref: string): string => `(SELECT * FROM ${ref} ${WINDOW_FILTER})`;

function exportWrapper(uri: string): string {
  if (!uri.endsWith('*.parquet')) throw new InputError(`export URI ${uri} must end with a *.parquet wildcard`);
  return `EXPORT DATA OPTIONS(uri=${gcsLiteral(uri)}, format='PARQUET', compression='ZSTD', overwrite=true) AS`;
}

function expiration(ttlHours: number): string {
  if (!Number.isSafeInteger(ttlHours) || ttlHours < 1) throw new InputError(`scratch TTL ${ttlHours} must be a whole number of hours >= 1`);
  return `OPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL ${ttlHours} HOUR))`;
}

function checkWidth(columns: readonly string[], tables: readonly string[], limit: number, what: string): void {
  if (tables.length > MAX_TABLES_PER_STATEMENT) {
    throw new InputError(`${what} would reference ${tables.length} tables; BigQuery allows ${MAX_TABLES_PER_STATEMENT}`);
  }
  const max = Math.min(limit, MAX_RESULT_COLUMNS);
  if (columns.length > max) throw new InputError(`${what} would have ${columns.length} columns; the limit is ${max}`);
  if (new Set(columns).size !== columns.length) throw new InputError(`${what} would repeat a column name`);
}

// ---- catalog ---------------------------------------------------------------------------------

/** Columns of every table in a dataset, in table then column order. */
export function renderListTables(dataset: string): Rendered {
  const sql = [
    'SELECT `table_name`, `column_name`, `data_type`',
    `FROM ${q(dataset)}.INFORMATION_SCHEMA.COLUMNS`,
    "WHERE `table_schema` = @dataset AND `is_hidden` = 'NO'",
    'ORDER BY `table_name`, `ordinal_position`',
  ].join('\n');
  return { sql, params: { dataset }, tables: [`${dataset}.INFORMATION_SCHEMA.COLUMNS`], columns: ['table_name', 'column_name', 'data_type'] };
}

const TYPE_ALIASES: Record<string, string> = {
  FLOAT: 'FLOAT64',
  DOUBLE: 'FLOAT64',
  INTEGER: 'INT64',
  INT: 'INT64',
  SMALLINT: 'INT64',
  BIGINT: 'INT64',
  TINYINT: 'INT64',
  BYTEINT: 'INT64',
  BOOLEAN: 'BOOL',
  DECIMAL: 'NUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
};

/** INFORMATION_SCHEMA types to the port's names: `STRING(10)` -> STRING, `FLOAT` -> FLOAT64. */
export function normaliseType(dataType: string): string {
  const upper = dataType.trim().toUpperCase();
  if (/^(ARRAY|STRUCT|RANGE)</.test(upper)) return upper;
  const base = upper.replace(/\s*\(.*\)$/, '');
  return TYPE_ALIASES[base] ?? base;
}

const ISO_MS = "'%Y-%m-%dT%H:%M:%E3SZ'";

/** Rows and first/last key of the label table, as ISO strings like `Date.toISOString()`. */
export function renderLabelStats(dataset: string, table: string, window?: Window): Rendered {
  const lines = [
    'SELECT COUNT(*) AS `row_count`,',
    `  FORMAT_TIMESTAMP(${ISO_MS}, MIN(${key}), 'UTC') AS \`min_key\`,`,
    `  FORMAT_TIMESTAMP(${ISO_MS}, MAX(${key}), 'UTC') AS \`max_key\``,
    `FROM ${tableRef(dataset, table)}`,
  ];
  if (window) lines.push(WINDOW_FILTER);
  return {
    sql: lines.join('\n'),
    ...(window ? { params: windowParams(window) } : {}),
    tables: [`${dataset}.${table}`],
    columns: ['row_count', 'min_key', 'max_key'],
  };
}

// ---- extract ---------------------------------------------------------------------------------

export interface ExtractSource {
  dataset: string;
  table: string;
  columns: readonly string[];
  window: Window;
  /** Read the table as it was then (ExtractJob.asOf): the run's snapshot time. */
  asOf?: string;
}

/**
 * One table's window to parquet, one row per key: where a key repeats, the row kept is the first
 * in the order of all its columns, nulls last, so a rerun keeps the same row, and the same row as
 * the embedded extract (BigQuery sorts NULLs first unless told; DuckDB sorts them last). Files come
 * out in key order.
 */
export function renderExtract(source: ExtractSource, uri: string): Rendered {
  if (source.columns.length === 0) throw new InputError(`table ${source.table} has no columns to extract`);
  const columns = source.columns.map((c) => assertIdentifier(c, 'column'));
  if (columns.includes(KEY_COLUMN)) throw new InputError(`the key ${KEY_COLUMN} must not be listed among the columns`);
  const all = [KEY_COLUMN, ...columns];
  const query = [
    `SELECT ${all.map(q).join(', ')}`,
    `FROM ${tableAsOf(source.dataset, source.table, source.asOf)}`,
    WINDOW_FILTER,
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY ${columns.map((c) => `${q(c)} ASC NULLS LAST`).join(', ')}) = 1`,
    `ORDER BY ${key}`,
  ].join('\n');
  const tables = [`${source.dataset}.${source.table}`];
  checkWidth(all, tables, MAX_RESULT_COLUMNS, `extract of ${source.table}`);
  return { sql: `${exportWrapper(uri)}\n${query}`, query, params: windowParams(source.window), tables, columns: all };
}

/** Rows in the window and distinct keys among them: their difference is the duplicates removed. */
export function renderExtractCounts(source: ExtractSource): Rendered {
  const sql = [
    `SELECT COUNT(*) AS \`source_rows\`, COUNT(DISTINCT ${key}) AS \`key_count\``,
    `FROM ${tableAsOf(source.dataset, source.table, source.asOf)}`,
    WINDOW_FILTER,
  ].join('\n');
  return { sql, params: windowParams(source.window), tables: [`${source.dataset}.${source.table}`], columns: ['source_rows', 'key_count'] };
}

// ---- merge -----------------------------------------------------------------------------------

/** The run's own name prefix in the scratch dataset: `bqx_<runId with _ for ->`. */
export function scratchArea(runId: string): string {
  return `bqx_${assertRunId(runId).replace(/-/g, '_')}`;
}

/** A name's mark of the partitioning its table was made with (none, `_d` by day, `_m` by month). */
export const partitionMark = (partitionBy?: 'DAY' | 'MONTH') => (partitionBy ? `_${partitionBy === 'DAY' ? 'd' : 'm'}` : '');

export const scratchNames = {
  /**
   * The merge's keys and batch tables, named after their partitioning: BigQuery refuses CREATE OR
   * REPLACE of a table partitioned otherwise, as a run's merge retried by a newer bqx (which
   * partitions them) would meet its earlier attempt's tables.
   */
  keys: (area: string, partitionBy?: 'DAY' | 'MONTH') => `${area}__keys${partitionMark(partitionBy)}`,
  /**
   * One loaded checkpoint (the index keeps names unique after cutting to 128 characters);
   * `__ckp` where it is loaded partitioned by the key. The two never share a name: BigQuery
   * refuses LOAD DATA OVERWRITE into a table partitioned otherwise, and one run's merge may load a
   * feature both ways (a refresh's merge that failed after a partitioned load, then a merge after
   * `bqx rerun` of the feature, whose files are then all the run's own).
   */
  checkpoint: (area: string, index: number, feature: string, partitioned = false) =>
    `${area}__ck${partitioned ? 'p' : ''}${String(index).padStart(4, '0')}_${assertIdentifier(feature, 'feature')}`.slice(0, 128),
  batch: (area: string, group: number, batch: number, partitionBy?: 'DAY' | 'MONTH') => `${area}__g${String(group).padStart(3, '0')}_b${String(batch).padStart(3, '0')}${partitionMark(partitionBy)}`,
};

export interface ScratchTarget {
  dataset: string;
  table: string;
  ttlHours: number;
  /**
   * The key's day or month the table is partitioned by (the merge's keys and batch tables:
   * bigQueryMergeSteps.ts `loadPartitions`): a statement filtering it on a shard's key range is
   * billed for that range's partitions, and a dry run says so before it runs.
   */
  partitionBy?: 'DAY' | 'MONTH';
}

/**
 * Keys and batch tables are clustered by the key, and partitioned by its day or month where the
 * merge says (ScratchTarget `partitionBy`): each time shard's export filters every table it reads
 * on the shard's key range (renderGroupExport), so it reads (and is billed for) that range's
 * partitions, not the whole window once per shard. Clustering alone prunes blocks only as the
 * query runs: neither a dry run nor `bqx plan` could count on it.
 */
export const CLUSTER_BY_KEY = `CLUSTER BY ${key}`;

const partitionByKey = (unit: 'DAY' | 'MONTH') => `PARTITION BY TIMESTAMP_TRUNC(${key}, ${unit})`;

function createTable(target: ScratchTarget): string {
  const partition = target.partitionBy ? `${partitionByKey(target.partitionBy)}\n` : '';
  return `CREATE OR REPLACE TABLE ${tableRef(target.dataset, target.table)}\n${partition}${CLUSTER_BY_KEY}\n${expiration(target.ttlHours)}\nAS`;
}

/**
 * Loads one checkpoint's parquet files into a scratch table. No OPTIONS: an `expiration_timestamp`
 * expression is not documented for LOAD DATA, and the table expires by the scratch dataset's
 * default table expiration anyway (terraform: `default_table_expiration_ms`, BQX_SCRATCH_TTL_HOURS).
 */
export function renderLoad(target: ScratchTarget, uris: readonly string[], columns: readonly string[], options: { partitionBy?: 'DAY' | 'MONTH' } = {}): Rendered {
  if (uris.length === 0) throw new InputError(`no files to load into ${target.table}`);
  const sql = [
    `LOAD DATA OVERWRITE ${tableRef(target.dataset, target.table)}`,
    // Partitioned by the key's day or month, where the files hold rows outside the window the
    // statements reading the table want (renderBatch's `window`): a query filtered on the key
    // bills the window's partitions only (bigQueryMergeSteps.ts `loadPartitions`).
    ...(options.partitionBy ? [partitionByKey(options.partitionBy)] : []),
    `FROM FILES(format='PARQUET', uris=[${uris.map(gcsLiteral).join(', ')}])`,
  ].join('\n');
  return { sql, tables: [`${target.dataset}.${target.table}`], columns: [KEY_COLUMN, ...columns] };
}

/** The label rows of the window: their keys drive every join, their columns go to group 0. */
export function renderKeys(target: ScratchTarget, labels: { dataset: string; table: string; columns: readonly string[]; asOf?: string }, window: Window): Rendered {
  const columns = [KEY_COLUMN, ...labels.columns.map((c) => assertIdentifier(c, 'label column'))];
  const query = [`SELECT ${columns.map(q).join(', ')}`, `FROM ${tableAsOf(labels.dataset, labels.table, labels.asOf)}`, WINDOW_FILTER].join('\n');
  const tables = [`${target.dataset}.${target.table}`, `${labels.dataset}.${labels.table}`];
  checkWidth(columns, tables, MAX_RESULT_COLUMNS, 'label keys');
  return { sql: `${createTable(target)}\n${query}`, query, params: windowParams(window), tables, columns };
}

export interface BatchMember {
  /** Scratch table holding the member's checkpoint. */
  table: string;
  columns: readonly ManifestColumn[];
  /** The table holds rows outside the batch's window (loaded partitioned by the key): it is read through a filter on the window. */
  wider?: boolean;
}

const joinOnKey = (ref: string, alias: string) => `LEFT JOIN ${ref} AS ${q(alias)} ON ${q(alias)}.${key} = ${q('k')}.${key}`;

/** One staged batch: the window's keys LEFT JOINed to at most `joinBatchTables` checkpoints. */
export function renderBatch(target: ScratchTarget, keysTable: string, members: readonly BatchMember[], maxColumns: number, window?: Window): Rendered {
  if (members.length === 0) throw new InputError(`batch ${target.table} has no members`);
  if (members.some((m) => m.wider) && !window) throw new InputError(`batch ${target.table} reads wider tables without a window`);
  const select = [`${q('k')}.${key}`];
  const columns = [KEY_COLUMN];
  const joins: string[] = [];
  members.forEach((m, i) => {
    const alias = `f${i}`;
    const ref = tableRef(target.dataset, m.table);
    // A wider table is read through the window's filter: its partitions outside it are not scanned.
    joins.push(joinOnKey(m.wider ? withinWindow(ref) : ref, alias));
    for (const c of m.columns) {
      select.push(`${q(alias)}.${q(c.source)} AS ${q(c.output)}`);
      columns.push(c.output);
    }
  });
  const tables = [`${target.dataset}.${target.table}`, `${target.dataset}.${keysTable}`, ...members.map((m) => `${target.dataset}.${m.table}`)];
  checkWidth(columns, tables, maxColumns, `batch ${target.table}`);
  const query = [`SELECT ${select.join(', ')}`, `FROM ${tableRef(target.dataset, keysTable)} AS ${q('k')}`, ...joins].join('\n');
  const filtered = members.some((m) => m.wider);
  return { sql: `${createTable(target)}\n${query}`, query, ...(filtered ? { params: windowParams(window!) } : {}), tables, columns };
}

export interface GroupExport {
  scratchDataset: string;
  keysTable: string;
  /** Label columns (group 0 only), read from the keys table. */
  labelColumns: readonly string[];
  batches: readonly { table: string; columns: readonly string[] }[];
  uri: string;
  maxColumns: number;
  /** The time shard [start, end) to export: only its keys are read and sorted. */
  shard: Window;
}

/** One (time shard, column group): the shard's keys joined to the group's batches, exported in key order. */
export function renderGroupExport(group: GroupExport): Rendered {
  const select = [`${q('k')}.${key}`, ...group.labelColumns.map((c) => `${q('k')}.${q(c)}`)];
  const columns = [KEY_COLUMN, ...group.labelColumns];
  const joins: string[] = [];
  group.batches.forEach((b, i) => {
    const alias = `b${i}`;
    // Filtered on the shard itself, not only through the join: the batch's partitions (or, where
    // it has none, blocks) outside the shard are then not read.
    joins.push(joinOnKey(withinWindow(tableRef(group.scratchDataset, b.table)), alias));
    for (const c of b.columns) {
      if (c === KEY_COLUMN) continue;
      select.push(`${q(alias)}.${q(c)}`);
      columns.push(c);
    }
  });
  const tables = [`${group.scratchDataset}.${group.keysTable}`, ...group.batches.map((b) => `${group.scratchDataset}.${b.table}`)];
  checkWidth(columns, tables, group.maxColumns, `group export to ${group.uri}`);
  const query = [
    `SELECT ${select.join(', ')}`,
    `FROM ${tableRef(group.scratchDataset, group.keysTable)} AS ${q('k')}`,
    ...joins,
    `WHERE ${q('k')}.${key} >= @start AND ${q('k')}.${key} < @end`,
    `ORDER BY ${q('k')}.${key}`,
  ].join('\n');
  return { sql: `${exportWrapper(group.uri)}\n${query}`, query, params: windowParams(group.shard), tables, columns };
}
