// Whether a parquet file's keys are strictly ascending, row after row: read from its key column's
// chunks at write time, so a file table known to be in key order with unique keys can be
// extracted without a sort or a distinct count (fileTables.ts, duckdbWarehouse.ts `extract`).
// Asked of DuckDB instead, the check cost 2-5 ms a 20,000-row file (a window over the file's row
// numbers), and of hyparquet 14 ms; the key chunk decoded here is 8 bytes a row, uncompressed.

import { closeSync, openSync } from 'node:fs';
import { KEY_COLUMN } from '../../naming.js';
import { readInt64Chunk, readableInt64 } from './parquetDoubles.js';
import { readLayout } from './parquetLayout.js';

/** A file's keys: strictly ascending, with its first and last (raw INT64 values; none when empty). */
export interface KeyOrder {
  rows: number;
  first?: bigint;
  last?: bigint;
}

/**
 * The key order of `file`, or null when its keys are not strictly ascending (a key repeats or
 * goes back), one is null, or the key column is not one read here (not INT64, a dictionary):
 * null only ever costs a sort.
 */
export function keyOrder(file: string): KeyOrder | null {
  const layout = readLayout(file);
  if (layout.rows === 0) return { rows: 0 };
  if (!readableInt64(layout, KEY_COLUMN)) return null;
  const fd = openSync(file, 'r');
  try {
    let first: bigint | undefined;
    let last: bigint | undefined;
    for (let g = 0; g < layout.rowGroups.length; g++) {
      const { values, valid } = readInt64Chunk(fd, layout, g, KEY_COLUMN);
      if (valid) return null;
      if (values.length === 0) continue;
      if (last !== undefined && !(values[0]! > last)) return null;
      for (let i = 1; i < values.length; i++) if (!(values[i]! > values[i - 1]!)) return null;
      first ??= values[0];
      last = values[values.length - 1];
    }
    return { rows: layout.rows, first, last };
  } catch {
    return null; // a page the decoder does not read
  } finally {
    closeSync(fd);
  }
}
