// The part of a parquet footer the profile's decoder (parquetDoubles.ts) and the merge's stitch
// (parquetStitch.ts) need: the leaf columns and, per row group, each column chunk's type, codec,
// encodings and byte range, and where its metadata lies in the footer's bytes (the stitch copies
// those bytes, relocated, instead of parsing and encoding them again). Read by hand from the thrift
// bytes, skipping everything else (statistics above all): hyparquet's full parse took about 110 ms
// per 7,300-column footer, and a refresh's profile reads 38 such footers in each of three threads;
// a day-shard merge parsed 10,000 checkpoint footers with it, and their objects (about a dozen per
// column chunk) were half of that merge's garbage collection.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CompressionCodecs, Encodings, FieldRepetitionTypes, PageTypes, ParquetTypes } from 'hyparquet/src/constants.js';
import { KEY_COLUMN } from '../../naming.js';
import { readSchema, type SchemaNode } from '../../parquetSchema.js';
import { LruMap } from '../../lruMap.js';
import { CompactReader } from '../../thriftCompact.js';

/** Physical types, codecs, encodings, repetitions and page types as parquet.thrift numbers them (hyparquet's tables are in that order). */
export const PHYSICAL_DOUBLE = ParquetTypes.indexOf('DOUBLE');
export const PHYSICAL_INT64 = ParquetTypes.indexOf('INT64');
export const CODEC = { UNCOMPRESSED: CompressionCodecs.indexOf('UNCOMPRESSED'), SNAPPY: CompressionCodecs.indexOf('SNAPPY'), ZSTD: CompressionCodecs.indexOf('ZSTD') };
/** The encodings the decoder reads (parquetDoubles.ts). */
export const ENCODING = Object.fromEntries((['PLAIN', 'PLAIN_DICTIONARY', 'RLE', 'BIT_PACKED', 'RLE_DICTIONARY', 'BYTE_STREAM_SPLIT'] as const).map((e) => [e, Encodings.indexOf(e)])) as Record<'PLAIN' | 'PLAIN_DICTIONARY' | 'RLE' | 'BIT_PACKED' | 'RLE_DICTIONARY' | 'BYTE_STREAM_SPLIT', number>;
export const REPETITION = { REQUIRED: FieldRepetitionTypes.indexOf('REQUIRED'), OPTIONAL: FieldRepetitionTypes.indexOf('OPTIONAL'), REPEATED: FieldRepetitionTypes.indexOf('REPEATED') };
export const PAGE = { DATA_PAGE: PageTypes.indexOf('DATA_PAGE'), DICTIONARY_PAGE: PageTypes.indexOf('DICTIONARY_PAGE'), DATA_PAGE_V2: PageTypes.indexOf('DATA_PAGE_V2') };

/**
 * A row group's column chunks, column i at index i: typed arrays rather than an object per chunk
 * (a day shard's file has 7,300 chunks; objects and their strings were most of the parse and of
 * the garbage collection after it).
 */
export interface RowGroupLayout {
  rows: number;
  type: Int32Array;
  codec: Int32Array;
  /** Bit e set when encoding e is used in the chunk. */
  encodings: Uint32Array;
  /** Elements of the chunk's path in the schema (1 for a flat column). */
  depth: Int32Array;
  dataPageOffset: Float64Array;
  /** NaN where the chunk has no dictionary page. */
  dictionaryPageOffset: Float64Array;
  compressedSize: Float64Array;
  uncompressedSize: Float64Array;
  /** Where the chunk's ColumnMetaData struct starts in the footer's bytes (its first field header). */
  metaStart: Float64Array;
  /**
   * The key column's smallest and largest raw value in the group, from the chunk's statistics
   * (min_value, max_value), where the file is flat with an INT64 key and the writer recorded them:
   * an extract of a window skips the groups that lie outside it without reading their keys.
   */
  keyMin?: bigint;
  keyMax?: bigint;
}

export interface FileLayout {
  rows: number;
  /** The schema's elements after the root, in order. */
  schema: SchemaNode[];
  rowGroups: RowGroupLayout[];
}

/** A layout with the footer's thrift bytes its positions point into (the stitch copies chunks' metadata from them). */
export interface FooterLayout extends FileLayout {
  bytes: Uint8Array;
}

/** What a layout's column chunks take in memory: their typed arrays, and the footer's bytes where it holds them (its schema is shared: `sharedSchema`). */
export function layoutBytes(layout: FileLayout | FooterLayout): number {
  let bytes = 'bytes' in layout ? layout.bytes.byteLength : 0;
  for (const g of layout.rowGroups) for (const field of Object.values(g)) if (ArrayBuffer.isView(field)) bytes += field.byteLength;
  return bytes;
}

/** Where column chunk `i` of a row group starts in its file: its dictionary page, else its first data page. */
export function chunkStart(g: RowGroupLayout, i: number): number {
  const dictionary = g.dictionaryPageOffset[i]!;
  return Number.isNaN(dictionary) ? g.dataPageOffset[i]! : dictionary;
}

/** An 8-byte statistic as a signed little-endian INT64; undefined for any other length. */
function int64(bytes: Uint8Array): bigint | undefined {
  return bytes.length === 8 ? new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0, true) : undefined;
}

/** The key chunk's Statistics struct (min_value 6, max_value 5; the deprecated min and max are not read) into `g`. */
function readKeyStatistics(r: CompactReader, g: RowGroupLayout): void {
  r.struct((k) => {
    if (k === 5) g.keyMax = int64(r.binary());
    else if (k === 6) g.keyMin = int64(r.binary());
    else return false;
    return true;
  });
}

/** Column chunk `i` of a row group (ColumnChunk, then its ColumnMetaData) into `g`; `keyIndex` is the key's leaf, whose statistics are read. */
function readChunk(r: CompactReader, g: RowGroupLayout, i: number, keyIndex: number): void {
  r.struct((id) => {
    // A chunk kept in another file (file_path) is nothing bqx writes or could copy.
    if (id === 1) throw new Error('parquet footer: a column chunk in another file');
    if (id !== 3) return false;
    g.metaStart[i] = r.at;
    r.struct((j) => {
      if (j === 1) g.type[i] = r.int();
      else if (j === 2) r.list(() => (g.encodings[i]! |= 2 ** r.int()));
      else if (j === 3) g.depth[i] = r.list((t) => r.skip(t));
      else if (j === 4) g.codec[i] = r.int();
      else if (j === 6) g.uncompressedSize[i] = r.int();
      else if (j === 7) g.compressedSize[i] = r.int();
      else if (j === 9) g.dataPageOffset[i] = r.int();
      else if (j === 11) g.dictionaryPageOffset[i] = r.int();
      else if (j === 12 && i === keyIndex) readKeyStatistics(r, g);
      else return false;
      return true;
    });
    return true;
  });
}

function rowGroup(columns: number): RowGroupLayout {
  return {
    rows: 0,
    type: new Int32Array(columns).fill(-1),
    codec: new Int32Array(columns).fill(-1),
    encodings: new Uint32Array(columns),
    depth: new Int32Array(columns),
    dataPageOffset: new Float64Array(columns).fill(-1),
    dictionaryPageOffset: new Float64Array(columns).fill(NaN),
    compressedSize: new Float64Array(columns),
    uncompressedSize: new Float64Array(columns),
    metaStart: new Float64Array(columns).fill(-1),
  };
}

/**
 * Schemas read lately, by their position and bytes in the footer: the files of a dataset's column
 * group (one per shard) and a checkpoint's files (one per shard) have one schema, and a reader that
 * keeps many layouts (the profile's footer caches) kept a copy per file: about 0.3 KB a column, 5 MB
 * a shard of 17,038 columns in each of the profile's three threads, so a year of day shards would
 * have taken gigabytes. Shared, so never changed by a reader. A few hundred are kept: the groups
 * of a dataset, or the features a merge reads one after another.
 */
const SCHEMAS = new LruMap<string, SchemaNode[]>(256);

/** The schema list at the reader's position (FileMetaData field 2), without its root: one read before if its bytes are the same. */
function sharedSchema(r: CompactReader, bytes: Uint8Array): SchemaNode[] {
  const from = r.at;
  r.skip(LIST);
  const key = `${from}:${Buffer.from(bytes.buffer, bytes.byteOffset + from, r.at - from).toString('latin1')}`;
  const known = SCHEMAS.get(key);
  if (known) return known;
  const end = r.at;
  r.at = from;
  const schema = readSchema(r).slice(1);
  if (r.at !== end) throw new Error('parquet footer: the schema list was read to another end than skipped');
  return SCHEMAS.set(key, schema);
}

/** The thrift compact type of a list. */
const LIST = 9;

/** The layout of a footer's thrift bytes (FileMetaData). */
export function decodeLayout(bytes: Uint8Array): FooterLayout {
  const r = new CompactReader(bytes, 0);
  const layout: FooterLayout = { bytes, rows: 0, schema: [], rowGroups: [] };
  r.struct((id) => {
    if (id === 2) layout.schema = sharedSchema(r, bytes);
    else if (id === 3) layout.rows = r.int();
    else if (id === 4) {
      // Leaf i is schema element i only in a flat schema: the key's statistics are read there only.
      const flat = layout.schema.every((n) => n.children === 0);
      const keyIndex = flat ? layout.schema.findIndex((n) => n.name === KEY_COLUMN && n.type === PHYSICAL_INT64) : -1;
      r.list(() => {
        // The schema comes first in the footer: a row group has one chunk per leaf.
        const group = rowGroup(layout.schema.length);
        let chunks = 0;
        r.struct((j) => {
          if (j === 1)
            r.list(() => {
              if (chunks >= group.type.length) throw new Error('parquet footer: more column chunks than schema elements');
              readChunk(r, group, chunks++, keyIndex);
            });
          else if (j === 3) group.rows = r.int();
          else return false;
          return true;
        });
        layout.rowGroups.push(group);
      });
    } else return false;
    return true;
  });
  return layout;
}

/** The four bytes that open and close every parquet file. */
export const MAGIC = Buffer.from('PAR1');

/** A local parquet file's footer: its thrift bytes followed by their length and the magic, and the file's size. */
export function readFooterBytes(file: string): { footer: Buffer; bytes: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(8);
    readSync(fd, tail, 0, 8, size - 8);
    if (!tail.subarray(4).equals(MAGIC)) throw new Error(`${file} is not a parquet file`);
    const length = tail.readUInt32LE(0);
    const footer = Buffer.alloc(length + 8);
    readSync(fd, footer, 0, length + 8, size - length - 8);
    return { footer, bytes: size };
  } finally {
    closeSync(fd);
  }
}

/** The layout of a local parquet file's footer. */
export function readLayout(file: string): FooterLayout {
  const { footer } = readFooterBytes(file);
  return decodeLayout(footer.subarray(0, footer.length - 8));
}
