// What the demo takes on disk, estimated before it is built: 8 bytes a cell (its feature tables are
// uncompressed FLOAT64 parquet: 10,000 rows of eurusd's 667 tables, 1.36 GB by this count, take
// 1.3 GB), and what a first run of one pair then writes (its checkpoints and its dataset, each
// about as large as the pair's tables: shared/chain/diskRoom.ts).

import { FEATURE_MARGIN_MINUTES } from './generate.js';
import { demoTables, FEATURE_COLUMNS_PER_PAIR, LABEL_COLUMNS } from './names.js';
import { CELL_BYTES } from '../chain/diskRoom.js';

/** Bytes of the demo's tables for these pairs at `rows` rows (feature tables carry a margin of minutes either side). */
export function demoTableBytes(pairs: readonly string[], rows: number): number {
  const cells = demoTables(pairs).reduce((n, t) => n + (t.columns.length + t.metadata.length + 1), 0) * (rows + 2 * FEATURE_MARGIN_MINUTES);
  return (cells + pairs.length * (LABEL_COLUMNS.length + 1) * rows) * CELL_BYTES;
}

/** Bytes a first run of one pair writes at `rows` rows: its checkpoints and its dataset. */
export function demoRunBytes(rows: number): number {
  return 2 * rows * (1 + LABEL_COLUMNS.length + FEATURE_COLUMNS_PER_PAIR) * CELL_BYTES;
}
