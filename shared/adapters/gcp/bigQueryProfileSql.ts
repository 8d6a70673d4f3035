// The dataset profile's statements for BigQuery (the same measures as duckdbProfileSql.ts). The
// output's column groups are loaded from their parquet files into scratch tables that expire by
// themselves (renderLoad), then measured there: BigQuery has no row order, so rows are numbered
// by the key. Pure functions, tested for their exact text.

import { KEY_COLUMN, quoteIdent } from '../../naming.js';
import { tableRef, type Rendered } from './bigQuerySql.js';

const q = (name: string): string => quoteIdent(name, 'bigquery');
const key = q(KEY_COLUMN);
const c = (i: number) => `c${i}`;

export const profileScratch = {
  /** `part`: a comparison's part of the files (CompareJob), kept apart from the whole group's table. */
  group: (area: string, group: number, part?: string) => `${area}__profile_g${String(group).padStart(3, '0')}${part ? `_${part}` : ''}`,
};

/** Names of a batch's result columns, per column i: see renderProfileStats. */
export const STAT_NAMES = ['non_null', 'warm_non_null', 'min', 'max', 'mean', 'sd', 'inf', 'nan', 'repeats', 'longest_run', 'last_row'] as const;

/**
 * One pass over a batch of a group's columns: per column the same eleven measures as on DuckDB
 * (non-null, non-null in the first @warmup rows, finite min/max/mean/sd, inf, NaN, repeats of the
 * previous row, the longest run of one value, the last non-null row), as `s<i>_<measure>`.
 */
export function renderProfileStats(dataset: string, table: string, columns: readonly string[]): Rendered {
  const idx = [...columns.keys()];
  const finite = (i: number) => `IF(IS_INF(${c(i)}) OR IS_NAN(${c(i)}), NULL, ${c(i)})`;
  const numbered = `SELECT ROW_NUMBER() OVER (ORDER BY ${key}) - 1 AS rn, ${columns.map((name, i) => `CAST(${q(name)} AS FLOAT64) AS ${c(i)}`).join(', ')} FROM ${tableRef(dataset, table)}`;
  const lagged = `SELECT rn, ${idx.map(c).join(', ')}, ${idx.map((i) => `LAG(${c(i)}) OVER (ORDER BY rn) AS p${i}`).join(', ')} FROM numbered`;
  const runs = `SELECT rn, ${idx.map((i) => `${c(i)}, p${i}, MAX(IF(${c(i)} = p${i}, NULL, rn)) OVER (ORDER BY rn ROWS UNBOUNDED PRECEDING) AS s${i}`).join(', ')} FROM lagged`;
  const stats = idx.map((i) =>
    [
      `COUNT(${c(i)}) AS s${i}_non_null`,
      `COUNTIF(${c(i)} IS NOT NULL AND rn < @warmup) AS s${i}_warm_non_null`,
      `MIN(${finite(i)}) AS s${i}_min`,
      `MAX(${finite(i)}) AS s${i}_max`,
      `AVG(${finite(i)}) AS s${i}_mean`,
      `STDDEV_POP(${finite(i)}) AS s${i}_sd`,
      `COUNTIF(IS_INF(${c(i)})) AS s${i}_inf`,
      `COUNTIF(IS_NAN(${c(i)})) AS s${i}_nan`,
      `COUNTIF(${c(i)} = p${i}) AS s${i}_repeats`,
      `MAX(IF(${c(i)} IS NULL, NULL, rn - s${i} + 1)) AS s${i}_longest_run`,
      `MAX(IF(${c(i)} IS NULL, NULL, rn)) AS s${i}_last_row`,
    ].join(', '),
  );
  const sql = [`WITH numbered AS (${numbered}),`, `lagged AS (${lagged}),`, `runs AS (${runs})`, `SELECT ${stats.join(', ')}`, 'FROM runs'].join('\n');
  return { sql, tables: [`${dataset}.${table}`], columns: idx.flatMap((i) => STAT_NAMES.map((n) => `s${i}_${n}`)) };
}

/** The sample: rows [@block_from, @block_from + @block_rows) and every @spread_step-th row, by key order. */
export function renderProfileSample(dataset: string, table: string, columns: readonly string[]): Rendered {
  const sql = [
    `SELECT rn, ${columns.map((_, i) => c(i)).join(', ')}`,
    `FROM (SELECT ROW_NUMBER() OVER (ORDER BY ${key}) - 1 AS rn, ${columns.map((name, i) => `CAST(${q(name)} AS FLOAT64) AS ${c(i)}`).join(', ')} FROM ${tableRef(dataset, table)})`,
    'WHERE (rn >= @block_from AND rn < @block_from + @block_rows) OR MOD(rn, @spread_step) = 0',
    'ORDER BY rn',
  ].join('\n');
  return { sql, tables: [`${dataset}.${table}`], columns: ['rn', ...columns.map((_, i) => c(i))] };
}

/** Consecutive keys more than a minute apart: [first missing minute, next key), minutes missing. */
export function renderKeyGaps(dataset: string, table: string): Rendered {
  const sql = [
    'SELECT FORMAT_TIMESTAMP(\'%Y-%m-%dT%H:%M:%SZ\', TIMESTAMP_ADD(prev, INTERVAL 1 MINUTE)) AS gap_from,',
    "  FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', k) AS gap_to, TIMESTAMP_DIFF(k, prev, MINUTE) - 1 AS minutes",
    `FROM (SELECT ${key} AS k, LAG(${key}) OVER (ORDER BY ${key}) AS prev FROM ${tableRef(dataset, table)})`,
    'WHERE TIMESTAMP_DIFF(k, prev, SECOND) > 60',
    'ORDER BY k',
  ].join('\n');
  return { sql, tables: [`${dataset}.${table}`], columns: ['gap_from', 'gap_to', 'minutes'] };
}

/** Rows with a key before each cut (@cuts, an array of TIMESTAMPs), in cut order. */
export function renderCutRows(dataset: string, table: string): Rendered {
  const sql = [
    'SELECT cut_index, (SELECT COUNT(*) FROM ' + tableRef(dataset, table) + ` WHERE ${key} < cut) AS rows_before`,
    'FROM UNNEST(@cuts) AS cut WITH OFFSET AS cut_index',
    'ORDER BY cut_index',
  ].join('\n');
  return { sql, tables: [`${dataset}.${table}`], columns: ['cut_index', 'rows_before'] };
}

/**
 * Column pairs compared on every @step-th row (by key order): a at row r against b at row r -
 * shift. The tables of the groups involved are joined on the key (they hold the same keys).
 */
export function renderCompare(dataset: string, groupTables: readonly { table: string; columns: readonly string[] }[], pairs: readonly { a: string; b: string; shift: number }[]): Rendered {
  const from = groupTables.map((g, i) => (i === 0 ? `${tableRef(dataset, g.table)} AS t0` : `JOIN ${tableRef(dataset, g.table)} AS t${i} USING (${key})`)).join('\n  ');
  const source = (column: string) => {
    const i = groupTables.findIndex((g) => g.columns.includes(column));
    return `t${i}.${q(column)}`;
  };
  const shifted = pairs.map((p, i) => `${source(p.a)} AS a${i}, ${p.shift >= 0 ? 'LAG' : 'LEAD'}(${source(p.b)}, ${Math.abs(p.shift)}) OVER (ORDER BY ${key}) AS b${i}`);
  const stats = pairs.map((_, i) =>
    [
      `COUNTIF(a${i} IS NOT NULL AND b${i} IS NOT NULL) AS both${i}`,
      `COUNTIF(a${i} = b${i}) AS equal${i}`,
      `COUNTIF((a${i} IS NULL) != (b${i} IS NULL)) AS mismatch${i}`,
      `CORR(a${i}, b${i}) AS corr${i}`,
    ].join(', '),
  );
  const sql = [
    `SELECT ${stats.join(', ')}`,
    `FROM (SELECT ROW_NUMBER() OVER (ORDER BY ${key}) - 1 AS rn, ${shifted.join(', ')}`,
    `  FROM ${from})`,
    'WHERE MOD(rn, @step) = 0',
  ].join('\n');
  return { sql, tables: groupTables.map((g) => `${dataset}.${g.table}`), columns: pairs.flatMap((_, i) => [`both${i}`, `equal${i}`, `mismatch${i}`, `corr${i}`]) };
}
