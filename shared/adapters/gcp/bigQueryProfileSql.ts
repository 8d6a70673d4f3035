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

/** Per column i, the measures of a stretch of rows (scanSegments.ts Segment), as `s<i>_<measure>`. */
export const SEGMENT_MEASURES = ['non_null', 'warm', 'finite', 'min', 'max', 'mean', 'm2', 'inf', 'nan', 'repeats', 'lead', 'longest', 'last_row', 'first', 'first_valid', 'last', 'last_valid', 'last_run'] as const;

/**
 * The table's rows numbered by key within their stretch, one time shard each, so no window sorts
 * more than one shard: a row's stretch `seg` is RANGE_BUCKET of its key over @bounds (the later
 * stretches' first keys, in epoch microseconds, and a bound past every key), its number
 * @firsts[seg] (the stretch's first row in the dataset) plus its place in the stretch.
 */
function numberedRows(dataset: string, table: string, columns: readonly string[]): string {
  const inner = `SELECT RANGE_BUCKET(UNIX_MICROS(${key}), @bounds) AS seg, ${key} AS k, ${columns.map((name, i) => `CAST(${q(name)} AS FLOAT64) AS ${c(i)}`).join(', ')} FROM ${tableRef(dataset, table)}`;
  return `SELECT seg, @firsts[OFFSET(seg)] + ROW_NUMBER() OVER (PARTITION BY seg ORDER BY k) - 1 AS rn, ${columns.map((_, i) => c(i)).join(', ')} FROM (${inner})`;
}

/**
 * One pass over a batch of a group's columns (so each column is billed once), a result row per
 * stretch of rows (numberedRows: a time shard each). The table holds the dataset's rows from a
 * shard's first row on (all of them, or a refresh's rebuilt shards). Per column and stretch: what
 * shared/profile/scanSegments.ts joins to the scan state at the stretch's first row, repeats and
 * runs counted within the stretch (LAG and the run starts are partitioned by it): non-null,
 * non-null before @warmup, finite count/min/max/mean/M2, inf, NaN, repeats, the first run's
 * length, the longest run, the last non-null row, the first and last rows' values (rows
 * @firsts[seg] and @lasts[seg]), and the values on the sample's rows (`sample_rn`: their numbers).
 */
export function renderScanSegments(dataset: string, table: string, columns: readonly string[]): Rendered {
  const idx = [...columns.keys()];
  const numbered = numberedRows(dataset, table, columns);
  // The stretch's first and last rows.
  const stretch = 'seg, @firsts[OFFSET(seg)] AS first_rn, @lasts[OFFSET(seg)] AS last_rn';
  // Whether the row is in the sample (columnScan.ts inSample): its values come back with the measures.
  const sampled = '(rn >= @block_from AND rn < @block_from + @block_rows) OR MOD(rn, @spread_step) = 0 AS sampled';
  const lagged = `SELECT ${stretch}, ${sampled}, rn, ${idx.map(c).join(', ')}, ${idx.map((i) => `LAG(${c(i)}) OVER (PARTITION BY seg ORDER BY rn) AS p${i}`).join(', ')} FROM numbered`;
  // Equal to the row before, NaN to NaN too (ColumnScan's test; GoogleSQL's = holds NaN unequal).
  const same = (i: number) => `(${c(i)} = p${i} OR (IS_NAN(${c(i)}) AND IS_NAN(p${i})))`;
  // Per column: its value, its finite value (f), whether it repeats the row before (e), and where its run began (s).
  const perColumn = (i: number) =>
    `${c(i)}, IF(IS_INF(${c(i)}) OR IS_NAN(${c(i)}), NULL, ${c(i)}) AS f${i}, ${same(i)} AS e${i}, MAX(IF(${same(i)}, NULL, rn)) OVER (PARTITION BY seg ORDER BY rn ROWS UNBOUNDED PRECEDING) AS s${i}`;
  const runs = `SELECT seg, first_rn, last_rn, sampled, rn, ${idx.map(perColumn).join(', ')} FROM lagged`;
  const stats = idx.map((i) => {
    const [v, f, s] = [c(i), `f${i}`, `s${i}`];
    return [
      `COUNT(${v}) AS s${i}_non_null`,
      `COUNTIF(${v} IS NOT NULL AND rn < @warmup) AS s${i}_warm`,
      `COUNT(${f}) AS s${i}_finite`,
      `MIN(${f}) AS s${i}_min`,
      `MAX(${f}) AS s${i}_max`,
      `AVG(${f}) AS s${i}_mean`,
      `VAR_POP(${f}) * COUNT(${f}) AS s${i}_m2`,
      `COUNTIF(IS_INF(${v})) AS s${i}_inf`,
      `COUNTIF(IS_NAN(${v})) AS s${i}_nan`,
      `COUNTIF(e${i}) AS s${i}_repeats`,
      `COUNTIF(${v} IS NOT NULL AND ${s} = first_rn) AS s${i}_lead`,
      `MAX(IF(${v} IS NULL, NULL, rn - ${s} + 1)) AS s${i}_longest`,
      `MAX(IF(${v} IS NULL, NULL, rn)) AS s${i}_last_row`,
      `MAX(IF(rn = first_rn, ${v}, NULL)) AS s${i}_first`,
      `COUNTIF(rn = first_rn AND ${v} IS NOT NULL) AS s${i}_first_valid`,
      `MAX(IF(rn = last_rn, ${v}, NULL)) AS s${i}_last`,
      `COUNTIF(rn = last_rn AND ${v} IS NOT NULL) AS s${i}_last_valid`,
      `MAX(IF(rn = last_rn AND ${v} IS NOT NULL, rn - ${s} + 1, NULL)) AS s${i}_last_run`,
      // The sample rows' values in row order; a struct, so a null value keeps its place.
      `ARRAY_AGG(IF(sampled, STRUCT(${v} AS v), NULL) IGNORE NULLS ORDER BY rn) AS s${i}_sample`,
    ].join(', ');
  });
  const sampleRows = 'ARRAY_AGG(IF(sampled, rn, NULL) IGNORE NULLS ORDER BY rn) AS sample_rn';
  const sql = [`WITH numbered AS (${numbered}),`, `lagged AS (${lagged}),`, `runs AS (${runs})`, `SELECT seg, ${sampleRows}, ${stats.join(', ')}`, 'FROM runs', 'GROUP BY seg, first_rn, last_rn', 'ORDER BY seg'].join('\n');
  return { sql, tables: [`${dataset}.${table}`], columns: ['seg', 'sample_rn', ...idx.flatMap((i) => [...SEGMENT_MEASURES.map((n) => `s${i}_${n}`), `s${i}_sample`])] };
}

/**
 * Finite values further than a limit from a mean (outlierTails.ts `beyond`), per column i:
 * @mean<i> and @limit<i> (10 sd), as `b<i>`, over the rows the table holds.
 */
export function renderBeyond(dataset: string, table: string, columns: readonly string[]): Rendered {
  const counts = columns.map((name, i) => {
    const v = `CAST(${q(name)} AS FLOAT64)`;
    return `COUNTIF(NOT IS_INF(${v}) AND NOT IS_NAN(${v}) AND ABS(${v} - @mean${i}) > @limit${i}) AS b${i}`;
  });
  return { sql: [`SELECT ${counts.join(', ')}`, `FROM ${tableRef(dataset, table)}`].join('\n'), tables: [`${dataset}.${table}`], columns: columns.map((_, i) => `b${i}`) };
}

/**
 * Per column i, its finite values on rows [@from<i>, @snap) outside [@lo<i>, @hi<i>], in row order,
 * at most `limit` (outlierTails.ts: the tail a dataset keeps with its scan state), as `t<i>`; rows
 * numbered as numberedRows numbers them.
 */
export function renderTails(dataset: string, table: string, columns: readonly string[], limit: number): Rendered {
  const numbered = numberedRows(dataset, table, columns);
  const tails = columns.map((_, i) => {
    const v = c(i);
    return `ARRAY_AGG(IF(rn >= @from${i} AND rn < @snap AND NOT IS_INF(${v}) AND NOT IS_NAN(${v}) AND (${v} < @lo${i} OR ${v} > @hi${i}), ${v}, NULL) IGNORE NULLS ORDER BY rn LIMIT ${limit}) AS t${i}`;
  });
  return { sql: [`SELECT ${tails.join(', ')}`, `FROM (${numbered})`].join('\n'), tables: [`${dataset}.${table}`], columns: columns.map((_, i) => `t${i}`) };
}

/**
 * Consecutive keys more than a minute apart: [first missing minute, next key), minutes missing.
 * Each key is paired with the one before it within its UTC day, and each day's first key with the
 * last of the day before (a row per day): no window sorts more than a day's keys.
 */
export function renderKeyGaps(dataset: string, table: string): Rendered {
  const sql = [
    `WITH keyed AS (SELECT ${key} AS k, TIMESTAMP_TRUNC(${key}, DAY) AS d FROM ${tableRef(dataset, table)}),`,
    'days AS (SELECT MIN(k) AS k0, MAX(k) AS k1 FROM keyed GROUP BY d),',
    'pairs AS (SELECT k, LAG(k) OVER (PARTITION BY d ORDER BY k) AS prev FROM keyed',
    '  UNION ALL SELECT k0 AS k, LAG(k1) OVER (ORDER BY k0) AS prev FROM days)',
    'SELECT FORMAT_TIMESTAMP(\'%Y-%m-%dT%H:%M:%SZ\', TIMESTAMP_ADD(prev, INTERVAL 1 MINUTE)) AS gap_from,',
    "  FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', k) AS gap_to, TIMESTAMP_DIFF(k, prev, MINUTE) - 1 AS minutes",
    'FROM pairs',
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
 * Column pairs compared on every `step`-th row (by key order, @step): a at row r against b at row r -
 * shift. The tables of the groups involved are joined on the key (they hold the same keys). Rows
 * are numbered within their UTC day, from the day's first row in the table (a running count over
 * a row per day), and b is brought to row r by a join on the number, a join per shift: no window
 * sorts more than a day's rows (one over every row would sort them all on one worker). Pairs all
 * unshifted on every row (the duplicate candidates) need no numbers at all.
 */
export function renderCompare(dataset: string, groupTables: readonly { table: string; columns: readonly string[] }[], pairs: readonly { a: string; b: string; shift: number }[], step: number): Rendered {
  const from = groupTables.map((g, i) => (i === 0 ? `${tableRef(dataset, g.table)} AS t0` : `JOIN ${tableRef(dataset, g.table)} AS t${i} USING (${key})`)).join('\n  ');
  const source = (column: string) => {
    const i = groupTables.findIndex((g) => g.columns.includes(column));
    return `t${i}.${q(column)}`;
  };
  // Each compared column once, as x<j>.
  const compared = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const x = (column: string) => `x${compared.indexOf(column)}`;
  const shifts = [...new Set(pairs.map((p) => p.shift).filter((s) => s !== 0))];
  // Equal, NaN to NaN too (as the embedded comparison counts it; GoogleSQL's = holds NaN unequal).
  const stats = pairs.map((_, i) =>
    [
      `COUNTIF(a${i} IS NOT NULL AND b${i} IS NOT NULL) AS both${i}`,
      `COUNTIF(a${i} = b${i} OR (IS_NAN(a${i}) AND IS_NAN(b${i}))) AS equal${i}`,
      `COUNTIF((a${i} IS NULL) != (b${i} IS NULL)) AS mismatch${i}`,
      `CORR(a${i}, b${i}) AS corr${i}`,
    ].join(', '),
  );
  const columns = pairs.flatMap((_, i) => [`both${i}`, `equal${i}`, `mismatch${i}`, `corr${i}`]);
  const tables = groupTables.map((g) => `${dataset}.${g.table}`);
  const joined = `SELECT ${key} AS k, ${compared.map((column) => `${source(column)} AS ${x(column)}`).join(', ')}\n  FROM ${from}`;
  if (shifts.length === 0 && step === 1) {
    const sql = [`SELECT ${stats.join(', ')}`, `FROM (SELECT ${pairs.map((p, i) => `${x(p.a)} AS a${i}, ${x(p.b)} AS b${i}`).join(', ')}`, `  FROM (${joined}))`].join('\n');
    return { sql, tables, columns };
  }
  const xs = compared.map((column) => x(column)).join(', ');
  // b of the pairs shifted by s, at row r: the rows r - s, numbered r.
  const shiftedSide = (s: number, m: number) => {
    const bs = [...new Set(pairs.filter((p) => p.shift === s).map((p) => x(p.b)))];
    const plus = s > 0 ? `+ ${s}` : `- ${-s}`;
    return `h${m} AS (SELECT rn ${plus} AS rn, ${bs.join(', ')} FROM numbered WHERE MOD(rn ${plus}, @step) = 0)`;
  };
  const b = (p: { b: string; shift: number }) => (p.shift === 0 ? `r.${x(p.b)}` : `h${shifts.indexOf(p.shift)}.${x(p.b)}`);
  const ctes = [
    `joined AS (${joined})`,
    'days AS (SELECT d, SUM(n) OVER (ORDER BY d) - n AS day_first FROM (SELECT TIMESTAMP_TRUNC(k, DAY) AS d, COUNT(*) AS n FROM joined GROUP BY d))',
    `numbered AS (SELECT day_first + ROW_NUMBER() OVER (PARTITION BY d ORDER BY k) - 1 AS rn, ${xs} FROM (SELECT TIMESTAMP_TRUNC(k, DAY) AS d, * FROM joined) JOIN days USING (d))`,
    ...shifts.map(shiftedSide),
  ];
  const sql = [
    `WITH ${ctes.join(',\n')}`,
    `SELECT ${stats.join(', ')}`,
    `FROM (SELECT ${pairs.map((p, i) => `r.${x(p.a)} AS a${i}, ${b(p)} AS b${i}`).join(', ')}`,
    `  FROM numbered AS r${shifts.map((_, m) => ` LEFT JOIN h${m} USING (rn)`).join('')}`,
    '  WHERE MOD(r.rn, @step) = 0)',
  ].join('\n');
  return { sql, params: { step }, tables, columns };
}
