// Builds the demo warehouse in the embedded DuckDB file: the feature tables of DATA.md's shape
// for the requested pairs, and their label tables. Keys are 1-minute UTC times with the FX
// weekend left out; about 2 % of cells are null; a few tables hold duplicate keys, some start
// late, and the corr_etf_idx_* family is entirely null, as in the real warehouse.

import type { DuckDbWarehouse } from '../adapters/local/duckdbWarehouse.js';
import { quoteIdent } from '../naming.js';
import { LABEL_COLUMNS, demoTables, hasDuplicates, isAllNull, startsLate, type DemoTable } from './names.js';

export interface DemoOptions {
  pairs: string[];
  rows: number;
  featuresDataset: string;
  labelsDataset: string;
  labelTablePrefix: string;
  /** First key of the label range. */
  start?: string;
  /** Build only the feature tables this accepts (tests that need a small, fast warehouse). */
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
/** Feature tables reach this many minutes past both ends of the label range. */
export const FEATURE_MARGIN_MINUTES = 60;
/** The last minutes of the label range have no future value: their labels are null. */
export const NULL_LABEL_TAIL = 2880;

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
       WHERE NOT ((dayofweek(t) = 5 AND hour(t) >= 22) OR dayofweek(t) = 6 OR (dayofweek(t) = 0 AND hour(t) < 22))
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
  for (const table of tables) {
    await warehouse.execute(featureTableSql(fds, table, rows));
    options.onProgress?.(++done, total);
  }
  await warehouse.execute('DROP SCHEMA demo_scratch CASCADE');
  await warehouse.execute('CHECKPOINT');
  return { pairs: options.pairs, rows, featureTables: tables.length, labelTables: options.pairs.length };
}

function labelTableSql(dataset: string, table: string, rows: number): string {
  const cols = LABEL_COLUMNS.map((c) => `CASE WHEN i >= ${rows - NULL_LABEL_TAIL} OR random() < 0.02 THEN NULL ELSE round(random() * 2 - 1, 6) END AS ${q(c)}`);
  return `CREATE OR REPLACE TABLE ${q(dataset)}.${q(table)} AS SELECT interval_time, ${cols.join(', ')}
FROM demo_scratch.keys WHERE i >= 0 AND i < ${rows} ORDER BY interval_time`;
}

function featureTableSql(dataset: string, t: DemoTable, rows: number): string {
  // Smooth series with a little noise, rounded as prices are: compresses like real features do.
  const value = (k: number) =>
    isAllNull(t.table)
      ? 'CAST(NULL AS DOUBLE)'
      : `CASE WHEN random() < 0.02 THEN NULL ELSE round(sin(i * ${(0.001 * (1 + (k % 13))).toFixed(4)} + ${k % 7}) * ${1 + (k % 5)} + random() * 0.0005, 5) END`;
  const metadata = t.metadata.map((m, i) => `${literal(t.pairs[i] ?? t.pairs[0] ?? '')} AS ${q(m)}`);
  const select = ['interval_time', ...metadata, ...t.columns.map((c, k) => `${value(k)} AS ${q(c)}`)].join(', ');
  const from = startsLate(t.table) ? `demo_scratch.keys WHERE i >= ${Math.floor(rows * 0.4)}` : 'demo_scratch.keys';
  const dupes = hasDuplicates(t.table) ? `\nUNION ALL SELECT ${select} FROM demo_scratch.keys WHERE i % 97 = 13` : '';
  return `CREATE OR REPLACE TABLE ${q(dataset)}.${q(t.table)} AS SELECT ${select} FROM ${from}${dupes}`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
