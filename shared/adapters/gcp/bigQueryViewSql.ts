// The statements of a feature view on BigQuery (pure): the source dataset's column groups are
// loaded from their output files into the run's scratch area (tables that expire by themselves),
// then each (time shard, view group) is one EXPORT DATA of the chosen columns over the shard's
// key range, sorted by key, into its own attempt folder, as the merge's exports are.

import { InputError, KEY_COLUMN, assertIdentifier, quoteIdent } from '../../naming.js';
import type { Window } from '../../ports.js';
import { MAX_RESULT_COLUMNS, MAX_TABLES_PER_STATEMENT, gcsLiteral, partitionMark, tableRef, windowParams, withinWindow, type Rendered } from './bigQuerySql.js';

const q = (name: string): string => quoteIdent(name, 'bigquery');
const key = q(KEY_COLUMN);

/**
 * Scratch table of one source group for view `name`: named after the run, the view, the group and
 * the key's unit it is partitioned by (BigQuery refuses LOAD DATA OVERWRITE into a table
 * partitioned otherwise, as an earlier bqx's unpartitioned load of the same view would be).
 */
export function viewScratchTable(area: string, name: string, group: number, partitionBy: 'DAY' | 'MONTH'): string {
  const table = `${area}__view_${assertIdentifier(name, 'view name')}_g${String(group).padStart(3, '0')}${partitionMark(partitionBy)}`;
  if (table.length > 1024) throw new InputError(`view name ${name} is too long for a scratch table name`);
  return table;
}

export interface ViewExport {
  scratchDataset: string;
  /** Source tables in source-group order, each with the view columns it gives (not the key). */
  sources: { table: string; columns: readonly string[] }[];
  uri: string;
  shard: Window;
}

/**
 * One (shard, view group): the chosen columns, the first source's keys joined to the others',
 * exported in key order. Every source is read through the shard's range: loaded partitioned by
 * the key, it is billed for the shard's partitions, not the dataset once per shard.
 */
export function renderViewExport(view: ViewExport): Rendered {
  if (view.sources.length === 0) throw new InputError('a view export needs at least one source table');
  if (!view.uri.endsWith('*.parquet')) throw new InputError(`export URI ${view.uri} must end with a *.parquet wildcard`);
  const select = [`${q('s0')}.${key}`];
  const columns = [KEY_COLUMN];
  const from: string[] = [];
  view.sources.forEach((s, i) => {
    const alias = q(`s${i}`);
    const ref = withinWindow(tableRef(view.scratchDataset, s.table));
    from.push(i === 0 ? `FROM ${ref} AS ${alias}` : `JOIN ${ref} AS ${alias} ON ${alias}.${key} = ${q('s0')}.${key}`);
    for (const c of s.columns) {
      select.push(`${alias}.${q(c)}`);
      columns.push(c);
    }
  });
  if (view.sources.length > MAX_TABLES_PER_STATEMENT) throw new InputError(`a view export would reference ${view.sources.length} tables`);
  if (columns.length > MAX_RESULT_COLUMNS) throw new InputError(`a view export would have ${columns.length} columns; BigQuery allows ${MAX_RESULT_COLUMNS}`);
  if (new Set(columns).size !== columns.length) throw new InputError('a view export would repeat a column name');
  const query = [`SELECT ${select.join(', ')}`, ...from, `WHERE ${q('s0')}.${key} >= @start AND ${q('s0')}.${key} < @end`, `ORDER BY ${q('s0')}.${key}`].join('\n');
  const sql = `EXPORT DATA OPTIONS(uri=${gcsLiteral(view.uri)}, format='PARQUET', compression='ZSTD', overwrite=true) AS\n${query}`;
  return { sql, query, params: windowParams(view.shard), tables: view.sources.map((s) => `${view.scratchDataset}.${s.table}`), columns };
}
