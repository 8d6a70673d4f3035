// Builds the demo warehouse in the embedded DuckDB file: the feature tables of DATA.md's shape
// for the requested pairs (kept as parquet files beside it, read through views: fileTables.ts),
// and their label tables (DuckDB's own). Keys are 1-minute UTC times with the FX
// weekend left out; about 2 % of cells are null (reproducible draws: draws.ts); a few tables hold duplicate keys, some start
// late, and the corr_etf_idx_* family is entirely null, as in the real warehouse.

import type { DuckDbWarehouse } from '../adapters/local/duckdbWarehouse.js';
import { quoteIdent } from '../naming.js';
import { LABEL_COLUMNS, demoTables, hasDuplicates, isAllNull, startsLate, type DemoTable } from './names.js';
import { isTradingMinute, plantedGapFilter, plantedTable } from './plants.js';
import { drawBelowSql, saltOf, uniformSql } from './draws.js';

export interface DemoOptions {
  pairs: string[];
  rows: number;
  featuresDataset: string;
  labelsDataset: string;
  labelTablePrefix: string;
  /** First key of the label range. */
  start?: string;
  /** Only the feature tables this accepts (tests build a narrow warehouse quickly). */
  only?: (table: string) => boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface DemoSummary {
  pairs: string[];
  rows: number;
  featureTables: number;
  labelTables: number;
}

const q = (name: string) => quoteIdent(name, 'duckdb');

/** Trading minutes: everything but Friday 22:00 to Sunday 22:00 UTC (`t` a TIMESTAMP column). */
export const tradingMinute = (t: string) => `NOT ((dayofweek(${t}) = 5 AND hour(${t}) >= 22) OR dayofweek(${t}) = 6 OR (dayofweek(${t}) = 0 AND hour(${t}) < 22))`;
/** Feature tables reach this many minutes past both ends of the label range. */
export const FEATURE_MARGIN_MINUTES = 60;
/**
 * Labels look this many minutes ahead (DATA.md), so a label key less than that before the label
 * range's last key has no future value yet: its labels are null. Minutes of time, not rows: across
 * a weekend the tail holds fewer rows. The chain's LABEL_LOOKAHEAD_MINUTES is the same lookahead.
 */
export const NULL_LABEL_TAIL = 2880;

/**
 * Feature tables written at once while the demo is built. Four rather than two: the 10,000-row
 * demo (`npm start`'s) built in 14.3-16.7 s against 15.7-16.9 s, faster in 5 of 5 alternated pairs
 * (and at 300 rows 6.9 s against 7.6 s), its peak RSS 357-367 MB against 315 MB (forty-eighth
 * session). A statement runs on its caller's thread; while they run DuckDB's own pool shrinks to
 * what the cores leave (callerThreads.ts), and four keep both cores busy between statements.
 */
const DEMO_COPIES = 4;

export async function buildDemoWarehouse(warehouse: DuckDbWarehouse, options: DemoOptions): Promise<DemoSummary> {
  const { rows, featuresDataset: fds, labelsDataset: lds } = options;
  const start = options.start ?? '2020-01-06T00:00:00Z'; // a Monday
  await warehouse.execute(`CREATE SCHEMA IF NOT EXISTS ${q(fds)}`);
  await warehouse.execute(`CREATE SCHEMA IF NOT EXISTS ${q(lds)}`);
  await warehouse.execute('CREATE SCHEMA IF NOT EXISTS demo_scratch');
  // Trading minutes: everything but Friday 22:00 to Sunday 22:00 UTC. i = 0 is the first label key.
  await warehouse.execute(
    `CREATE OR REPLACE TABLE demo_scratch.keys AS
     WITH minutes AS (
       SELECT t FROM range($1::TIMESTAMPTZ::TIMESTAMP - INTERVAL 3 DAY, $1::TIMESTAMPTZ::TIMESTAMP + to_minutes(CAST($2 * 2 + 20000 AS BIGINT)), INTERVAL 1 MINUTE) r(t)
       WHERE ${tradingMinute('t')}
         AND ${plantedGapFilter(start, rows, isTradingMinute)}
     ), numbered AS (
       SELECT t, CAST(row_number() OVER (ORDER BY t) AS BIGINT) - 1 - (SELECT count(*) FROM minutes WHERE t < $1::TIMESTAMPTZ::TIMESTAMP) AS i FROM minutes
     )
     SELECT t::TIMESTAMPTZ AS interval_time, i FROM numbered WHERE i >= -${FEATURE_MARGIN_MINUTES} AND i < $2 + ${FEATURE_MARGIN_MINUTES} ORDER BY i`,
    [start, rows],
  );
  const tables = demoTables(options.pairs).filter((t) => options.only?.(t.table) ?? true);
  const total = tables.length + options.pairs.length;
  let done = 0;
  for (const pair of options.pairs) {
    await warehouse.execute(labelTableSql(lds, `${options.labelTablePrefix}${pair}`, rows));
    options.onProgress?.(++done, total);
  }
  const labelTable = (pair: string) => `${q(lds)}.${q(`${options.labelTablePrefix}${pair}`)}`;
  // DEMO_COPIES tables at a time: each statement is one small row group, so DuckDB runs it on one
  // thread (its caller's). Feature tables are parquet files read through views (fileTables.ts):
  // DuckDB's own storage took twice as long.
  const writes = tables.map((t) => ({ table: t.table, select: featureRowsSql(t, rows, 'demo_scratch.keys', rows + 2 * FEATURE_MARGIN_MINUTES, labelTable) }));
  await warehouse.writeFileTables(fds, writes, 'replace', { copies: DEMO_COPIES, onWritten: () => options.onProgress?.(++done, total) });
  await warehouse.execute('DROP SCHEMA demo_scratch CASCADE');
  // Every table bqx writes gets a new data version: what reuse by content compares.
  await warehouse.markChanged(lds, options.pairs.map((p) => `${options.labelTablePrefix}${p}`));
  await warehouse.markChanged(fds, tables.map((t) => t.table));
  await warehouse.execute('CHECKPOINT');
  return { pairs: options.pairs, rows, featureTables: tables.length, labelTables: options.pairs.length };
}

function labelTableSql(dataset: string, table: string, rows: number): string {
  return `CREATE OR REPLACE TABLE ${q(dataset)}.${q(table)} AS ${labelRowsSql(table, rows, 0, rows)}`;
}

/**
 * A cell of label `column` of label table `table`: a value in [-1, 1], null in about 2 % of rows,
 * drawn from the row's time (an append's filled-in tail draws what a build of those rows would).
 */
export function labelValueSql(table: string, column: string): string {
  const key = 'epoch_ms(interval_time)';
  const salt = saltOf(`${table}.${column}`) * 2;
  return `CASE WHEN ${drawBelowSql(key, salt, 0.02)} THEN NULL ELSE round(${uniformSql(key, salt + 1)} * 2 - 1, 6) END`;
}

/** Rows i in [from, to) of demo_scratch.keys for label table `table`, of a label range of `rows` rows in all (its last key i = rows - 1). */
export function labelRowsSql(table: string, rows: number, from: number, to: number): string {
  const tail = `(SELECT interval_time FROM demo_scratch.keys WHERE i = ${rows - 1}) - INTERVAL ${NULL_LABEL_TAIL} MINUTE`;
  const cols = LABEL_COLUMNS.map((c) => `CASE WHEN interval_time > ${tail} THEN NULL ELSE ${labelValueSql(table, c)} END AS ${q(c)}`);
  return `SELECT interval_time, ${cols.join(', ')}
FROM demo_scratch.keys WHERE i >= ${from} AND i < ${to} ORDER BY interval_time`;
}

/**
 * A feature table's rows for the keys of `keyTable` (a table or subquery with interval_time and i),
 * about `keyRows` of them: the build's keys, or an append's.
 */
export function featureRowsSql(t: DemoTable, rows: number, keyTable: string, keyRows: number, labelTable: (pair: string) => string): string {
  // What the profile must find (shared/demo/plants.ts): planted columns replace the generated ones.
  const plant = plantedTable(t.table, t.pairs, rows, labelTable);
  const series = keyRows <= LIST_MAX_ROWS ? listSeries : columnSeries;
  const salt = saltOf(t.table);
  const generated = (k: number) => (isAllNull(t.table) ? 'CAST(NULL AS DOUBLE)' : series.column(k));
  const planted = (c: string, k: number) => plant.columns.get(c) ?? generated(k);
  const value = (c: string, k: number) => (plant.allNullWhen ? `CASE WHEN ${plant.allNullWhen} THEN NULL ELSE ${planted(c, k)} END` : planted(c, k));
  const metadata = t.metadata.map((m, i) => `${literal(t.pairs[i] ?? t.pairs[0] ?? '')} AS ${q(m)}`);
  const select = ['interval_time', ...metadata, ...t.columns.map((c, k) => `${value(c, k)} AS ${q(c)}`)].join(', ');
  const drawn = isAllNull(t.table) ? keyTable : series.from(keyTable, t.columns.length, salt);
  const keys = plant.join ? `${drawn} ${plant.join}` : drawn;
  const from = startsLate(t.table) ? `${keys} WHERE i >= ${Math.floor(rows * 0.4)}` : keys;
  const dupes = hasDuplicates(t.table) ? `\nUNION ALL SELECT ${select} FROM ${keys} WHERE i % 97 = 13` : '';
  return `SELECT ${select} FROM ${from}${dupes}`;
}

/**
 * The generated values: smooth series with a little noise, rounded as prices are (they compress as
 * real features do). Column k follows curve k % 91 (frequency k % 13, phase k % 7) times
 * 1 + k % 5, plus noise, and is null in about 2 % of rows; no two columns of a table are equal.
 * `from` adds to the keys what `column(k)` reads.
 */
interface Series {
  /** `salt`: the table's (draws.ts saltOf), so that no two tables draw the same noise. */
  from(keys: string, width: number, salt: number): string;
  column(k: number): string;
}

/**
 * round(x, 5) as DuckDB computes it (round(x * 10^5) / 10^5) without its pow() per value, and the
 * curves' frequencies as DOUBLE (a BIGINT times a decimal literal is a 128-bit DECIMAL cast back
 * per value): the same values (compared on a million rows), for about a tenth less of the
 * build's CPU (both were hot in perf).
 */
const round5 = (x: string) => `round((${x}) * 100000::DOUBLE) / 100000::DOUBLE`;

const FREQUENCIES = 13;
const PHASES = 7;
const CURVES = FREQUENCIES * PHASES; // 91
const NULL_DRAWS = 17;
const NOISE_DRAWS = 19;

/**
 * A few expressions a column: the curves, null draws and noise are computed once per row and
 * shared by the columns (column k: null draw k % 17, noise k % 19), not once per cell: that was
 * most of the build's time at 10,000 rows.
 */
const columnSeries: Series = {
  from(keys, width, salt) {
    // Draw d of the table: salt * 64 + d (the list series' cells are salt * 2^16 + 2k and 2k + 1).
    const draws = [
      ...Array.from({ length: Math.min(width, CURVES) }, (_, k) => `sin(i * ${(0.001 * (1 + (k % FREQUENCIES))).toFixed(4)}::DOUBLE + ${k % PHASES}) AS s${k}`),
      ...Array.from({ length: Math.min(width, NULL_DRAWS) }, (_, k) => `${drawBelowSql('i', salt * 64 + k, 0.02)} AS n${k}`),
      ...Array.from({ length: Math.min(width, NOISE_DRAWS) }, (_, k) => `${uniformSql('i', salt * 64 + NULL_DRAWS + k)} AS r${k}`),
    ];
    return `(SELECT *, ${draws.join(', ')} FROM ${keys}) series`;
  },
  column: (k) => `CASE WHEN n${k % NULL_DRAWS} THEN NULL ELSE ${round5(`s${k % CURVES} * ${1 + (k % 5)} + r${k % NOISE_DRAWS} * 0.0005`)} END`,
};

/**
 * One lambda for all the table's columns, each row's values a list (draws per cell). DuckDB binds
 * and plans a statement in time that grows with its expressions: a 32-column table's took 6.5 ms
 * to plan as columns and 2.3 ms so, most of a small table's write. Per table and thread
 * (2026-12-06, alternated, against columnSeries): 180 rows 3.5-3.7 ms against 8.1-9.2 ms, 1,500
 * rows 6.8-7.2 against 11.5-12.8 ms, 10,000 rows 30.3-30.7 against 29.0-30.1 ms, 20,000 rows
 * 57.6-61.2 against 49.5-49.6 ms; `npm start`'s 10,000-row demo was slower so (18.1-22.0 s against
 * 15.9-18.1 s), a `demo --append 2h` faster (4.4-6.8 s against 7.7-9.0 s), and a 600-row demo
 * (4.6-6.0 s against 8.4-9.1 s). Used up to LIST_MAX_ROWS keys.
 */
const listSeries: Series = {
  from(keys, width, salt) {
    const cell = (d: number) => `${salt * 2 ** 16} + k * 2 + ${d}`;
    const value = round5(`sin(i * (0.001::DOUBLE * (1 + k % ${FREQUENCIES})) + k % ${PHASES}) * (1 + k % 5) + ${uniformSql('i', cell(1))} * 0.0005`);
    return `(SELECT *, list_transform(range(${width}), k -> CASE WHEN ${drawBelowSql('i', cell(0), 0.02)} THEN NULL ELSE ${value} END) AS demo_values FROM ${keys}) series`;
  },
  column: (k) => `demo_values[${k + 1}]`,
};
const LIST_MAX_ROWS = 5_000;

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
