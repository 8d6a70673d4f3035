// The shard files of one extract from a file table known to be in key order (fileTables.ts),
// written from the table's own pages instead of by DuckDB. In such a table a shard's rows are a
// contiguous run of rows of its files (keyOrder.ts `keySpans`), so a shard's file is those rows'
// values copied as they are: each column chunk is decoded once (parquetDoubles.ts) and its rows
// are cut into every shard file it reaches.
//
// Written by hand because per-statement cost bounds the extract, not the bytes: a DuckDB COPY of
// 1,440 rows x 33 columns took 7-10 ms here (a refresh makes 1,000 of them, a day-shard full build
// 10,000), and hyparquet-writer took 12 ms for the same file (it boxes and converts every value).
// What is written is what the rest of bqx reads from a checkpoint: the key and DOUBLE columns with
// the source's schema elements, one uncompressed PLAIN v1 page per column chunk (Node 20 has no
// zstd compressor: DuckDB's zstd on byte-stream-split doubles made the demo's checkpoints about a
// fifth smaller, the disk this path costs), a row group per ROW_GROUP_ROWS rows as DuckDB's
// COPY writes them, the key's min/max and every column's null count in the statistics (the landing
// check reads those, checkpoint.ts `summariseFooters`). Anything else (another column type, a page
// the decoder does not read) is left to DuckDB by the caller.

import { closeSync, fstatSync, openSync, writevSync } from 'node:fs';
import type { ColumnChunk, FileMetaData, RowGroup, SchemaElement } from 'hyparquet';
import { KEY_COLUMN } from '../../naming.js';
import { ROW_GROUP_ROWS } from './duckdbSql.js';
import { CompactWriter, encodeFooter, plainPageHeader } from './parquetFooter.js';
import { readDoubleChunk, readableDoubles, readableInt64, readInt64Chunk, readUpTo, type ByteSource, type DecodeScratch, type RowRange } from './parquetDoubles.js';
import { spanRows, type RowSpan } from './keyOrder.js';
import { MAGIC, type FileLayout } from './parquetLayout.js';

/** One file to write: its rows, spans in order. */
export interface ShardFile {
  target: string;
  spans: RowSpan[];
}

export interface KeyedSource {
  file: string;
  layout: FileLayout;
  /** The file's schema elements (hyparquet's), for the new files' schema. */
  schema: readonly SchemaElement[];
}

const rowsOf = (f: ShardFile) => spanRows(f.spans);

/**
 * Whether `columns` (and the key) of every source can be written here: INT64 key, DOUBLE columns,
 * pages the decoder reads, and one schema element per column the same in every source; every file
 * at most one row group. The schema elements to write, or null (then DuckDB copies).
 */
export function keyedSchema(sources: readonly KeyedSource[], columns: readonly string[], files: readonly ShardFile[]): SchemaElement[] | null {
  if (sources.length === 0 || files.some((f) => rowsOf(f) > ROW_GROUP_ROWS)) return null;
  const names = [KEY_COLUMN, ...columns];
  let elements: SchemaElement[] | undefined;
  for (const s of sources) {
    if (!readableInt64(s.layout, KEY_COLUMN) || !readableDoubles(s.layout, columns)) return null;
    const byName = new Map(s.schema.slice(1).map((e) => [e.name, e]));
    const mine = names.map((n) => byName.get(n));
    if (mine.some((e) => e === undefined || e.num_children !== undefined || (e.repetition_type !== 'OPTIONAL' && e.repetition_type !== 'REQUIRED'))) return null;
    if (!elements) elements = mine as SchemaElement[];
    else if (mine.some((e, i) => !sameElement(e!, elements![i]!))) return null;
  }
  return elements!;
}

function sameElement(a: SchemaElement, b: SchemaElement): boolean {
  return a.type === b.type && a.repetition_type === b.repetition_type && a.converted_type === b.converted_type && JSON.stringify(a.logical_type) === JSON.stringify(b.logical_type);
}

/** An unsigned LEB128 varint into `out` at `at`; returns the end. */
function varint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}

/** Whether row `r` has a value in a validity bitmap (bit r of word r >>> 5). */
const hasValue = (words: Uint32Array, r: number) => ((words[r >>> 5]! >>> (r & 31)) & 1) === 1;

/** Whether rows [from, to) all have a value. */
function allSet(words: Uint32Array, from: number, to: number): boolean {
  for (let r = from; r < to; ) {
    if ((r & 31) === 0 && to - r >= 32) {
      if (words[r >>> 5] !== 0xffffffff) return false;
      r += 32;
    } else {
      if (!hasValue(words, r)) return false;
      r++;
    }
  }
  return true;
}

/**
 * One column's rows of one file, gathered from its spans: the PLAIN values of the rows that have
 * one, and the definition levels bit-packed (bit k of byte j: row 8j + k has a value), which is
 * how a page stores them.
 */
interface Gathered {
  values: Uint8Array;
  /** Bytes of `values` used. */
  valueBytes: number;
  levels: Uint8Array;
  rows: number;
  nulls: number;
}

/** Sets bits [from, from + count) of `levels` (clear to start). */
function setBits(levels: Uint8Array, from: number, count: number): void {
  let r = from;
  const end = from + count;
  for (; r < end && (r & 7) !== 0; r++) levels[r >>> 3]! |= 1 << (r & 7);
  const whole = (end - r) >>> 3;
  if (whole > 0) {
    levels.fill(0xff, r >>> 3, (r >>> 3) + whole);
    r += whole * 8;
  }
  for (; r < end; r++) levels[r >>> 3]! |= 1 << (r & 7);
}

/** Appends rows [from, to), all with values, of a decoded chunk (`bytes`: 8 a row), copied whole (bytes, not numbers: every bit pattern kept). */
function appendValues(g: Gathered, bytes: Uint8Array, from: number, to: number): void {
  g.values.set(bytes.subarray(from * 8, to * 8), g.valueBytes);
  g.valueBytes += (to - from) * 8;
  setBits(g.levels, g.rows, to - from);
  g.rows += to - from;
}

/** Appends rows [from, to) of a decoded chunk (`valid`: its bitmap, null when all rows have values). */
function gather(g: Gathered, bytes: Uint8Array, valid: Uint32Array | null, from: number, to: number): void {
  if (valid === null || allSet(valid, from, to)) return appendValues(g, bytes, from, to);
  // Runs of rows with values, each appended whole; a null only counts.
  for (let r = from; r < to; ) {
    if (!hasValue(valid, r)) {
      g.nulls++;
      g.rows++;
      r++;
      continue;
    }
    let e = r + 1;
    while (e < to && hasValue(valid, e)) e++;
    appendValues(g, bytes, r, e);
    r = e;
  }
}

/**
 * The decoder's buffers, kept by this thread from extract to extract (a table's chunk, at most
 * ROW_GROUP_ROWS values): made anew for each, they were new zeroed pages every time, about 0.5 s
 * of each keyed writer thread in a 20,000-row refresh of 667 tables.
 */
const writerScratch: DecodeScratch = {};

/**
 * A source of at most this size whose rows the extract copies (at least half of them, and at most
 * WHOLE_FILE_ROWS) is read whole in one read: a refresh copies every column of a table's new day
 * file, and read its column chunks one by one, two reads a column (a page's header, then its
 * values), 17,000 columns in all. Where the columns are longer, each read is worth its cost and a
 * copy of the whole file first is not: a full build's extracts took 2 % more CPU that way.
 */
const WHOLE_FILE_BYTES = 8 * 1024 * 1024;
const WHOLE_FILE_ROWS = 8192;

/** This thread's buffers for the files an extract reads whole, kept from extract to extract (new ones were new pages each time). */
const wholeBuffers: Buffer[] = [];

/** One extract's files to write: what `writeKeyedShards` takes (plain data, so a thread can be sent it). */
export interface KeyedWrite {
  sources: readonly KeyedSource[];
  columns: readonly string[];
  /** What `keyedSchema` returned. */
  schema: readonly SchemaElement[];
  files: readonly ShardFile[];
}

/**
 * Bytes a file's pages wait in memory before they are written together: one write for a file of
 * a day's rows instead of one a column (a 20,000-row refresh of 667 tables made 55,000 writes of
 * one page each, a day-shard full build about 270,000). The buffers are this thread's, one per file
 * an extract has open at once, kept from extract to extract.
 */
const PENDING_BYTES = 256 * 1024;
const pendingBuffers: Buffer[] = [];

/** A file being written: its descriptor, where the next bytes go, its column chunks so far, and the bytes not yet written. */
class OutFile {
  /** Where the next byte goes: past the leading magic, which the writer puts first. */
  offset = MAGIC.length;
  readonly chunks: ColumnChunk[] = [];
  private readonly pending: Buffer;
  private used = 0;
  /** `slot`: the file's place among the extract's files (its pending buffer). */
  constructor(
    readonly rows: number,
    readonly fd: number,
    slot: number,
  ) {
    this.pending = pendingBuffers[slot] ??= Buffer.allocUnsafeSlow(PENDING_BYTES);
    this.pending.set(MAGIC, 0);
    this.used = MAGIC.length;
  }

  /** Appends `pieces` (`length` bytes in all) after the bytes before them: copied, so their buffers may be used again at once. */
  append(pieces: readonly Uint8Array[], length: number): void {
    if (this.used + length > PENDING_BYTES) this.flush();
    if (length > PENDING_BYTES) return void writevSync(this.fd, pieces as Uint8Array[]);
    for (const p of pieces) {
      this.pending.set(p, this.used);
      this.used += p.length;
    }
  }

  /** Writes the bytes waiting, then `last` (the footer), in one call. */
  flush(last: Uint8Array[] = []): void {
    const parts = this.used > 0 ? [this.pending.subarray(0, this.used), ...last] : last;
    this.used = 0;
    if (parts.length > 0) writevSync(this.fd, parts);
  }
}

/** One (source, row group) to decode, once, and the spans of the files that take rows of it. */
class GroupRead {
  readonly outs: number[] = [];
  readonly spans: RowSpan[] = [];
  constructor(
    readonly source: number,
    readonly group: number,
    public from: number,
    public to: number,
  ) {}
}

/**
 * Writes `files` (each a shard's rows of the sources, in key order) with the key and `columns`.
 * Each source column chunk is read once for every file it reaches; one column's chunk of each
 * file is held at a time. The chunks are decoded here, so the zstd decoder must be ready
 * (parquetDoubles.ts `zstdReady`) when a source is compressed with it.
 * Kept in small functions over objects of one shape (classes, indexed loops): written as one
 * function, the optimising compiler gave up on it three times a thread ("wrong map") and compiled
 * it again each time, about 130 ms of compiler time a go, a tenth of a refresh's extract CPU.
 */
export function writeKeyedShards({ sources, columns, schema, files }: KeyedWrite): { rows: number }[] {
  const names = [KEY_COLUMN, ...columns];
  const outs: OutFile[] = [];
  const fds = new Map<number, ByteSource>();
  try {
    for (let i = 0; i < files.length; i++) {
      outs.push(new OutFile(rowsOf(files[i]!), openSync(files[i]!.target, 'w'), i));
    }
    const reads = groupReads(files);
    const whole = readWhole(sources, reads);
    // One column's rows of each file at a time, in buffers used again for the next column.
    const gathered: Gathered[] = [];
    for (const o of outs) gathered.push({ values: new Uint8Array(o.rows * 8), valueBytes: 0, levels: new Uint8Array(Math.ceil(o.rows / 8)), rows: 0, nulls: 0 });
    const page = new PageWriter();
    for (let c = 0; c < names.length; c++) {
      for (let i = 0; i < gathered.length; i++) clearGathered(gathered[i]!);
      for (let r = 0; r < reads.length; r++) gatherRead(reads[r]!, sources, fds, whole, names[c]!, c === 0, gathered);
      for (let i = 0; i < outs.length; i++) if (outs[i]!.rows > 0) page.write(outs[i]!, gathered[i]!, schema[c]!, names[c]!, c === 0);
    }
    for (const out of outs) writeFooter(out, names, schema);
  } finally {
    for (const out of outs) closeSync(out.fd);
    for (const fd of fds.values()) if (typeof fd === 'number') closeSync(fd);
  }
  return outs.map((o) => ({ rows: o.rows }));
}

/**
 * Each (source, row group) the files' spans read, once, in order of first use, with the spans
 * that read it. Only the rows the spans cover are decoded: a refresh copies the last minutes of a
 * big group.
 */
function groupReads(files: readonly ShardFile[]): GroupRead[] {
  const byKey = new Map<string, GroupRead>();
  for (let o = 0; o < files.length; o++) {
    for (const span of files[o]!.spans) {
      const key = `${span.source}:${span.group}`;
      let read = byKey.get(key);
      if (read === undefined) byKey.set(key, (read = new GroupRead(span.source, span.group, span.from, span.to)));
      read.from = Math.min(read.from, span.from);
      read.to = Math.max(read.to, span.to);
      read.outs.push(o);
      read.spans.push(span);
    }
  }
  return [...byKey.values()];
}

function clearGathered(g: Gathered): void {
  g.rows = 0;
  g.nulls = 0;
  g.valueBytes = 0;
  g.levels.fill(0);
}

/** The sources to read whole (their slots in `wholeBuffers`, by source): those at least half of whose rows the reads copy, and at most WHOLE_FILE_ROWS. */
function readWhole(sources: readonly KeyedSource[], reads: readonly GroupRead[]): Map<number, number> {
  const copied = new Map<number, number>();
  for (const r of reads) copied.set(r.source, (copied.get(r.source) ?? 0) + r.to - r.from);
  const slots = new Map<number, number>();
  for (const [source, rows] of copied) if (rows * 2 >= sources[source]!.layout.rows && rows <= WHOLE_FILE_ROWS) slots.set(source, slots.size);
  return slots;
}

/** A source's bytes: its whole file in its slot's buffer where it has one and the file is small enough, else its open descriptor. */
function openSource(file: string, slot: number | undefined): ByteSource {
  const fd = openSync(file, 'r');
  if (slot === undefined) return fd;
  const size = fstatSync(fd).size;
  if (size > WHOLE_FILE_BYTES) return fd;
  try {
    let buffer = wholeBuffers[slot];
    if (!buffer || buffer.length < size) buffer = wholeBuffers[slot] = Buffer.allocUnsafeSlow(Math.max(size, 1 << 20));
    return buffer.subarray(0, readUpTo(fd, buffer, 0, size, 0));
  } finally {
    closeSync(fd);
  }
}

/** Decodes column `name` of one (source, row group) and appends each span's rows to its file's buffers. */
function gatherRead(read: GroupRead, sources: readonly KeyedSource[], fds: Map<number, ByteSource>, whole: ReadonlyMap<number, number>, name: string, isKey: boolean, gathered: Gathered[]): void {
  const s = sources[read.source]!;
  let fd = fds.get(read.source);
  if (fd === undefined) fds.set(read.source, (fd = openSource(s.file, whole.get(read.source))));
  const rows: RowRange = { from: read.from, to: read.to };
  const chunk = isKey ? readInt64Chunk(fd, s.layout, read.group, name, writerScratch, rows) : readDoubleChunk(fd, s.layout, read.group, name, writerScratch, rows);
  // The same eight bytes a value either way (an INT64 key is copied, not converted).
  const bytes = new Uint8Array(chunk.values.buffer, chunk.values.byteOffset, chunk.values.byteLength);
  for (let k = 0; k < read.spans.length; k++) gather(gathered[read.outs[k]!]!, bytes, chunk.valid, read.spans[k]!.from, read.spans[k]!.to);
}

/** Writes one column's page of a file and keeps its column chunk for the footer. */
class PageWriter {
  private readonly header = new CompactWriter();
  // A page's level bytes before the bit-packed levels: their length (4 bytes), then the run header.
  private readonly prefix = new Uint8Array(16);

  write(out: OutFile, g: Gathered, element: SchemaElement, name: string, isKey: boolean): void {
    const optional = element.repetition_type === 'OPTIONAL';
    if (!optional && g.nulls > 0) throw new Error(`column ${name}: nulls in a REQUIRED column`);
    if (isKey && g.nulls > 0) throw new Error(`${KEY_COLUMN}: a null key in a table known to be in key order`);
    // The body: definition levels (OPTIONAL columns: one RLE run of 1s when every row has a
    // value, else the bit-packed levels), then the values. Written as pieces, not joined.
    const prefix = this.prefix;
    const pieces: Uint8Array[] = [];
    if (optional && g.nulls === 0) {
      const end = varint(prefix, 4, g.rows * 2);
      prefix[end] = 1;
      new DataView(prefix.buffer).setUint32(0, end + 1 - 4, true);
      pieces.push(prefix.slice(0, end + 1));
    } else if (optional) {
      const groups = Math.ceil(g.rows / 8);
      const end = varint(prefix, 4, groups * 2 + 1);
      new DataView(prefix.buffer).setUint32(0, end - 4 + groups, true);
      pieces.push(prefix.slice(0, end), g.levels.subarray(0, groups));
    }
    pieces.push(g.values.subarray(0, g.valueBytes));
    let size = 0;
    for (const p of pieces) size += p.length;
    const head = plainPageHeader(this.header, g.rows, size);
    const length = head.length + size;
    pieces.unshift(head);
    out.append(pieces, length);
    const keys = isKey ? new BigInt64Array(g.values.buffer, 0, g.rows) : undefined;
    out.chunks.push({
      file_offset: BigInt(out.offset),
      meta_data: {
        type: element.type!,
        encodings: ['PLAIN', 'RLE'],
        path_in_schema: [name],
        codec: 'UNCOMPRESSED',
        num_values: BigInt(g.rows),
        total_uncompressed_size: BigInt(length),
        total_compressed_size: BigInt(length),
        data_page_offset: BigInt(out.offset),
        statistics: keys ? { null_count: 0n, min_value: keys[0]!, max_value: keys[g.rows - 1]!, is_min_value_exact: true, is_max_value_exact: true } : { null_count: BigInt(g.nulls) },
      },
    } as ColumnChunk);
    out.offset += length;
  }
}

/** The file's footer (one row group of its chunks, none when it has no rows) and the closing magic. */
function writeFooter(out: OutFile, names: readonly string[], schema: readonly SchemaElement[]): void {
  const groups: RowGroup[] = out.rows === 0 ? [] : [{ columns: out.chunks, total_byte_size: BigInt(out.offset - MAGIC.length), num_rows: BigInt(out.rows), file_offset: BigInt(MAGIC.length), total_compressed_size: BigInt(out.offset - MAGIC.length) }];
  const metadata = {
    version: 1,
    schema: [{ name: 'duckdb_schema', repetition_type: 'REQUIRED', num_children: names.length }, ...schema.map((e, i) => ({ ...e, name: names[i]! }))],
    num_rows: BigInt(out.rows),
    row_groups: groups,
    created_by: 'bqx keyed shard writer',
    metadata_length: 0,
  } as FileMetaData;
  out.flush([encodeFooter(metadata), MAGIC]);
}
