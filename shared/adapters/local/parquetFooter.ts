// The footer of a stitched parquet file, encoded in thrift's compact protocol. hyparquet-writer's
// `writeMetadata` gives the same bytes (test/unit/parquetFooter.test.ts), but it builds an object
// per field named `field_N`, parses each name back with a regular expression and infers every
// value's type: for the merge's footers of 8,500 column chunks each (two per day shard) that was
// 3.9 s of a 16 s day-shard merge at 20,000 rows, and much of its garbage. This walks the
// metadata once and writes each field straight into one buffer. Types follow hyparquet-writer's
// rule (a JS number is an i32, a bigint an i64) so the bytes match whatever it would write. DOUBLE
// columns' statistics (nearly every column) are written here too; logical types and the other
// columns' statistics go through hyparquet-writer's own conversion.
//
// The merge's stitch writes its footers from the sources' footer bytes instead (encodeCopiedFooter):
// each column chunk's metadata is copied field by field, only its offsets and name changed, so
// neither the sources' footers nor the new one is ever held as objects.

import { parquetMetadata, type ColumnChunk, type FileMetaData, type KeyValue, type RowGroup, type SchemaElement, type Statistics } from 'hyparquet';
import { CompressionCodecs, ConvertedTypes, Encodings, FieldRepetitionTypes, PageTypes, ParquetTypes } from 'hyparquet/src/constants.js';
import { ByteWriter } from 'hyparquet-writer';
import { logicalType } from 'hyparquet-writer/src/metadata.js';
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js';
import { unconvertStatistics } from 'hyparquet-writer/src/unconvert.js';
import { CompactReader } from '../../thriftCompact.js';
import { chunkStart, MAGIC, type FooterLayout } from './parquetLayout.js';

// Compact protocol types.
const [STOP, TRUE, FALSE, I32, I64, BINARY, LIST, STRUCT] = [0, 1, 2, 5, 6, 8, 9, 12];

const utf8 = new TextEncoder();

export class CompactWriter {
  private bytes = Buffer.allocUnsafe(1 << 16);
  length = 0;
  /** The last field id written, per open struct. */
  private last: number[] = [0];

  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  private room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  byte(value: number): void {
    this.room(1);
    this.bytes[this.length++] = value;
  }

  /** An unsigned varint of up to 2^53 (numbers: bit operators would cut it at 32 bits). */
  varint(value: number): void {
    this.room(10);
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }

  /** An i64 field from a number (offsets and sizes, exact up to 2^53). */
  i64(id: number, value: number): void {
    this.field(id, I64);
    this.zigzag(value);
  }

  /** Bytes [start, end) of `from` as they are: a field's value copied from another footer. */
  copy(from: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    this.bytes.set(from.subarray(start, end), this.length);
    this.length += end - start;
  }

  zigzag(value: number | bigint): void {
    if (typeof value === 'bigint') {
      if (value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) / 2n) return this.varint(Number(value) * 2);
      let z = (value << 1n) ^ (value >> 63n);
      this.room(10);
      while (z >= 0x80n) {
        this.bytes[this.length++] = Number(z & 0x7fn) | 0x80;
        z >>= 7n;
      }
      this.bytes[this.length++] = Number(z);
      return;
    }
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  field(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1]!;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }

  /** An integer field: i32 for a number, i64 for a bigint (hyparquet-writer's rule). */
  int(id: number, value: number | bigint | undefined): void {
    if (value === undefined) return;
    this.field(id, typeof value === 'bigint' ? I64 : I32);
    this.zigzag(value);
  }

  bool(id: number, value: boolean | undefined): void {
    if (value !== undefined) this.field(id, value ? TRUE : FALSE);
  }

  binary(id: number, value: string | Uint8Array | undefined): void {
    if (value === undefined) return;
    this.field(id, BINARY);
    this.raw(typeof value === 'string' ? utf8.encode(value) : value);
  }

  /** A double's 8 little-endian bytes as a binary field (a DOUBLE column's min or max). */
  doubleBytes(id: number, value: number | undefined): void {
    if (value === undefined) return;
    this.field(id, BINARY);
    this.byte(8);
    this.room(8);
    this.bytes.writeDoubleLE(value, this.length);
    this.length += 8;
  }

  raw(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A list field's header; its `size` elements, of compact type `type`, follow. */
  list(id: number, size: number, type: number): void {
    this.field(id, LIST);
    if (size === 0) type = 0; // as hyparquet-writer writes an empty list
    if (size > 14) {
      this.byte((15 << 4) | type);
      this.varint(size);
    } else this.byte((size << 4) | type);
  }

  begin(id?: number): void {
    if (id !== undefined) this.field(id, STRUCT);
    this.last.push(0);
  }

  end(): void {
    this.byte(STOP);
    this.last.pop();
  }

  /** A small struct built as hyparquet-writer builds it (`field_N` keys), written by its own code. */
  generic(id: number, value: object | undefined): void {
    if (value === undefined) return;
    this.field(id, STRUCT);
    const w = new ByteWriter();
    serializeTCompactProtocol(w, value as never);
    const bytes = new Uint8Array(w.getBuffer());
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }
}

const index = (values: readonly string[], value: string | undefined) => (value === undefined ? undefined : values.indexOf(value));

function schemaElement(w: CompactWriter, e: SchemaElement): void {
  w.begin();
  w.int(1, e.type && ParquetTypes.indexOf(e.type));
  w.int(2, e.type_length);
  w.int(3, e.repetition_type && FieldRepetitionTypes.indexOf(e.repetition_type));
  w.binary(4, e.name);
  w.int(5, e.num_children);
  w.int(6, e.converted_type && ConvertedTypes.indexOf(e.converted_type));
  w.int(7, e.scale);
  w.int(8, e.precision);
  w.int(9, e.field_id);
  w.generic(10, logicalType(e.logical_type));
  w.end();
}

function keyValues(w: CompactWriter, id: number, list: readonly KeyValue[] | undefined): void {
  if (!list) return;
  w.list(id, list.length, STRUCT);
  for (const kv of list) {
    w.begin();
    w.binary(1, kv.key);
    w.binary(2, kv.value);
    w.end();
  }
}

function columnChunk(w: CompactWriter, c: ColumnChunk, element: (name: string) => SchemaElement): void {
  w.begin();
  w.binary(1, c.file_path);
  w.int(2, c.file_offset);
  const m = c.meta_data;
  if (m) {
    w.begin(3);
    w.int(1, ParquetTypes.indexOf(m.type));
    w.list(2, m.encodings.length, I32);
    for (const e of m.encodings) w.zigzag(Encodings.indexOf(e));
    w.list(3, m.path_in_schema.length, BINARY);
    for (const p of m.path_in_schema) w.raw(utf8.encode(p));
    w.int(4, CompressionCodecs.indexOf(m.codec));
    w.int(5, m.num_values);
    w.int(6, m.total_uncompressed_size);
    w.int(7, m.total_compressed_size);
    keyValues(w, 8, m.key_value_metadata);
    w.int(9, m.data_page_offset);
    w.int(10, m.index_page_offset);
    w.int(11, m.dictionary_page_offset);
    if (m.statistics) statistics(w, m.statistics as Statistics, element(m.path_in_schema[m.path_in_schema.length - 1]!));
    if (m.encoding_stats) {
      w.list(13, m.encoding_stats.length, STRUCT);
      for (const s of m.encoding_stats) {
        w.begin();
        w.int(1, PageTypes.indexOf(s.page_type));
        w.int(2, Encodings.indexOf(s.encoding));
        w.int(3, s.count);
        w.end();
      }
    }
    w.int(14, m.bloom_filter_offset);
    w.int(15, m.bloom_filter_length);
    const sizes = m.size_statistics;
    if (sizes) w.generic(16, { field_1: sizes.unencoded_byte_array_data_bytes, field_2: sizes.repetition_level_histogram, field_3: sizes.definition_level_histogram });
    if (m.geospatial_statistics) throw new Error('geospatial statistics in a stitched column chunk');
    w.end();
  }
  w.int(4, c.offset_index_offset);
  w.int(5, c.offset_index_length);
  w.int(6, c.column_index_offset);
  w.int(7, c.column_index_length);
  if (c.encrypted_column_metadata !== undefined) throw new Error('encrypted column metadata in a stitched column chunk');
  w.end();
}

const isNumber = (v: unknown): v is number | undefined => v === undefined || typeof v === 'number';

/**
 * A column chunk's statistics. A DOUBLE column's (nearly every column of a dataset) are written
 * here, as hyparquet-writer writes them; the rest go through its own conversion.
 */
function statistics(w: CompactWriter, s: Statistics, e: SchemaElement): void {
  const exact = (s.max_value === undefined && s.min_value === undefined && s.max === undefined && s.min === undefined) || (s.is_max_value_exact !== undefined && s.is_min_value_exact !== undefined);
  if (e.type !== 'DOUBLE' || !exact || ![s.max, s.min, s.max_value, s.min_value].every(isNumber)) {
    w.generic(12, unconvertStatistics(s, e));
    return;
  }
  w.begin(12);
  w.doubleBytes(1, s.max as number | undefined);
  w.doubleBytes(2, s.min as number | undefined);
  w.int(3, s.null_count);
  w.int(4, s.distinct_count);
  w.doubleBytes(5, s.max_value as number | undefined);
  w.doubleBytes(6, s.min_value as number | undefined);
  w.bool(7, s.is_max_value_exact);
  w.bool(8, s.is_min_value_exact);
  w.int(9, (s as { nan_count?: number | bigint }).nan_count);
  w.end();
}

function rowGroup(w: CompactWriter, g: RowGroup, element: (name: string) => SchemaElement): void {
  w.begin();
  w.list(1, g.columns.length, STRUCT);
  for (const c of g.columns) columnChunk(w, c, element);
  w.int(2, g.total_byte_size);
  w.int(3, g.num_rows);
  if (g.sorting_columns) {
    w.list(4, g.sorting_columns.length, STRUCT);
    for (const s of g.sorting_columns) {
      w.begin();
      w.int(1, s.column_idx);
      w.bool(2, s.descending);
      w.bool(3, s.nulls_first);
      w.end();
    }
  }
  w.int(5, g.file_offset);
  w.int(6, g.total_compressed_size);
  w.end();
}

/**
 * The PageHeader of a v1 DATA_PAGE of `values` values (nulls included), PLAIN values, RLE levels,
 * uncompressed, whose body is `size` bytes: the bytes hyparquet-writer's `writePageHeader` writes
 * (test/unit/parquetFooter.test.ts), without its object per field (the keyed extract writes one a
 * column chunk, 250,000 in a day-shard full build).
 */
export function plainPageHeader(w: CompactWriter, values: number, size: number): Uint8Array {
  w.length = 0;
  w.begin();
  w.int(1, PageTypes.indexOf('DATA_PAGE'));
  w.int(2, size);
  w.int(3, size);
  w.begin(5);
  w.int(1, values);
  w.int(2, Encodings.indexOf('PLAIN'));
  w.int(3, Encodings.indexOf('RLE'));
  w.int(4, Encodings.indexOf('RLE'));
  w.end();
  w.end();
  return w.result();
}

/**
 * `metadata` as thrift compact bytes followed by their length (4 bytes, little endian): what goes
 * before the closing magic. Flat schemas only (the stitch's).
 */
export function encodeFooter(metadata: FileMetaData): Uint8Array {
  const elements = new Map(metadata.schema.slice(1).map((e) => [e.name, e]));
  const element = (name: string) => {
    const e = elements.get(name);
    if (!e) throw new Error(`no schema element ${name}`);
    return e;
  };
  const w = new CompactWriter();
  w.begin();
  w.int(1, metadata.version);
  w.list(2, metadata.schema.length, STRUCT);
  for (const e of metadata.schema) schemaElement(w, e);
  w.int(3, metadata.num_rows);
  w.list(4, metadata.row_groups.length, STRUCT);
  for (const g of metadata.row_groups) rowGroup(w, g, element);
  keyValues(w, 5, metadata.key_value_metadata);
  return close(w, metadata.created_by, metadata.schema.filter((e) => e.type).length);
}

/** The end of a FileMetaData from its created_by on (every leaf ordered by type), and the footer's length. */
function close(w: CompactWriter, createdBy: string | undefined, leaves: number): Uint8Array {
  w.binary(6, createdBy);
  w.list(7, leaves, STRUCT);
  for (let i = 0; i < leaves; i++) {
    w.begin();
    w.begin(1);
    w.end();
    w.end();
  }
  w.end();
  const body = w.length;
  w.byte(body & 0xff);
  w.byte((body >>> 8) & 0xff);
  w.byte((body >>> 16) & 0xff);
  w.byte((body >>> 24) & 0xff);
  return w.result();
}

/** A leaf column of a footer read as a layout (parquetLayout.ts), named `name` in the new file. */
export interface CopiedColumn {
  layout: FooterLayout;
  column: number;
  name: string;
}

/** Column chunk `column` of row group `group` of a layout, whose bytes are now at `at` in the new file. */
export interface CopiedChunk {
  layout: FooterLayout;
  group: number;
  column: number;
  at: number;
  /** Its column's name in the new file; its own when not given. */
  name?: string;
}

/**
 * A column chunk whose metadata is written from hyparquet's objects rather than copied: the chunks
 * of files joined page for page (parquetStitch.ts `joinedChunk`), whose sizes, counts and
 * statistics are new. `element` is its column's schema element (its statistics are typed by it).
 */
export interface EncodedChunk {
  chunk: ColumnChunk;
  element: SchemaElement;
}

export interface CopiedRowGroup {
  rows: number;
  totalByteSize: number;
  fileOffset: number;
  compressedSize: number;
  chunks: (CopiedChunk | EncodedChunk)[];
}

/** A field's value copied as it is, read from `r` (positioned after the field's header). */
function copyValue(w: CompactWriter, r: CompactReader, bytes: Uint8Array, id: number, type: number): void {
  const start = r.at;
  r.skip(type);
  w.field(id, type);
  w.copy(bytes, start, r.at);
}

/** A schema element copied from a layout's footer, renamed. */
function copiedElement(w: CompactWriter, c: CopiedColumn): void {
  const { bytes } = c.layout;
  const r = new CompactReader(bytes, c.layout.schema[c.column]!.start);
  w.begin();
  r.struct((id, type) => {
    if (id === 4) {
      r.skip(type);
      w.binary(4, c.name);
    } else copyValue(w, r, bytes, id, type);
    return true;
  });
  w.end();
}

/**
 * A column chunk copied from a layout's footer: file_offset and the page offsets moved to where its
 * bytes now are, its path renamed; the page index and bloom filter offsets left out (they would
 * point nowhere); every other field (statistics, encodings, sizes) copied byte for byte.
 */
function copiedChunk(w: CompactWriter, c: CopiedChunk): void {
  const { bytes } = c.layout;
  const g = c.layout.rowGroups[c.group]!;
  // A chunk without ColumnMetaData (only encrypted files have none) has nothing to copy.
  if (g.metaStart[c.column]! < 0) throw new Error(`column chunk ${c.column} of row group ${c.group} has no metadata to copy`);
  const shift = c.at - chunkStart(g, c.column);
  w.begin();
  w.i64(2, c.at);
  w.begin(3);
  const r = new CompactReader(bytes, g.metaStart[c.column]!);
  r.struct((id, type) => {
    if (id === 10 || id === 14 || id === 15) r.skip(type);
    else if (id === 9 || id === 11) w.i64(id, r.int() + shift);
    else if (id === 3 && c.name !== undefined) {
      r.skip(type);
      w.list(3, 1, BINARY);
      w.raw(utf8.encode(c.name));
    } else copyValue(w, r, bytes, id, type);
    return true;
  });
  w.end();
  w.end();
}

/**
 * The footer of a file of copied column chunks (parquetStitch.ts `stitchParquet`): `schema`'s
 * leaves under one root, and the row groups, every chunk's metadata copied from its source's
 * footer bytes. Thrift compact bytes followed by their length, as encodeFooter gives.
 */
export function encodeCopiedFooter(schema: readonly CopiedColumn[], rowGroups: readonly CopiedRowGroup[], createdBy: string): Uint8Array {
  const w = new CompactWriter();
  w.begin();
  w.int(1, 1);
  w.list(2, schema.length + 1, STRUCT);
  schemaElement(w, { name: 'schema', repetition_type: 'REQUIRED', num_children: schema.length });
  for (const c of schema) copiedElement(w, c);
  w.i64(3, rowGroups.reduce((n, g) => n + g.rows, 0));
  w.list(4, rowGroups.length, STRUCT);
  for (const g of rowGroups) {
    w.begin();
    w.list(1, g.chunks.length, STRUCT);
    for (const c of g.chunks) {
      if ('chunk' in c) columnChunk(w, c.chunk, () => c.element);
      else copiedChunk(w, c);
    }
    w.i64(2, g.totalByteSize);
    w.i64(3, g.rows);
    w.i64(5, g.fileOffset);
    w.i64(6, g.compressedSize);
    w.end();
  }
  return close(w, createdBy, schema.length);
}

/**
 * hyparquet's metadata of a layout's file for `columns` only: their schema elements and column
 * chunks, offsets unchanged, so hyparquet reads those columns from the file itself (the merge's
 * key checks read one column of 8,500-column files without parsing their whole footers).
 */
export function projectMetadata(layout: FooterLayout, columns: readonly string[]): FileMetaData {
  const indexes = columns.map((name) => {
    const i = layout.schema.findIndex((e) => e.name === name);
    if (i < 0) throw new Error(`no column ${name} in the footer`);
    return i;
  });
  const groups = layout.rowGroups.map((g, group) => ({
    rows: g.rows,
    totalByteSize: indexes.reduce((n, i) => n + g.uncompressedSize[i]!, 0),
    fileOffset: Math.min(...indexes.map((i) => chunkStart(g, i))),
    compressedSize: indexes.reduce((n, i) => n + g.compressedSize[i]!, 0),
    chunks: indexes.map((column) => ({ layout, group, column, at: chunkStart(g, column) })),
  }));
  const footer = encodeCopiedFooter(
    indexes.map((column) => ({ layout, column, name: layout.schema[column]!.name })),
    groups,
    'bqx projection',
  );
  const file = new Uint8Array(footer.length + 4);
  file.set(footer);
  file.set(MAGIC, footer.length);
  return parquetMetadata(file.buffer);
}

