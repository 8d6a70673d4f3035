// The key column of a parquet file as epoch microseconds, decoded by hyparquet (no engine): 8
// bytes a row whatever the file's width. Used where keys are checked or matched from the files
// themselves: the BigQuery export's verification (outputShards.ts `readGroupKeys`) and the embedded
// merge's lining up of checkpoints by null pages and its check of what it stitched
// (adapters/local/duckdbWarehouse.ts).

import { parquetRead, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { KEY_COLUMN } from './naming.js';

const toMicros = (value: unknown, column: string): number => {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime() * 1000;
  throw new Error(`${column} holds ${value === null ? 'a null' : typeof value}, not a timestamp`);
};

/** The key column (`column`, bqx's key unless named) of one file, row group by row group. */
export async function readKeyColumn(file: AsyncBuffer, metadata: FileMetaData, column = KEY_COLUMN): Promise<Float64Array> {
  const out = new Float64Array(Number(metadata.num_rows));
  let at = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = at + Number(group.num_rows);
    await parquetRead({
      file,
      metadata,
      columns: [column],
      rowStart: at,
      rowEnd,
      compressors,
      parsers: { timestampFromMicroseconds: (v: bigint) => v, timestampFromMilliseconds: (v: bigint) => v * 1000n },
      onComplete: (rows: unknown[][]) => {
        rows.forEach((row, i) => (out[at + i] = toMicros(row[0], column)));
      },
    });
    at = rowEnd;
  }
  return out;
}

export interface GroupKeys {
  keys: Float64Array;
  /** Every key greater than the one before, file after file. */
  ascending: boolean;
  distinctKeys: number;
}

/** A group's keys from its files' key columns, in file order, and whether they are strictly ascending. */
export function groupKeys(parts: readonly Float64Array[]): GroupKeys {
  const keys = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    keys.set(p, offset);
    offset += p.length;
  }
  let ascending = true;
  for (let i = 1; i < keys.length && ascending; i++) if (!(keys[i]! > keys[i - 1]!)) ascending = false;
  return { keys, ascending, distinctKeys: ascending ? keys.length : countDistinct(keys) };
}

function countDistinct(keys: Float64Array): number {
  const sorted = Float64Array.from(keys).sort();
  let n = sorted.length > 0 ? 1 : 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1]) n++;
  return n;
}

/** Same keys, same order. */
export function sameSequence(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** How many keys (epoch microseconds) lie inside the window [start, end). */
export function countWithin(keys: Float64Array, window: { start: string; end: string }): number {
  const lo = Date.parse(window.start) * 1000;
  const hi = Date.parse(window.end) * 1000;
  let n = 0;
  for (const k of keys) if (k >= lo && k < hi) n++;
  return n;
}

/** Every key (epoch microseconds) inside the window [start, end). */
export function allWithin(keys: Float64Array, window: { start: string; end: string }): boolean {
  return countWithin(keys, window) === keys.length;
}

/** The first index in ascending `keys` whose key is at least `key` (keys.length when none is). */
export function firstAtLeast<T extends number | bigint>(keys: ArrayLike<T>, key: T): number {
  let [lo, hi] = [0, keys.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
