// The dataset profile's SQL for DuckDB (the embedded warehouse). Columns are profiled a batch at a
// time: the batch is read from the output parquet once into a temp table (parquet is columnar, so
// only its columns are read), then measured in one pass and its sample block taken from memory.

import { quoteIdent } from '../../naming.js';

const q = (name: string) => quoteIdent(name, 'duckdb');
/** Column aliases: c0, c1, ... (output names can be long; aliases keep the SQL short). */
const c = (i: number) => `c${i}`;

/** Values per column in the statistics' result: see columnStatsSql. */
export const STATS_PER_COLUMN = 6;

/**
 * One pass over a batch of a group's columns, read from its files ($1) in file order (= key
 * order): per column non-null count, min, max, mean, sd, and repeats of the previous row's value.
 * Only a streaming window (lag over the scan order) and plain aggregates: sorted windows and
 * filters on a row number cost DuckDB 10-100x more over thousands of columns (measured). inf and
 * NaN show as an infinite or NaN min or max and are counted apart (nonFiniteSql), for the few
 * columns that have them.
 */
export function columnStatsSql(names: readonly string[]): string {
  const idx = [...names.keys()];
  const inner = `SELECT ${idx.map((i) => `${q(names[i]!)} AS ${c(i)}, lag(${q(names[i]!)}) OVER () AS p${i}`).join(', ')} FROM read_parquet($1)`;
  const stats = idx.map((i) => `count(${c(i)}), min(${c(i)}), max(${c(i)}), avg(${c(i)}), stddev_pop(${c(i)}), count(*) FILTER (WHERE ${c(i)} = p${i})`);
  return `SELECT ${stats.join(', ')} FROM (${inner})`;
}

/** Non-null values of each column in the first $2 rows of the files $1 (the warm-up). */
export function warmupSql(names: readonly string[]): string {
  return `SELECT ${names.map((n) => `count(${q(n)})`).join(', ')} FROM (SELECT ${names.map(q).join(', ')} FROM read_parquet($1) LIMIT $2)`;
}

/** The last row (0-based) where each column has a value, in the files $1 (labels only: their tail). */
export function lastRowSql(names: readonly string[]): string {
  return `SELECT ${names.map((n) => `max(rn) FILTER (WHERE ${q(n)} IS NOT NULL)`).join(', ')} FROM (SELECT CAST(row_number() OVER () AS BIGINT) - 1 AS rn, ${names.map(q).join(', ')} FROM read_parquet($1))`;
}

/** The sample of a batch: rows [$2, $2 + $3) and every $4-th row of the files $1, row number first. */
export function sampleSql(names: readonly string[]): string {
  return `SELECT * FROM (SELECT CAST(row_number() OVER () AS BIGINT) - 1 AS rn, ${names.map(q).join(', ')} FROM read_parquet($1)) WHERE (rn >= $2 AND rn < $2 + $3) OR rn % $4 = 0 ORDER BY rn`;
}

/** inf and NaN counts, finite min, max, mean and sd of the named columns, in the files $1. */
export function nonFiniteSql(names: readonly string[]): string {
  const f = (n: string) => `FILTER (WHERE isfinite(${q(n)}))`;
  return `SELECT ${names.map((n) => `count(*) FILTER (WHERE isinf(${q(n)})), count(*) FILTER (WHERE isnan(${q(n)})), min(${q(n)}) ${f(n)}, max(${q(n)}) ${f(n)}, avg(${q(n)}) ${f(n)}, stddev_pop(${q(n)}) ${f(n)}`).join(', ')} FROM read_parquet($1)`;
}

/** Values further than 10 sd from the mean ($2, $3, ... : mean and sd per column), in the files $1. */
export function beyondSql(names: readonly string[]): string {
  return `SELECT ${names.map((n, k) => `count(*) FILTER (WHERE isfinite(${q(n)}) AND abs(${q(n)} - $${2 * k + 2}) > 10 * $${2 * k + 3})`).join(', ')} FROM read_parquet($1)`;
}

/**
 * The longest run of one value per column (few columns: the ones that repeat), from the files
 * $1: a run starts where the value differs from the previous row's.
 */
export function longestRunSql(names: readonly string[]): string {
  const idx = [...names.keys()];
  const inner = `SELECT CAST(row_number() OVER () AS BIGINT) AS rn, ${idx.map((i) => `${q(names[i]!)} AS ${c(i)}, lag(${q(names[i]!)}) OVER () AS p${i}`).join(', ')} FROM read_parquet($1)`;
  const starts = `SELECT rn, ${idx.map((i) => `${c(i)}, max(CASE WHEN ${c(i)} = p${i} THEN NULL ELSE rn END) OVER (ORDER BY rn ROWS UNBOUNDED PRECEDING) AS s${i}`).join(', ')} FROM (${inner})`;
  return `SELECT ${idx.map((i) => `max(rn - s${i} + 1) FILTER (WHERE ${c(i)} IS NOT NULL)`).join(', ')} FROM (${starts})`;
}

/** Consecutive keys more than a minute apart, in the files $1: [first missing minute, next key). */
export function keyGapsSql(key: string): string {
  const k = q(key);
  return `SELECT strftime(prev + INTERVAL 1 MINUTE, '%Y-%m-%dT%H:%M:%SZ') AS gap_from, strftime(k, '%Y-%m-%dT%H:%M:%SZ') AS gap_to,
  CAST((epoch(k) - epoch(prev)) / 60 AS BIGINT) - 1 AS minutes
FROM (SELECT ${k}::TIMESTAMP AS k, lag(${k}::TIMESTAMP) OVER () AS prev FROM read_parquet($1))
WHERE epoch(k) - epoch(prev) > 60 ORDER BY k`;
}

/**
 * Column pairs compared on every $1-th row of the table `cmp` (rn and the columns): column a at
 * row r against column b at row r - shift. Per pair: rows both non-null, equal rows, rows where
 * only one is null, and the correlation.
 */
export function compareSql(pairs: readonly { a: string; b: string; shift: number }[]): string {
  // lag(x, n) with n < 0 is refused, so a negative shift is a lead.
  const shifted = pairs.map((p, i) => `${q(p.a)} AS a${i}, ${p.shift >= 0 ? 'lag' : 'lead'}(${q(p.b)}, ${Math.abs(p.shift)}) OVER (ORDER BY rn) AS b${i}`);
  const stats = pairs.map((_, i) =>
    [
      `count(*) FILTER (WHERE a${i} IS NOT NULL AND b${i} IS NOT NULL)`,
      `count(*) FILTER (WHERE a${i} = b${i})`,
      `count(*) FILTER (WHERE (a${i} IS NULL) <> (b${i} IS NULL))`,
      `corr(a${i}, b${i})`,
    ].join(', '),
  );
  return `SELECT ${stats.join(', ')} FROM (SELECT rn, ${shifted.join(', ')} FROM cmp) WHERE rn % $1 = 0`;
}

/** The compared columns of several groups side by side, rows numbered (groups line up row for row). */
export function compareTableSql(groups: readonly { columns: string[] }[]): string {
  const reads = groups.map((g, i) => `(SELECT ${g.columns.map(q).join(', ')} FROM read_parquet($${i + 1}))`);
  return `CREATE OR REPLACE TEMP TABLE cmp AS SELECT CAST(row_number() OVER () AS BIGINT) - 1 AS rn, * FROM ${reads.join(' POSITIONAL JOIN ')}`;
}

/** Rows with a key before each cut ($2, $3, ...), in the files $1. */
export function cutRowsSql(key: string, cuts: number): string {
  const counts = [...Array(cuts).keys()].map((i) => `count(*) FILTER (WHERE ${q(key)} < $${i + 2}::TIMESTAMPTZ)`);
  return `SELECT ${counts.join(', ')} FROM read_parquet($1)`;
}
