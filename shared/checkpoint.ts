// Checking a landed checkpoint from its parquet footers alone (ranged reads: the footer is a few
// KB at the end of the file, so a checkpoint of any size is checked for the same small cost).

import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { footerForChecks, type FooterMetadata } from './footerChecks.js';
import type { ManifestFeature } from './manifest.js';
import { KEY_COLUMN } from './naming.js';
import type { FileKeys, ObjectStore, Window } from './ports.js';
import { readSchema, type SchemaNode } from './parquetSchema.js';
import { CompactReader } from './thriftCompact.js';

/** What a checkpoint's marker says; written last by the extract, read first by the landing. */
export interface CheckpointMarker {
  runId: string;
  feature: string;
  window: Window;
  files: string[];
  rows: number;
  sourceRows: number;
  duplicates: number;
  writtenAt: string;
  /** The manifest's fingerprint of the feature: the checkpoint is indexed under it for reuse. */
  fingerprint?: string;
  /** Rows this extract read from the warehouse (a refresh's: the new range's only). */
  readRows?: number;
  /** Bytes this extract's jobs billed (BigQuery). */
  bytesBilled?: number;
}

export interface FooterSummary {
  rows: number;
  bytes: number;
  /** Column name -> physical/logical type description. */
  columns: Map<string, string>;
  nullCounts: Map<string, number>;
  minKey: string | null;
  maxKey: string | null;
  /** Whether row groups are in key order and do not overlap. */
  keyOrdered: boolean;
  /** Each file's key range, in the order summarised (undefined: not known for every file). */
  fileKeys?: FileKeys[];
}

export class CheckpointError extends Error {
  constructor(readonly feature: string, reason: string) {
    super(`checkpoint of ${feature} is invalid: ${reason}`);
    this.name = 'CheckpointError';
  }
}

const DEFAULT_FOOTER_PREFETCH = 1 << 19;

/** Reads one parquet file's footer through ranged reads of the object store, parsed whole by hyparquet. */
export async function readFooter(store: ObjectStore, name: string): Promise<{ metadata: FileMetaData; bytes: number }> {
  const { footer, size } = await footerBytes(store, name);
  // Loaded on first use: the CLI's quick commands import this module but never read a footer.
  const { parquetMetadata } = await loadHyparquet();
  // hyparquet takes the footer followed by its length and the magic, as the file ends.
  const trailed = footer.buffer.slice(footer.byteOffset, footer.byteOffset + footer.length + 8) as ArrayBuffer;
  return { metadata: parquetMetadata(trailed), bytes: size };
}

/** A parquet file's rows and column names (the schema's elements after its root), and its size. */
export interface FooterShape {
  rows: number;
  columns: string[];
  bytes: number;
}

/**
 * The rows and column names of a parquet file in the store, from its footer, for checks of written
 * files: only the schema's names and the row count are read from the thrift bytes (thriftCompact.ts),
 * the row groups skipped. hyparquet's whole parse of a day shard's 8,500-column footer made
 * 255,000 objects per file, and a day-shard merge checks 30 of them.
 */
export async function readFooterShape(store: ObjectStore, name: string): Promise<FooterShape> {
  const { footer, size } = await footerBytes(store, name);
  const reader = new CompactReader(footer, 0);
  let rows: number | undefined;
  let schema: SchemaNode[] = [];
  try {
    reader.struct((id) => {
      if (id === 2) schema = readSchema(reader);
      else if (id === 3) rows = reader.int();
      else return false;
      return true;
    });
  } catch (error) {
    throw new Error(`object ${name}: its footer cannot be read (${(error as Error).message})`);
  }
  if (rows === undefined || schema.length === 0) throw new Error(`object ${name}: its footer has no ${schema.length === 0 ? 'schema' : 'row count'}`);
  return { rows, columns: schema.slice(1).map((e) => e.name), bytes: size };
}

/**
 * A parquet object's footer: its thrift bytes (FileMetaData; its length and the magic follow it in
 * the same buffer), read with one ranged read where the prefetch holds them, and the object's size.
 */
async function footerBytes(store: ObjectStore, name: string): Promise<{ footer: Uint8Array; size: number }> {
  const size = await store.size(name);
  if (size === undefined) throw new Error(`object ${name} does not exist`);
  if (size < 12) throw new Error(`object ${name} is ${size} bytes: too small to be parquet`);
  let tail = await store.readRange(name, size - Math.min(size, store.footerPrefetchBytes ?? DEFAULT_FOOTER_PREFETCH), size);
  if (Buffer.from(tail.subarray(tail.length - 4)).toString('latin1') !== 'PAR1') throw new Error(`object ${name} is not parquet (no PAR1 at its end)`);
  const length = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength).readUInt32LE(tail.length - 8);
  if (length + 12 > size) throw new Error(`object ${name}: its footer length ${length} exceeds the file`);
  if (length + 8 > tail.length) tail = await store.readRange(name, size - length - 8, size);
  return { footer: tail.subarray(tail.length - 8 - length, tail.length - 8), size };
}

/**
 * One parquet object's footer as the checkpoint checks read it (footerChecks.ts): what
 * summariseFooters needs, without hyparquet's whole parse.
 */
export async function readFooterForChecks(store: ObjectStore, name: string): Promise<{ metadata: FooterMetadata; bytes: number }> {
  const { footer, size } = await footerBytes(store, name);
  return { metadata: footerForChecks(footer), bytes: size };
}

/**
 * hyparquet's view of an object of `size` bytes (the exported groups' key columns: outputShards.ts `readGroupKeys`):
 * ranged reads, each handed over as it came when the read owns its whole buffer (copying each read
 * again was 1.7 s of a refresh when its landings read footers this way).
 */
export function storeBuffer(store: ObjectStore, name: string, size: number): AsyncBuffer {
  return {
    byteLength: size,
    slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
      const bytes = await store.readRange(name, start, end ?? size);
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      return whole ? (bytes.buffer as ArrayBuffer) : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    },
  };
}

/**
 * The one import of hyparquet, kept: a dynamic import resolves the module again on every call, and
 * under tsx (npm start, the tests) that is a round trip to the loader thread, once per footer.
 */
let hyparquet: Promise<typeof import('hyparquet')> | undefined;
const loadHyparquet = () => (hyparquet ??= import('hyparquet'));

function columnType(element: FooterMetadata['schema'][number]): string {
  const logical = element.logical_type;
  if (logical?.type === 'TIMESTAMP') return `TIMESTAMP(${logical.unit},${logical.isAdjustedToUTC ? 'UTC' : 'local'})`;
  return String(element.type ?? 'GROUP');
}

function iso(value: unknown): string | null {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return new Date(Number(value / 1000n)).toISOString();
  return null;
}

/** Summarises the footers of a checkpoint's files (schema, rows, null counts, key range). */
export function summariseFooters(footers: { metadata: FooterMetadata; bytes: number }[]): FooterSummary {
  const summary: FooterSummary = { rows: 0, bytes: 0, columns: new Map(), nullCounts: new Map(), minKey: null, maxKey: null, keyOrdered: true, fileKeys: [] };
  for (const [i, { metadata, bytes }] of footers.entries()) {
    const file: FileKeys = { minKey: null, maxKey: null };
    summary.fileKeys!.push(file);
    summary.bytes += bytes;
    summary.rows += Number(metadata.num_rows);
    const leaves = metadata.schema.slice(1);
    const columns = new Map(leaves.map((e) => [e.name, columnType(e)]));
    if (i === 0) summary.columns = columns;
    else if ([...columns].join() !== [...summary.columns].join()) throw new Error('files of one checkpoint have different schemas');
    for (const group of metadata.row_groups) {
      for (const chunk of group.columns) {
        const name = chunk.meta_data?.path_in_schema.join('.');
        if (!name) continue;
        const stats = chunk.meta_data?.statistics;
        summary.nullCounts.set(name, (summary.nullCounts.get(name) ?? 0) + Number(stats?.null_count ?? 0));
        // A key that is not a timestamp has no key range: checkCheckpoint refuses it by its type.
        if (name === KEY_COLUMN && Number(group.num_rows) > 0 && columns.get(KEY_COLUMN)?.startsWith('TIMESTAMP(')) {
          const lo = iso(stats?.min_value ?? stats?.min);
          const hi = iso(stats?.max_value ?? stats?.max);
          if (lo === null || hi === null) throw new Error(`${KEY_COLUMN} has no min/max statistics`);
          if (summary.maxKey !== null && lo <= summary.maxKey) summary.keyOrdered = false;
          if (summary.minKey === null || lo < summary.minKey) summary.minKey = lo;
          if (summary.maxKey === null || hi > summary.maxKey) summary.maxKey = hi;
          if (file.minKey === null || lo < file.minKey) file.minKey = lo;
          if (file.maxKey === null || hi > file.maxKey) file.maxKey = hi;
        }
      }
    }
  }
  return summary;
}

/** Key ranges that describe `files`, one a file; otherwise (none, or another count) undefined. */
export function keysOfEveryFile<K extends readonly FileKeys[]>(files: readonly string[], fileKeys: K | undefined): K | undefined {
  return fileKeys?.length === files.length ? fileKeys : undefined;
}

/**
 * The key range of file `i` of a checkpoint: its record's, where the record has one for every file
 * (the landing read them from the footers), else its footer's. Throws where that footer cannot be
 * read or summarised.
 */
export async function checkpointFileKeys(store: ObjectStore, record: { files: readonly string[]; fileKeys?: readonly FileKeys[] }, i: number): Promise<FileKeys> {
  const recorded = keysOfEveryFile(record.files, record.fileKeys)?.[i];
  if (recorded) return recorded;
  const summary = summariseFooters([await readFooterForChecks(store, record.files[i]!)]);
  return { minKey: summary.minKey, maxKey: summary.maxKey };
}

/** What a landed checkpoint's record keeps of its summary (null counts by output column). */
export interface RecordedSummary {
  rows: number;
  bytes: number;
  nullCounts: Record<string, number>;
  minKey: string | null;
  maxKey: string | null;
  /** Every file's key range, when the record has them. */
  fileKeys?: readonly FileKeys[];
}

/**
 * The summary of a refresh's checkpoint from an earlier checkpoint's record instead of its files'
 * footers: the earlier files the new one keeps (a prefix of the record's), then `added` (this
 * extract's files). `dropped` summarises the record's files left out after that prefix (carried
 * into the first added file). Every figure is the sum or bound summariseFooters would give over
 * all the files: the record was itself summarised and checked from those footers when it landed,
 * in key order, and its files are never rewritten. Undefined where the record cannot vouch for a
 * figure (a column it has no count for, nothing added after a drop): the caller reads every footer.
 * `output` maps a source column to the record's output name.
 */
export function extendSummary(earlier: RecordedSummary, dropped: FooterSummary | undefined, added: FooterSummary, output: (source: string) => string | undefined): FooterSummary | undefined {
  if (dropped && (added.minKey === null || [...dropped.columns].join() !== [...added.columns].join())) return undefined;
  const nullCounts = new Map<string, number>();
  for (const [column, nulls] of added.nullCounts) {
    if (column === KEY_COLUMN) {
      nullCounts.set(column, nulls); // the record counts features' columns only; its keys were checked non-null
      continue;
    }
    const before = earlier.nullCounts[output(column) ?? ''];
    if (before === undefined) return undefined;
    nullCounts.set(column, before - (dropped?.nullCounts.get(column) ?? 0) + nulls);
  }
  // The kept files end before the dropped ones begin, and the carried rows are the first added file's.
  const keptEnd = dropped ? dropped.minKey : earlier.maxKey;
  const ordered = added.keyOrdered && (added.minKey === null || keptEnd === null || (dropped ? added.minKey >= keptEnd : added.minKey > keptEnd));
  const minKey = earlier.minKey ?? added.minKey;
  // The kept files' key ranges are the record's first ones (the dropped files are its last).
  const droppedFiles = dropped ? dropped.fileKeys?.length : 0;
  const keptKeys = earlier.fileKeys && droppedFiles !== undefined ? earlier.fileKeys.slice(0, earlier.fileKeys.length - droppedFiles) : undefined;
  return {
    rows: earlier.rows - (dropped?.rows ?? 0) + added.rows,
    bytes: earlier.bytes - (dropped?.bytes ?? 0) + added.bytes,
    columns: added.columns,
    nullCounts,
    minKey: minKey !== null && added.minKey !== null && added.minKey < minKey ? added.minKey : minKey,
    maxKey: added.maxKey ?? (dropped ? null : earlier.maxKey),
    keyOrdered: ordered,
    ...(keptKeys && added.fileKeys ? { fileKeys: [...keptKeys, ...added.fileKeys] } : {}),
  };
}

/**
 * Checks a checkpoint against its manifest entry, the run's window and its marker. Throws a
 * CheckpointError naming what is wrong; returns the footer summary when all is well.
 */
export function checkCheckpoint(feature: ManifestFeature, window: Window, marker: CheckpointMarker, summary: FooterSummary): FooterSummary {
  const fail = (reason: string) => {
    throw new CheckpointError(feature.feature, reason);
  };
  const keyType = summary.columns.get(KEY_COLUMN);
  if (keyType === undefined) fail(`no ${KEY_COLUMN} column`);
  if (!keyType!.startsWith('TIMESTAMP(') || !keyType!.endsWith(',UTC)')) fail(`${KEY_COLUMN} is ${keyType}, expected a UTC timestamp`);
  if ((summary.nullCounts.get(KEY_COLUMN) ?? 0) > 0) fail(`${KEY_COLUMN} has null values`);
  const expected = feature.columns.map((c) => c.source);
  const present = [...summary.columns.keys()].filter((c) => c !== KEY_COLUMN);
  const missing = expected.filter((c) => !summary.columns.has(c));
  if (missing.length > 0) fail(`missing columns ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  const extra = present.filter((c) => !expected.includes(c));
  if (extra.length > 0) fail(`unexpected columns ${extra.slice(0, 5).join(', ')}`);
  if (summary.rows !== marker.rows) fail(`footers count ${summary.rows} rows, the marker says ${marker.rows}`);
  if (marker.window.start !== window.start || marker.window.end !== window.end) {
    fail(`extracted for window [${marker.window.start}, ${marker.window.end}), the run's is [${window.start}, ${window.end})`);
  }
  if (summary.minKey !== null && (summary.minKey < window.start || summary.maxKey! >= window.end)) {
    fail(`keys ${summary.minKey}..${summary.maxKey} fall outside the window [${window.start}, ${window.end})`);
  }
  if (!summary.keyOrdered) fail('row groups are not in key order');
  return summary;
}
