// Whether a parquet file's keys are strictly ascending, row after row: read from its key column's
// chunks at write time, so a file table known to be in key order with unique keys can be
// extracted without a sort or a distinct count (fileTables.ts, duckdbWarehouse.ts `extract`).
// Asked of DuckDB instead, the check cost 2-5 ms a 20,000-row file (a window over the file's row
// numbers), and of hyparquet 14 ms; the key chunk decoded here is 8 bytes a row, uncompressed.
// The same chunks give where such a table's rows in a window and in each of its shards are
// (`keySpans`): the extract writes those rows from the files' pages (keyedExtract.ts), or counts
// them for DuckDB's copy, which would otherwise ask DuckDB before every copy (about 0.3 ms a
// 20,000-row file warm, against 9-12 ms for the count query beside the copies).

import { closeSync, openSync } from 'node:fs';
import { ConvertedTypes } from 'hyparquet/src/constants.js';
import { KEY_COLUMN } from '../../naming.js';
import { firstAtLeast } from '../../parquetKeys.js';
import type { Window } from '../../ports.js';
import { readInt64Chunk, readInt64Rows, readableInt64, type DecodeScratch } from './parquetDoubles.js';
import { readLayout, type FileLayout, type RowGroupLayout } from './parquetLayout.js';

/** A file's keys: strictly ascending, with its first and last (raw INT64 values; none when empty). */
export interface KeyOrder {
  rows: number;
  first?: bigint;
  last?: bigint;
}

/**
 * The key decoder's buffers, kept by this thread from file to file: allocated per chunk (the
 * default), a refresh's 667 extracts each paid for new zeroed pages for a 20,120-key chunk, about
 * 1.3 ms a table on a keyed writer's thread. `visit` sees them only until it returns.
 */
const keyScratch: DecodeScratch = {};

/**
 * Calls `visit` with each row group's keys of a file whose key column is one read here (INT64,
 * no dictionary); false when it is not, or a key is null. Throws where a page is not one the
 * decoder reads. With `from`, a group holding keys below it may give only its last keys: `visit`
 * then gets the keys of rows `first` on, the first of them below `from` (`groupKeysFrom`).
 */
function eachKeyChunk(
  file: string,
  layout: FileLayout,
  visit: (keys: BigInt64Array, group: number, first: number) => boolean | void,
  wanted: (group: number) => boolean = () => true,
  from?: bigint,
): boolean {
  if (!readableInt64(layout, KEY_COLUMN)) return false;
  const groups = layout.rowGroups.map((_, g) => g).filter(wanted);
  if (groups.length === 0) return true;
  const fd = openSync(file, 'r');
  try {
    for (const g of groups) {
      const keys = from === undefined ? undefined : groupKeysFrom(fd, layout, g, from);
      if (keys === null) return false;
      if (keys) {
        if (visit(keys.values, g, keys.first) === false) return false;
        continue;
      }
      const { values, valid } = readInt64Chunk(fd, layout, g, KEY_COLUMN, keyScratch);
      if (valid || visit(values, g, 0) === false) return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

/** Keys read from a group's end first: 16 KB of them, then twice as many each time. */
const TAIL_KEYS = 2048;

/**
 * The last keys of row group `g` from one below `from` on, where the group's statistics put `from`
 * after its first key: read from the end of the chunk back, doubling, until a key below `from` is
 * among them (null where one is null; undefined where the chunk's rows cannot be read alone, or
 * half of it would be read: then the whole chunk is). A refresh wants a table's new minutes, at
 * the end of its big earlier file: the whole key chunk, read from the file's start, made the kernel
 * read ahead a megabyte of each file (a cold refresh at 20,000 rows read 1.2 MB of every one of
 * 667 such files, for 60 rows of each); read from its end, it reads the pages it asks for.
 */
function groupKeysFrom(fd: number, layout: FileLayout, g: number, from: bigint): { values: BigInt64Array; first: number } | null | undefined {
  const group = layout.rowGroups[g]!;
  if (group.keyMin === undefined || !(from > group.keyMin)) return undefined;
  for (let count = TAIL_KEYS; count <= group.rows / 2; count *= 2) {
    const first = group.rows - count;
    const read = readInt64Rows(fd, layout, g, KEY_COLUMN, keyScratch, { from: first, to: group.rows });
    if (!read) return undefined;
    if (read.valid) return null;
    if (read.values[first]! < from) return { values: read.values.subarray(first, group.rows), first };
  }
  return undefined;
}

/**
 * The key order of `file`, or null when its keys are not strictly ascending (a key repeats or
 * goes back), one is null, or the key column is not one read here (not INT64, a dictionary):
 * null only ever costs a sort.
 */
export function keyOrder(file: string): KeyOrder | null {
  const layout = readLayout(file);
  if (layout.rows === 0) return { rows: 0 };
  let first: bigint | undefined;
  let last: bigint | undefined;
  try {
    const ascending = eachKeyChunk(file, layout, (values) => {
      if (values.length === 0) return;
      if (last !== undefined && !(values[0]! > last)) return false;
      for (let i = 1; i < values.length; i++) if (!(values[i]! > values[i - 1]!)) return false;
      first ??= values[0];
      last = values[values.length - 1];
    });
    return ascending ? { rows: layout.rows, first, last } : null;
  } catch {
    return null; // a page the decoder does not read
  }
}

/** Raw key values a millisecond is worth, by the key column's converted type. */
const PER_MS = new Map([[ConvertedTypes.indexOf('TIMESTAMP_MICROS'), 1000n], [ConvertedTypes.indexOf('TIMESTAMP_MILLIS'), 1n]]);

/** Raw key values a millisecond is worth in a file; undefined where its key is not a timestamp read here. */
const keyUnit = (layout: FileLayout) => PER_MS.get(layout.schema.find((n) => n.name === KEY_COLUMN)?.convertedType ?? -1);

/** A file's keys as stored: raw INT64 values, row after row, and the raw values a millisecond is worth. */
export interface RawKeys {
  perMs: bigint;
  values: BigInt64Array;
}

/**
 * A file's keys as stored, decoded here; null where the key column is not a timestamp read here
 * or holds a null. Two files' keys of one unit are compared as bytes (duckdbWarehouse.ts
 * `sameKeys`): converting each to a number first was most of a 177,748-row merge's alignment.
 */
export function rawKeys(file: string, layout: FileLayout): RawKeys | null {
  const perMs = keyUnit(layout);
  if (perMs === undefined) return null;
  const values = new BigInt64Array(layout.rows);
  let at = 0;
  try {
    const read = eachKeyChunk(file, layout, (chunk) => {
      values.set(chunk, at);
      at += chunk.length;
    });
    return read && at === layout.rows ? { perMs, values } : null;
  } catch {
    return null; // a page the decoder does not read
  }
}

/**
 * A file's keys in epoch microseconds, row after row, decoded here (what `readKeyColumn` in
 * parquetKeys.ts gives through hyparquet, which took most of a day-shard merge's key checks once
 * the keyed extract's plain key chunks no longer matched the labels' byte for byte); null where
 * the key column is not one read here (then hyparquet reads it) or holds a null.
 */
export function keyMicros(file: string, layout: FileLayout): Float64Array | null {
  if (layout.rows === 0 && keyUnit(layout) === undefined) return new Float64Array(0);
  const raw = rawKeys(file, layout);
  return raw && rawToMicros(raw);
}

/** Keys as stored (`rawKeys`), in epoch microseconds. */
export function rawToMicros(raw: RawKeys): Float64Array {
  const scale = Number(1000n / raw.perMs);
  const out = new Float64Array(raw.values.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(raw.values[i]!) * scale;
  return out;
}

/**
 * An ISO time as a key's raw value: only one with an explicit zone and at most milliseconds, which
 * `Date.parse` reads exactly as DuckDB casts it (anything else: null, and DuckDB counts).
 */
function rawKey(iso: string, perMs: bigint): bigint | null {
  if (!/(Z|[+-]\d\d:\d\d)$/.test(iso) || /\.\d{4,}/.test(iso)) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? BigInt(ms) * perMs : null;
}

/** Rows [from, to) of row group `group` of file `source` (an index into the files read). */
export interface RowSpan {
  source: number;
  group: number;
  from: number;
  to: number;
}

/** Where a key-ordered table's rows in `window` and in each shard are: runs of rows of its files, in key order. */
export interface KeySpans {
  /** The files read, with their layouts: a span's `source` indexes these. */
  files: { file: string; layout: FileLayout }[];
  window: RowSpan[];
  shards: RowSpan[][];
}

/**
 * The rows with keys in `window` and in each of `shards` (half-open ranges) of a table whose `files`
 * hold strictly ascending keys without nulls (what `keyOrder` found when they were written): in
 * such a table each range's rows are one run of rows, file after file. Null where a file or a bound
 * is not one read here; then DuckDB reads the table.
 */
export function keySpans(files: readonly string[], window: Window, shards: readonly Window[]): KeySpans | null {
  const ranges = [window, ...shards];
  const spans: RowSpan[][] = ranges.map(() => []);
  try {
    const layouts = files.map((file) => ({ file, layout: readLayout(file) }));
    const filled = layouts.filter((f) => f.layout.rows > 0);
    // One unit for every file, so the bounds are converted once.
    const units = new Set(filled.map((f) => keyUnit(f.layout)));
    const [perMs] = units;
    if (units.size > 1 || (units.size === 1 && perMs === undefined)) return null;
    const bounds = perMs === undefined ? [] : ranges.flatMap((r) => [rawKey(r.start, perMs), rawKey(r.end, perMs)]);
    if (bounds.some((b) => b === null)) return null;
    // A row group whose key statistics lie outside every range holds none of their rows: its keys
    // are not read (a refresh's extract of a day would otherwise read every key the table has).
    const lo = bounds.length > 0 ? bounds.reduce((a, b) => (b! < a! ? b : a))! : 0n;
    const hi = bounds.length > 0 ? bounds.reduce((a, b) => (b! > a! ? b : a))! : 0n;
    const inRanges = (g: RowGroupLayout) => g.keyMin === undefined || g.keyMax === undefined || (g.keyMax >= lo && g.keyMin < hi);
    for (const [source, { file, layout }] of layouts.entries()) {
      if (layout.rows === 0) continue;
      // Every bound is at least `lo`, so keys from one below it on place them all.
      const read = eachKeyChunk(
        file,
        layout,
        (values, group, first) => {
          for (let i = 0; i < ranges.length; i++) {
            const [from, to] = [first + firstAtLeast(values, bounds[2 * i]!), first + firstAtLeast(values, bounds[2 * i + 1]!)];
            if (to > from) spans[i]!.push({ source, group, from, to });
          }
        },
        (g) => inRanges(layout.rowGroups[g]!),
        bounds.length > 0 ? lo : undefined,
      );
      if (!read) return null;
    }
    return { files: layouts, window: spans[0]!, shards: spans.slice(1) };
  } catch {
    return null; // a file or a page not read here
  }
}

/** Rows in a run of spans. */
export const spanRows = (spans: readonly RowSpan[]) => spans.reduce((n, s) => n + s.to - s.from, 0);
