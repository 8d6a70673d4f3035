// The dataset profile's SQL for DuckDB (the embedded warehouse). Columns are profiled a batch at a
// time: the batch is streamed from the output parquet once (parquet is columnar, so only its
// columns are read) and measured in Node as it streams (shared/profile/columnScan.ts).

import { quoteIdent } from '../../naming.js';

const q = (name: string) => quoteIdent(name, 'duckdb');

/** The named columns as DOUBLE, in file order (= key order), from the files $1: the profile's one pass streams these. */
export function doublesSql(names: readonly string[]): string {
  return `SELECT ${names.map((n) => `CAST(${q(n)} AS DOUBLE)`).join(', ')} FROM read_parquet($1)`;
}

/** Values further than 10 sd from the mean ($2, $3, ... : mean and sd per column), in the files $1. */
export function beyondSql(names: readonly string[]): string {
  return `SELECT ${names.map((n, k) => `count(*) FILTER (WHERE isfinite(${q(n)}) AND abs(${q(n)} - $${2 * k + 2}) > 10 * $${2 * k + 3})`).join(', ')} FROM read_parquet($1)`;
}

/** A column's finite values outside [$2, $3] in the files $1, in file and row order, at most `limit` of them (outlierTails.ts). */
export function outsideSql(name: string, limit: number): string {
  return `SELECT ${q(name)} FROM read_parquet($1) WHERE isfinite(${q(name)}) AND (${q(name)} < $2 OR ${q(name)} > $3) LIMIT ${limit}`;
}

/** `x` where both of pair i's values are finite, else null (which corr skips). */
const finite = (x: string, i: number) => `CASE WHEN isfinite(a${i}) AND isfinite(b${i}) THEN ${x} END`;

/**
 * Column pairs compared on every $1-th row of the table `cmp` (rn and the columns): column a at
 * row r against column b at row r - shift. Per pair: rows both non-null, equal rows, rows where
 * only one is null, and the correlation: null where a compared row holds NaN or infinity, as
 * the comparison in this process gives it (parquetCompare.ts). DuckDB's corr stops the whole
 * statement on them ("STDDEV_POP is out of range"), so it is given the finite rows only.
 */
export function compareSql(pairs: readonly { a: string; b: string; shift: number }[]): string {
  // lag(x, n) with n < 0 is refused, so a negative shift is a lead.
  const shifted = pairs.map((p, i) => `${q(p.a)} AS a${i}, ${p.shift >= 0 ? 'lag' : 'lead'}(${q(p.b)}, ${Math.abs(p.shift)}) OVER (ORDER BY rn) AS b${i}`);
  const stats = pairs.map((_, i) =>
    [
      `count(*) FILTER (WHERE a${i} IS NOT NULL AND b${i} IS NOT NULL)`,
      `count(*) FILTER (WHERE a${i} = b${i})`,
      `count(*) FILTER (WHERE (a${i} IS NULL) <> (b${i} IS NULL))`,
      `CASE WHEN bool_or(NOT (isfinite(a${i}) AND isfinite(b${i}))) THEN NULL ELSE corr(${finite(`a${i}`, i)}, ${finite(`b${i}`, i)}) END`,
    ].join(', '),
  );
  return `SELECT ${stats.join(', ')} FROM (SELECT rn, ${shifted.join(', ')} FROM cmp) WHERE rn % $1 = 0`;
}

/** The compared columns of several groups side by side, rows numbered (groups line up row for row). */
export function compareTableSql(groups: readonly { columns: string[] }[]): string {
  const reads = groups.map((g, i) => `(SELECT ${g.columns.map(q).join(', ')} FROM read_parquet($${i + 1}))`);
  return `CREATE OR REPLACE TEMP TABLE cmp AS SELECT CAST(row_number() OVER () AS BIGINT) - 1 AS rn, * FROM ${reads.join(' POSITIONAL JOIN ')}`;
}

