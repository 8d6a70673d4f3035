// Changing the demo warehouse the way the real one changes, to exercise reuse and refresh:
//   touch   rewrites tables in place: same schema, same rows and keys, new values (a table kept
//           in parquet files gets new files: fileTables.ts)
//   append  adds the next minutes to the pairs' label tables and every feature table
// Both give the tables they change a new data version (tableVersions.ts), as every bqx write does;
// an append's version says it changed only keys from its first new minute on.

import type { DuckDbWarehouse } from '../adapters/local/duckdbWarehouse.js';
import { recordTableChanges } from '../adapters/local/tableVersions.js';
import { InputError, KEY_COLUMN, quoteIdent } from '../naming.js';
import type { CatalogTable } from '../ports.js';
import { FEATURE_MARGIN_MINUTES, NULL_LABEL_TAIL, featureRowsSql, labelRowsSql, labelValueSql, tradingMinute } from './generate.js';
import { LABEL_COLUMNS, demoTables, type DemoTable } from './names.js';
import { saltOf, uniformSql } from './draws.js';

const q = (name: string) => quoteIdent(name, 'duckdb');

export interface DemoDatasets {
  featuresDataset: string;
  labelsDataset: string;
  labelTablePrefix: string;
  metadataColumns: readonly string[];
}

/** `1d`, `2h`, `90m`: a duration in minutes (1d = 1,440 trading minutes). */
export function parseDuration(text: string): number {
  const m = /^([1-9]\d{0,4})([mhd])$/.exec(text.trim());
  if (!m) throw new InputError(`duration ${JSON.stringify(text)} must be a whole number from 1 and a unit (m, h or d), such as 1d, 2h or 90m, at most a year (366d)`);
  const minutes = Number(m[1]) * { m: 1, h: 60, d: 1440 }[m[2] as 'm' | 'h' | 'd'];
  if (minutes > 366 * 1440) throw new InputError(`duration ${text} is over a year (at most 366d, 8784h or 527040m)`);
  return minutes;
}

/**
 * Rewrites each named table in place: every value column gets new values (numbers moved a little,
 * nulls kept), keys, metadata and row count unchanged. Tables are looked up in the features
 * dataset, then the labels dataset; an unknown name changes nothing and is refused.
 * `onProgress`: called as each table is written.
 */
export async function touchTables(
  warehouse: DuckDbWarehouse,
  datasets: DemoDatasets,
  names: readonly string[],
  onProgress?: (done: number, total: number) => void,
): Promise<{ dataset: string; table: string }[]> {
  if (names.length === 0) throw new InputError('--touch needs table names, such as --touch agg_eurusd,mkt_regime');
  const [features, labels] = await Promise.all([warehouse.listTables(datasets.featuresDataset), warehouse.listTables(datasets.labelsDataset)]);
  const found = names.map((name) => {
    const f = features.find((t) => t.table === name);
    const l = labels.find((t) => t.table === name);
    if (!f && !l) throw new InputError(`unknown table "${name}": not in ${datasets.featuresDataset} or ${datasets.labelsDataset}`);
    return { dataset: f ? datasets.featuresDataset : datasets.labelsDataset, table: (f ?? l)! };
  });
  const metadata = new Set(datasets.metadataColumns);
  // Per dataset, the tables kept in parquet files and those in DuckDB's own storage.
  const inFiles = new Map<string, CatalogTable[]>();
  const native = new Map<string, CatalogTable[]>();
  for (const dataset of new Set(found.map((f) => f.dataset))) {
    const kept = await warehouse.fileTables(dataset);
    for (const { table } of found.filter((f) => f.dataset === dataset)) {
      const into = kept.has(table.table) ? inFiles : native;
      into.set(dataset, [...(into.get(dataset) ?? []), table]);
    }
  }
  // Tables kept in files are written again whole (their files never change in place), between two
  // version marks as appendMinutes does: a crash halfway leaves versions no run has seen.
  const mark = async () => {
    for (const [dataset, tables] of inFiles) await warehouse.markChanged(dataset, tables.map((t) => t.table));
  };
  let done = 0;
  const written = () => onProgress?.(++done, found.length);
  if (inFiles.size > 0) {
    await mark();
    for (const [dataset, tables] of inFiles) {
      const writes = tables.map((table) => {
        const values = new Set(valueColumns(table, metadata).map((col) => col.name));
        const columns = table.columns.map((col) => (values.has(col.name) ? `${newValue(col.name, col.type)} AS ${q(col.name)}` : q(col.name)));
        return { table: table.table, select: `SELECT ${columns.join(', ')} FROM ${q(dataset)}.${q(table.table)}` };
      });
      await warehouse.writeFileTables(dataset, writes, 'replace', { onWritten: written });
    }
    await mark();
  }
  if (native.size > 0) {
    await warehouse.withConnection(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        for (const [dataset, tables] of native) {
          for (const table of tables) {
            const sets = valueColumns(table, metadata).map((col) => `${q(col.name)} = ${newValue(col.name, col.type)}`);
            if (sets.length > 0) await c.run(`UPDATE ${q(dataset)}.${q(table.table)} SET ${sets.join(', ')}`);
            written();
          }
          await recordTableChanges(c, dataset, tables.map((t) => t.table));
        }
        await c.run('COMMIT');
      } catch (error) {
        await c.run('ROLLBACK').catch(() => {});
        throw error;
      }
    });
    await warehouse.execute('CHECKPOINT');
  }
  return found.map((f) => ({ dataset: f.dataset, table: f.table.table }));
}

function valueColumns(table: CatalogTable, metadata: Set<string>) {
  return table.columns.filter((c) => c.name !== KEY_COLUMN && !metadata.has(c.name));
}

/** A new value for a column of the port's type: numbers move, booleans flip, nulls stay null. */
function newValue(column: string, type: string): string {
  const c = q(column);
  // Drawn from the row's time and the value itself: the same touch of the same table moves it alike on every machine.
  if (type === 'FLOAT64') return `CASE WHEN ${c} IS NULL THEN NULL ELSE round(${c} + 0.001 + ${uniformSql(`epoch_ms(${q(KEY_COLUMN)}), hash(${c})`, saltOf(column))} * 0.01, 6) END`;
  if (type === 'BOOL') return `NOT ${c}`;
  return `${c} + 1`;
}

/**
 * New label values (2 % null, as the build draws them) for the rows of `table` whose key is in
 * `filled` (filledTailSql): the null tail an append's minutes make known. Run before the new rows go in.
 */
function fillLabelTailSql(table: string, name: string, filled: string): string {
  const set = LABEL_COLUMNS.map((c) => `${q(c)} = ${labelValueSql(name, c)}`).join(', ');
  return `UPDATE ${table} SET ${set} WHERE ${filled}`;
}

/** The keys of the old null label tail that an append making the label range end at key i = `to` - 1 fills in. */
const filledTailSql = (table: string, to: number) =>
  `${q(KEY_COLUMN)} > (SELECT max(${q(KEY_COLUMN)}) FROM ${table}) - INTERVAL ${NULL_LABEL_TAIL} MINUTE
   AND ${q(KEY_COLUMN)} <= (SELECT interval_time FROM demo_scratch.keys WHERE i = ${to - 1}) - INTERVAL ${NULL_LABEL_TAIL} MINUTE`;

export interface AppendResult {
  minutes: number;
  /** Label rows added per pair, and the label range's new last key. */
  labelRows: number;
  lastKey: string;
  featureTables: number;
  /** Label rows of the old null tail given values per pair (the new minutes make them known). */
  filledLabelRows: number;
}

/**
 * Appends `minutes` trading minutes to the label tables of `pairs` and to every demo feature
 * table, continuing the demo's series (feature tables keep reaching their margin past the labels'
 * end). `built` is the demo's row count when it was built, `appended` the minutes added since.
 * `only`: the feature tables to append to (a pair just added to a grown demo: its own tables).
 * `onProgress`: called as each feature table's new file is written.
 */
export async function appendMinutes(
  warehouse: DuckDbWarehouse,
  datasets: DemoDatasets,
  demo: { pairs: string[]; built: number; appended: number; only?: (table: string) => boolean },
  minutes: number,
  onProgress?: (done: number, total: number) => void,
): Promise<AppendResult> {
  const first = `${datasets.labelTablePrefix}${demo.pairs[0]}`;
  const [stats] = await warehouse.query(`SELECT count(*)::BIGINT AS n, max(${q(KEY_COLUMN)})::TIMESTAMP::VARCHAR AS last FROM ${q(datasets.labelsDataset)}.${q(first)}`);
  const labelRows = Number(stats!.n);
  if (labelRows !== demo.built + demo.appended) {
    throw new InputError(`label table ${first} has ${labelRows} rows, the demo records ${demo.built} + ${demo.appended}: rebuild it with bqx demo --rows N`);
  }
  const from = labelRows; // the label index i of the first new key
  const to = from + minutes;
  // Keys i in [from, to + margin): the next trading minutes after the last label key.
  await warehouse.execute('CREATE SCHEMA IF NOT EXISTS demo_scratch');
  await warehouse.execute(
    `CREATE OR REPLACE TABLE demo_scratch.keys AS
     WITH minutes AS (
       SELECT t FROM range($1::TIMESTAMP + INTERVAL 1 MINUTE, $1::TIMESTAMP + to_minutes(CAST($2 * 2 + 4320 AS BIGINT)), INTERVAL 1 MINUTE) r(t)
       WHERE ${tradingMinute('t')}
     )
     SELECT t::TIMESTAMPTZ AS interval_time, CAST(row_number() OVER (ORDER BY t) AS BIGINT) - 1 + $3 AS i FROM minutes
     QUALIFY i < $4 ORDER BY i`,
    [String(stats!.last), minutes + FEATURE_MARGIN_MINUTES, from, to + FEATURE_MARGIN_MINUTES],
  );
  try {
    const total = demo.built + demo.appended + minutes;
    const labelTables = demo.pairs.map((p) => `${datasets.labelTablePrefix}${p}`);
    // Feature tables already reach FEATURE_MARGIN_MINUTES past the old end: they get the keys after that.
    const featureKeys = `(SELECT * FROM demo_scratch.keys WHERE i >= ${from + FEATURE_MARGIN_MINUTES}) k`;
    const tables = demoTables(demo.pairs).filter((t) => demo.only?.(t.table) ?? true);
    const labelTableOf = (pair: string) => `${q(datasets.labelsDataset)}.${q(`${datasets.labelTablePrefix}${pair}`)}`;
    // Versions are recorded before and after the inserts (hundreds of statements; one transaction
    // over all of them was slower): a crash halfway leaves tables with a version no run has seen
    // with their old rows, so nothing stale can be reused. The embedded warehouse is one process's
    // at a time (DuckDB locks the file), so no run reads between the two.
    // The rows written all have keys from the first new minute on: the versions say so, so the
    // version of every earlier window stays (an incremental refresh extracts only the new minutes).
    const [firstNew] = await warehouse.query(`SELECT strftime(min(interval_time)::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.000Z') AS t FROM demo_scratch.keys WHERE i >= ${from}`);
    const range = { start: String(firstNew!.t), end: null };
    // Labels look NULL_LABEL_TAIL minutes ahead, so the new minutes make the old tail's labels
    // known: the old rows with a key in (old last - tail, new last - tail] get values, as the label
    // table's own recalculation does upstream. Its changed range then starts at the first of them.
    const firstLabels = labelTableOf(demo.pairs[0]!);
    const [firstFilled] = await warehouse.query(`SELECT strftime(min(interval_time)::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.000Z') AS t, count(*)::INTEGER AS n FROM ${firstLabels} WHERE ${filledTailSql(firstLabels, to)}`);
    const labelRange = { start: firstFilled!.t === null ? range.start : String(firstFilled!.t), end: null };
    const mark = async () => {
      await warehouse.markChanged(datasets.labelsDataset, labelTables, labelRange);
      await warehouse.markChanged(datasets.featuresDataset, tables.map((t) => t.table), range);
    };
    await mark();
    for (const table of labelTables) {
      const labels = `${q(datasets.labelsDataset)}.${q(table)}`;
      await warehouse.execute(fillLabelTailSql(labels, table, filledTailSql(labels, to)));
      await warehouse.execute(`INSERT INTO ${q(datasets.labelsDataset)}.${q(table)} ${labelRowsSql(table, total, from, to)}`);
    }
    const inFiles = await warehouse.fileTables(datasets.featuresDataset);
    const rowsOf = (t: DemoTable) => featureRowsSql(t, demo.built, featureKeys, minutes, labelTableOf);
    let done = 0;
    const written = () => onProgress?.(++done, tables.length);
    await warehouse.writeFileTables(datasets.featuresDataset, tables.filter((t) => inFiles.has(t.table)).map((t) => ({ table: t.table, select: rowsOf(t) })), 'append', { onWritten: written });
    for (const t of tables.filter((t) => !inFiles.has(t.table))) {
      await warehouse.execute(`INSERT INTO ${q(datasets.featuresDataset)}.${q(t.table)} ${rowsOf(t)}`);
      written();
    }
    await mark();
    const [last] = await warehouse.query(`SELECT max(${q(KEY_COLUMN)})::TIMESTAMP::VARCHAR AS last FROM ${q(datasets.labelsDataset)}.${q(first)}`);
    return { minutes, labelRows: minutes, lastKey: `${String(last!.last).replace(' ', 'T')}Z`, featureTables: tables.length, filledLabelRows: Number(firstFilled!.n) };
  } finally {
    await warehouse.execute('DROP SCHEMA IF EXISTS demo_scratch CASCADE');
    await warehouse.execute('CHECKPOINT');
  }
}
