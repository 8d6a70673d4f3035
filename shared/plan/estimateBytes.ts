// Bytes each statement would make BigQuery read, from table sizes, as BigQuery bills them: the
// logical size of the columns a statement references in the tables it reads (8 bytes per FLOAT64,
// INT64 or TIMESTAMP value, times rows), a 10 MB minimum for INFORMATION_SCHEMA queries, nothing
// for LOAD DATA (it reads files, and loading is not billed by bytes scanned). Scratch tables are
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
   * Bytes a statement reading `reads` would scan: the columns of each table its text names; of a
   * table partitioned by the key, its rows in the statement's [@start, @end) where it has them.
   */
  bytesRead(sql: string, reads: readonly string[], params: Record<string, unknown> = {}): number {
    const range = paramRange(params);
    if (isLoad(sql)) return 0;
    const named = new Set<string>();
    for (const m of sql.matchAll(/`([^`]+)`/g)) named.add(m[1]!);
    let bytes = 0;
    for (const table of reads) {
      if (table.includes('.INFORMATION_SCHEMA.')) {
        bytes += INFORMATION_SCHEMA_MIN_BYTES;
        continue;
      }
      const size = this.sizes.get(table);
      if (!size) continue;
      let perRow = 0;
      for (const [column, type] of size.columns) if (named.has(column)) perRow += valueBytes(type);
      bytes += perRow * ((range && size.rowsIn?.(range)) ?? size.rows);
    }
    return bytes;
  }
}
