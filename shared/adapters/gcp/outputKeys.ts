// Checks the keys of exported column groups from the files themselves: BigQuery wrote them, so
// their order is verified, not assumed. Only the key column is read (ranged reads of its column
// chunks, one row group at a time), into a Float64Array of epoch microseconds: 16 MB for the
// 2.2 million minutes of six years, whatever the width of the group.

import type { AsyncBuffer } from 'hyparquet';
import { readFooter } from '../../checkpoint.js';
import { readKeyColumn } from '../../parquetKeys.js';
import type { ObjectStore } from '../../ports.js';

export interface GroupKeys {
  keys: Float64Array;
  /** Every key greater than the one before, file after file. */
  ascending: boolean;
  distinctKeys: number;
}

function storeBuffer(store: ObjectStore, name: string, size: number): AsyncBuffer {
  return {
    byteLength: size,
    slice: async (start: number, end?: number) => {
      const bytes = await store.readRange(name, start, end ?? size);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** The key column of one file in the store. */
async function fileKeys(store: ObjectStore, name: string): Promise<Float64Array> {
  const { metadata, bytes } = await readFooter(store, name);
  return readKeyColumn(storeBuffer(store, name, bytes), metadata);
}

/** Reads a group's keys in file order and says whether they are strictly ascending. */
export async function readGroupKeys(store: ObjectStore, files: readonly string[]): Promise<GroupKeys> {
  const parts: Float64Array[] = [];
  for (const name of files) parts.push(await fileKeys(store, name));
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

/** Every key (epoch microseconds) inside the window [start, end). */
export function allWithin(keys: Float64Array, window: { start: string; end: string }): boolean {
  const lo = Date.parse(window.start) * 1000;
  const hi = Date.parse(window.end) * 1000;
  for (const k of keys) if (k < lo || k >= hi) return false;
  return true;
}
