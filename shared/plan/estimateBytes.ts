// Bytes each statement would make BigQuery read, from table sizes, as BigQuery counts them: the
// logical size of the columns a statement references in the tables it reads (8 bytes per FLOAT64,
// INT64 or TIMESTAMP value, times rows), a 10 MB minimum for INFORMATION_SCHEMA queries, nothing
// for LOAD DATA (it reads files, and loading is not billed by bytes scanned). What on-demand
// pricing bills is more for small statements: "charges are rounded up to the nearest MB, with a
// minimum 10 MB data processed per table referenced by the query, and with a minimum 10 MB data
// processed per query" (BigQuery's pricing page; the 10 MB is 10,485,760 bytes, the least
// `maximumBytesBilled` it takes): `billedBytes`. Scratch tables are
// sized as the statements that create them run. An estimate: partition pruning is counted only for
// the merge's scratch tables partitioned by the key, read by a statement over a key range (each
// shard's export): the rows `rowsIn` gives for that range.

import { KEY_COLUMN } from '../naming.js';
import type { CatalogTable } from '../ports.js';
import { isLoad } from './statementInfo.js';

export interface TableSize {
  rows: number;
  /** Column name -> BigQuery type. */
  columns: Map<string, string>;
  /** Partitioned by the key: its rows in a key range, where known (a statement filtering on @start/@end reads those). */
  rowsIn?: (range: { start: string; end: string }) => number | undefined;
}

/** Logical bytes of one value, as BigQuery's pricing counts them (STRING: 2 + an assumed 6 characters). */
export function valueBytes(type: string): number {
  switch (type) {
    case 'BOOL':
      return 1;
    case 'NUMERIC':
      return 16;
    case 'BIGNUMERIC':
      return 32;
    case 'STRING':
    case 'BYTES':
      return 8;
    default:
      return 8; // INT64, FLOAT64, TIMESTAMP, DATE, DATETIME, TIME
  }
}

/** A statement's @start and @end (TIMESTAMP parameters), as ISO texts, where it has both. */
export function paramRange(params: Record<string, unknown>): { start: string; end: string } | undefined {
  const { start, end } = params;
  return start instanceof Date && end instanceof Date ? { start: start.toISOString(), end: end.toISOString() } : undefined;
}

/** BigQuery bills a query of INFORMATION_SCHEMA at least 10 MB. */
export const INFORMATION_SCHEMA_MIN_BYTES = 10 * 2 ** 20;

export class TableSizes {
  private readonly sizes = new Map<string, TableSize>();

  addCatalog(dataset: string, tables: readonly CatalogTable[], rowsOf: (table: string) => number): void {
    for (const t of tables) this.sizes.set(`${dataset}.${t.table}`, { rows: rowsOf(t.table), columns: new Map(t.columns.map((c) => [c.name, c.type])) });
  }

  /** Registers a table a statement creates: its columns (key TIMESTAMP, the rest FLOAT64) and rows, and for one partitioned by the key its rows in a range. */
  addCreated(table: string, columns: readonly string[], rows: number, rowsIn?: TableSize['rowsIn']): void {
    this.sizes.set(table, { rows, columns: new Map(columns.map((c) => [c, c === KEY_COLUMN ? 'TIMESTAMP' : 'FLOAT64'])), ...(rowsIn ? { rowsIn } : {}) });
  }

  get(table: string): TableSize | undefined {
    return this.sizes.get(table);
  }

  /**
   * Bytes a statement reading `reads` would scan, table by table in the order of `reads` (none for
   * a LOAD DATA; 0 for a table of unknown size): the columns of each table its text names; of a
   * table partitioned by the key, its rows in the statement's [@start, @end) where it has them.
   */
  tableBytes(sql: string, reads: readonly string[], params: Record<string, unknown> = {}): number[] {
    const range = paramRange(params);
    if (isLoad(sql)) return [];
    const named = new Set<string>();
    for (const m of sql.matchAll(/`([^`]+)`/g)) named.add(m[1]!);
    return reads.map((table) => {
      if (table.includes('.INFORMATION_SCHEMA.')) return INFORMATION_SCHEMA_MIN_BYTES;
      const size = this.sizes.get(table);
      if (!size) return 0;
      let perRow = 0;
      for (const [column, type] of size.columns) if (named.has(column)) perRow += valueBytes(type);
      return perRow * ((range && size.rowsIn?.(range)) ?? size.rows);
    });
  }
}

/** On-demand pricing's least bytes billed for each table a query references, and for the query. */
export const BILLED_MIN_BYTES = 10 * 2 ** 20;

const roundUpToMiB = (bytes: number) => Math.ceil(bytes / 2 ** 20) * 2 ** 20;

/**
 * What on-demand pricing bills a query that reads `perTable` bytes of each table it references:
 * each table at least 10 MB, the query at least 10 MB, rounded up to a MB. A statement that
 * references no table (a LOAD DATA) bills nothing by bytes.
 */
export function billedBytes(perTable: readonly number[]): number {
  if (perTable.length === 0) return 0;
  const sum = perTable.reduce((n, b) => n + Math.max(BILLED_MIN_BYTES, b), 0);
  return roundUpToMiB(Math.max(BILLED_MIN_BYTES, sum));
}

/**
 * The same from a query's total bytes alone (a dry run gives no figure per table): at least 10 MB
 * for each of the `tables` it references, a lower bound where some table reads less than 10 MB
 * and another more.
 */
export function billedFromTotal(bytes: number, tables: number): number {
  if (tables === 0) return 0;
  return roundUpToMiB(Math.max(BILLED_MIN_BYTES * tables, bytes));
}
