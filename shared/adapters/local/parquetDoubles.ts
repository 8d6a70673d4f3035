// Decodes DOUBLE column chunks of the parquet files bqx writes itself (DuckDB's COPY, then the
// merge's stitch and null pages) straight into the profile's column scan: values at their row
// positions and a validity bitmap (shared/profile/columnScan.ts `ColumnChunk`).
//
// Written by hand because neither reader here does this cheaply: DuckDB spends about 1 ms per
// column chunk of 10,000 rows in a 9,900-column file (most of the profile's wall, whatever the
// codec or encoding), and hyparquet assembles rows of boxed values (8.8 s for 2,000 such columns)
// and does not export its page decoder. Only what those writers produce is read: flat OPTIONAL or
// REQUIRED DOUBLE columns, data pages v1 or v2, PLAIN, BYTE_STREAM_SPLIT or dictionary-encoded
// values (DuckDB writes a constant column with a dictionary whatever its limit), RLE/bit-packed
// definition levels, UNCOMPRESSED, ZSTD (zstd's own decoder compiled to WebAssembly, zstddec:
// five times fzstd's speed here; Node 20's zlib has no zstd) or SNAPPY. The key column's INT64
// chunks are read the same way (`readInt64Chunk`), for the file tables' key order check
// (keyOrder.ts). Call `zstdReady` once
// before reading. `readableDoubles` says from the footer alone whether a file qualifies, so a
// caller decides before it reads (and reads anything else with DuckDB); a page that still does
// not fit throws rather than guess.

import { readSync } from 'node:fs';
import { ZSTDDecoder } from 'zstddec';
import { snappyUncompress } from 'hyparquet';
import type { ColumnChunk } from '../../profile/columnScan.js';
import { CompactReader } from '../../thriftCompact.js';
import { CODEC, ENCODING, PAGE, PHYSICAL_DOUBLE, PHYSICAL_INT64, REPETITION, type FileLayout } from './parquetLayout.js';

const CODECS = new Set<number>(Object.values(CODEC));
/** The encodings read here, as bits (RowGroupLayout's `encodings`). */
const ENCODING_BITS = Object.values(ENCODING).reduce<number>((bits, e) => bits | (2 ** e), 0);
const { DATA_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 } = PAGE;
const { PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY, BYTE_STREAM_SPLIT } = ENCODING;

/** Column name -> [index in a row group's columns, maximum definition level, physical type], per footer. */
const layouts = new WeakMap<FileLayout, Map<string, [number, number, number]>>();

function columnsOf(file: FileLayout): Map<string, [number, number, number]> {
  let at = layouts.get(file);
  if (at) return at;
  at = new Map();
  // Flat files only: every leaf a child of the root (no nested groups), so leaf i is column i.
  if (file.schema.every((s) => s.children === 0)) {
    file.schema.forEach((s, i) => {
      if ((s.type === PHYSICAL_DOUBLE || s.type === PHYSICAL_INT64) && s.repetition !== REPETITION.REPEATED) at!.set(s.name, [i, s.repetition === REPETITION.OPTIONAL ? 1 : 0, s.type]);
    });
  }
  layouts.set(file, at);
  return at;
}

/** Whether every chunk of `columns` in the file is one this module decodes (else read it with DuckDB). */
export function readableDoubles(file: FileLayout, columns: readonly string[]): boolean {
  return columns.every((name) => readable(file, name, PHYSICAL_DOUBLE));
}

function readable(file: FileLayout, name: string, physical: number): boolean {
  const found = columnsOf(file).get(name);
  if (!found || found[2] !== physical) return false;
  const i = found[0];
  // An INT64 chunk with a dictionary is not read (readInt64Chunk).
  const dictionaryFree = (g: FileLayout['rowGroups'][number]) => physical === PHYSICAL_DOUBLE || Number.isNaN(g.dictionaryPageOffset[i]!);
  return file.rowGroups.every((g) => g.depth[i] === 1 && g.type[i] === physical && CODECS.has(g.codec[i]!) && (g.encodings[i]! & ~ENCODING_BITS) === 0 && dictionaryFree(g));
}

interface PageHeader {
  type: number;
  uncompressed: number;
  compressed: number;
  values: number;
  encoding: number;
  /** v2 only: the levels' byte lengths (stored uncompressed before the values) and whether the values are compressed. */
  definitionBytes: number;
  repetitionBytes: number;
  valuesCompressed: boolean;
}

function readPageHeader(reader: CompactReader): PageHeader {
  const h: PageHeader = { type: -1, uncompressed: 0, compressed: 0, values: 0, encoding: -1, definitionBytes: 0, repetitionBytes: 0, valuesCompressed: true };
  reader.struct((id) => {
    if (id === 1) h.type = reader.int();
    else if (id === 2) h.uncompressed = reader.int();
    else if (id === 3) h.compressed = reader.int();
    else if (id === 5 || id === 7)
      // DataPageHeader or DictionaryPageHeader: num_values, encoding (a data page's levels are
      // RLE for flat columns; a dictionary is PLAIN)
      reader.struct((j) => {
        if (j === 1) h.values = reader.int();
        else if (j === 2) h.encoding = reader.int();
        else return false;
        return true;
      });
    else if (id === 8)
      // DataPageHeaderV2: num_values, num_nulls, num_rows, encoding, level lengths, is_compressed
      reader.struct((j, type) => {
        if (j === 1) h.values = reader.int();
        else if (j === 4) h.encoding = reader.int();
        else if (j === 5) h.definitionBytes = reader.int();
        else if (j === 6) h.repetitionBytes = reader.int();
        else if (j === 7) h.valuesCompressed = type === 1;
        else return false;
        return true;
      });
    else return false;
    return true;
  });
  return h;
}

let zstd: ZSTDDecoder | undefined;

/**
 * Loads the zstd decoder (a WebAssembly module): once per thread, before any chunk is read.
 * zstddec loads its module through the global `fetch` when there is one, and Node's `fetch` loads
 * undici, the HTTP client, into the thread: 73-79 ms a thread here against 6 ms without (`fetch`
 * hidden, zstddec instantiates the same bytes from a Buffer), paid by the chain, each keyed
 * writer and each profile thread of every run. zstddec decides synchronously in `init()`, so the
 * global is hidden only for that call; no other code runs meanwhile.
 */
export async function zstdReady(): Promise<void> {
  const decoder = new ZSTDDecoder();
  const fetch = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  let loading: Promise<void>;
  if (fetch?.configurable) {
    Object.defineProperty(globalThis, 'fetch', { value: undefined, configurable: true, writable: true });
    try {
      loading = decoder.init();
    } finally {
      Object.defineProperty(globalThis, 'fetch', fetch);
    }
  } else loading = decoder.init();
  await loading;
  zstd = decoder;
}

/**
 * Where a reader's bytes come from: an open file's descriptor (read as asked), or the whole file's
 * bytes already in memory, read once by a caller that wants most of its pages (keyedShardWriter.ts
 * `openSource`): then nothing is read here, and a chunk's bytes are views of those.
 */
export type ByteSource = number | Uint8Array;

/**
 * Buffers a reader reuses from chunk to chunk. Allocating them per chunk cost more than the
 * decoding: an 80 KB ArrayBuffer took about 14 µs here, and threads allocating them did not run in
 * parallel (the same work took as long on two threads as on one).
 */
export interface DecodeScratch {
  bytes?: Buffer;
  /** Bytes read ahead of a whole chunk's read (`readChunkBytes`): the file's, from `start`. */
  ahead?: { source: ByteSource; file: FileLayout; start: number; end: number; bytes: Buffer };
  pages?: Uint8Array;
  values?: Float64Array;
  dense?: Float64Array;
  words?: Uint32Array;
}

function grown<T extends { length: number }>(have: T | undefined, length: number, make: (n: number) => T): T {
  return have && have.length >= length ? have : make(Math.max(length, 1 << 13));
}

function decompress(codec: number, bytes: Uint8Array, size: number, scratch: DecodeScratch): Uint8Array {
  if (codec === CODEC.UNCOMPRESSED) return bytes;
  if (codec === CODEC.ZSTD) {
    if (!zstd) throw new Error('the zstd decoder is not loaded (zstdReady)');
    // zstddec does not report zstd's errors: a page that does not decode to its size is corrupt.
    const out = zstd.decode(bytes, size);
    if (out.length !== size) throw new Error(`parquet page: zstd gave ${out.length} bytes of ${size}`);
    return out;
  }
  const out = (scratch.pages = grown(scratch.pages, size, (n) => new Uint8Array(n))).subarray(0, size);
  snappyUncompress(bytes, out);
  return out;
}

/** Set bits per byte value. */
const BITS = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v; v >>= 1) n += v & 1;
  return n;
});

/**
 * `count` dictionary indices (a bit-width byte, then RLE/bit-packed runs) looked up in `dictionary`
 * into `out`.
 */
function readIndices(bytes: Uint8Array, at: number, count: number, dictionary: Float64Array, out: Float64Array): void {
  const width = bytes[at++]!;
  if (width > 32) throw new Error(`parquet page: dictionary index width ${width}`);
  const lookup = (i: number) => {
    const v = dictionary[i];
    if (v === undefined) throw new Error(`parquet page: dictionary index ${i} of ${dictionary.length}`);
    return v;
  };
  for (let done = 0; done < count; ) {
    // A run's header: its length and kind (bit 0: bit-packed).
    const reader = new CompactReader(bytes, at);
    const head = reader.varint();
    at = reader.at;
    if (head % 2 === 1) {
      const values = ((head - 1) / 2) * 8;
      const n = Math.min(values, count - done);
      // Least significant bits first; a double holds the buffer (at most 39 bits) exactly.
      let buffer = 0;
      let bits = 0;
      let p = at;
      for (let i = 0; i < n; i++) {
        while (bits < width) {
          buffer += bytes[p++]! * 2 ** bits;
          bits += 8;
        }
        const v = buffer % 2 ** width;
        buffer = (buffer - v) / 2 ** width;
        bits -= width;
        out[done + i] = lookup(v);
      }
      at += (values * width) / 8;
      done += n;
    } else {
      const n = Math.min(head / 2, count - done);
      let v = 0;
      for (let b = 0; b < width; b += 8) v += bytes[at++]! * 2 ** b;
      out.fill(lookup(v), done, done + n);
      done += n;
    }
  }
}

/** `count` doubles of a PLAIN or BYTE_STREAM_SPLIT page body into `out` (little-endian, as the format and this machine are). */
function readValues(encoding: number, bytes: Uint8Array, at: number, count: number, out: Float64Array, dictionary?: Float64Array): void {
  if (encoding === PLAIN_DICTIONARY || encoding === RLE_DICTIONARY) {
    if (!dictionary) throw new Error('parquet page: dictionary-encoded values without a dictionary page');
    return readIndices(bytes, at, count, dictionary, out);
  }
  if (bytes.length - at < count * 8) throw new Error('parquet page: fewer value bytes than values');
  const target = new Uint8Array(out.buffer, out.byteOffset, count * 8);
  if (encoding === PLAIN) target.set(bytes.subarray(at, at + count * 8));
  else if (encoding === BYTE_STREAM_SPLIT) {
    // Byte k of value i is at stream k, position i: each value's two 32-bit halves assembled
    // from four streams each (half the stores of a byte-by-byte scatter).
    const words = new Uint32Array(out.buffer, out.byteOffset, count * 2);
    const [s0, s1, s2, s3, s4, s5, s6, s7] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => at + k * count) as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < count; i++) {
      words[2 * i] = bytes[s0 + i]! | (bytes[s1 + i]! << 8) | (bytes[s2 + i]! << 16) | (bytes[s3 + i]! << 24);
      words[2 * i + 1] = bytes[s4 + i]! | (bytes[s5 + i]! << 8) | (bytes[s6 + i]! << 16) | (bytes[s7 + i]! << 24);
    }
  } else throw new Error(`parquet page: value encoding ${encoding} not read here`);
}

/** Rows [from, to) of a row group: the part of it an extract copies (keyedShardWriter.ts). */
export interface RowRange {
  from: number;
  to: number;
}

/**
 * Column `name` of row group `group` of an open file, decoded: `values[r]` is row r's value where
 * bit r of `valid` is set. The file must pass `readableDoubles`. The arrays returned are
 * `scratch`'s: valid until the next call with the same scratch. With `rows`, only those rows are
 * decoded (the others hold whatever the scratch held), and of a chunk that is one uncompressed
 * PLAIN page only their values are read from the file (`decodeRows`).
 */
export function readDoubleChunk(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch = {}, rows?: RowRange): ColumnChunk {
  return decodeOrSay(source, file, group, name, scratch, PHYSICAL_DOUBLE, rows);
}

/** Whether every chunk of INT64 column `name` in the file is one `readInt64Chunk` decodes. */
export function readableInt64(file: FileLayout, name: string): boolean {
  return readable(file, name, PHYSICAL_INT64);
}

/**
 * INT64 column `name` of row group `group`, as `readDoubleChunk` gives a DOUBLE column, the same
 * eight bytes a value seen as 64-bit integers. A dictionary-encoded chunk throws: its values would
 * pass through doubles, which need not keep every bit pattern.
 */
export function readInt64Chunk(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch = {}, rows?: RowRange): { values: BigInt64Array; valid: Uint32Array | null } {
  const chunk = decodeOrSay(source, file, group, name, scratch, PHYSICAL_INT64, rows);
  return asInt64(chunk);
}

/**
 * Rows `range` of INT64 column `name` of row group `group`, and only those read from the file
 * (`values[r]` for r in the range; the rest of the array is not theirs); undefined where the chunk
 * is not one uncompressed PLAIN page, whose rows cannot be read alone.
 */
export function readInt64Rows(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch, range: RowRange): { values: BigInt64Array; valid: Uint32Array | null } | undefined {
  const chunk = saying(name, group, () => decodeRows(source, file, group, name, scratch, PHYSICAL_INT64, range));
  return chunk && asInt64(chunk);
}

/** A decoded INT64 chunk's values as the 64-bit integers they are (decoded as doubles' bytes). */
const asInt64 = (chunk: ColumnChunk) => ({ values: new BigInt64Array(chunk.values.buffer, chunk.values.byteOffset, chunk.values.length), valid: chunk.valid });

function decodeOrSay(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch, physical: number, rows?: RowRange): ColumnChunk {
  return saying(name, group, () => (rows && decodeRows(source, file, group, name, scratch, physical, rows)) ?? decodeChunk(source, file, group, name, scratch, physical));
}

/** `decode`'s result; its error, if it throws, says which column and row group. */
function saying<T>(name: string, group: number, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw new Error(`column ${name}, row group ${group}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A chunk's output arrays, the scratch's: its values, and its validity bitmap cleared, one bit per
 * row in words of 32 for the scan (a byte view to fill it).
 */
function chunkArrays(scratch: DecodeScratch, rows: number): { values: Float64Array; words: Uint32Array; valid: Uint8Array } {
  const values = (scratch.values = grown(scratch.values, rows, (n) => new Float64Array(n))).subarray(0, rows);
  const words = (scratch.words = grown(scratch.words, Math.ceil(rows / 32), (n) => new Uint32Array(n))).subarray(0, Math.ceil(rows / 32));
  words.fill(0);
  return { values, words, valid: new Uint8Array(words.buffer, words.byteOffset, words.byteLength) };
}

/**
 * Rows [from, to) of `values` from the dense run of the values they have (`dense[0]` is row
 * `from`'s or the next row's with one). Without a branch per row: a null row takes the next value
 * too, and the index does not move.
 */
function spread(values: Float64Array, dense: Float64Array, valid: Uint8Array, from: number, to: number): void {
  for (let r = from, k = 0; r < to; r++) {
    values[r] = dense[k]!;
    k += (valid[r >> 3]! >> (r & 7)) & 1;
  }
}

/** `length` bytes of the file from `position` into the scratch's byte buffer (grown as needed). */
function readInto(source: ByteSource, scratch: DecodeScratch, position: number, length: number): Uint8Array {
  if (typeof source !== 'number') {
    if (position + length > source.length) throw new Error('the file ends inside a column chunk');
    return source.subarray(position, position + length);
  }
  const bytes = (scratch.bytes = grown(scratch.bytes, length, (n) => Buffer.allocUnsafe(n)));
  readFully(source, bytes, 0, length, position);
  return bytes;
}

/**
 * Bytes read at once where a chunk is read whole and is small: the chunks after it, which a scan
 * of a file's columns in order reads next, come from the same read. A profile of a 20,000-row
 * dataset on day shards read its 300,000 column chunks of a few KB one read each.
 */
const READ_AHEAD_BYTES = 512 * 1024;

/**
 * A column chunk's `length` bytes from `position`: from the bytes read ahead when they hold it,
 * else read with up to READ_AHEAD_BYTES after them (a small chunk), else alone. The bytes read
 * ahead are of one file, the one open as `source` with `file`'s layout (the files read are never
 * rewritten in place: a name is written once).
 */
function readChunkBytes(source: ByteSource, file: FileLayout, scratch: DecodeScratch, position: number, length: number): Uint8Array {
  const kept = readAlready(source, file, scratch, position, length);
  if (kept) return kept;
  if (length * 4 > READ_AHEAD_BYTES || typeof source !== 'number') return readInto(source, scratch, position, length);
  return readAhead(source, file, scratch, position, length, READ_AHEAD_BYTES);
}

/** `length` bytes of the open file from `position`, read with the bytes after them up to `upTo` in all, which are kept as the scratch's bytes read ahead. */
function readAhead(fd: number, file: FileLayout, scratch: DecodeScratch, position: number, length: number, upTo: number): Uint8Array {
  const bytes = scratch.ahead?.bytes ?? Buffer.allocUnsafeSlow(READ_AHEAD_BYTES);
  const done = readUpTo(fd, bytes, 0, upTo, position);
  if (done < length) throw new Error('the file ends inside a column chunk');
  scratch.ahead = { source: fd, file, start: position, end: position + done, bytes };
  return bytes.subarray(0, length);
}

/** The bytes read ahead from `position` for `length`, where they hold them all. */
function readAlready(source: ByteSource, file: FileLayout, scratch: DecodeScratch, position: number, length: number): Uint8Array | undefined {
  const ahead = scratch.ahead;
  if (ahead && ahead.source === source && ahead.file === file && position >= ahead.start && position + length <= ahead.end) return ahead.bytes.subarray(position - ahead.start, position - ahead.start + length);
  return undefined;
}

/**
 * Bytes read past a column chunk's last values with them: the next chunk's page header and levels
 * (at most `HEAD_BYTES` and a bit a row), which a reader of each column's last rows reads next. A
 * refresh's extract reads the last minutes of every column of a table's earlier file, and read
 * each column's values and the next column's header apart: two reads where one does.
 */
const NEXT_HEAD_BYTES = 16 * 1024;

/**
 * `length` bytes from `position` into `into`: a chunk's values. Where they are the chunk's last
 * (`chunkEnd`), the bytes after them are read too and kept as the bytes read ahead.
 */
function readTailValues(source: ByteSource, file: FileLayout, scratch: DecodeScratch, into: Uint8Array, position: number, length: number, chunkEnd: boolean): void {
  const kept = readAlready(source, file, scratch, position, length);
  if (kept) return void into.set(kept);
  if (!chunkEnd || typeof source !== 'number' || length + NEXT_HEAD_BYTES > READ_AHEAD_BYTES) return readFully(source, into, 0, length, position);
  into.set(readAhead(source, file, scratch, position, length, length + NEXT_HEAD_BYTES));
}

function readFully(source: ByteSource, into: Uint8Array, offset: number, length: number, position: number): void {
  if (readUpTo(source, into, offset, length, position) < length) throw new Error('the file ends inside a column chunk');
}

/** Up to `length` bytes of the file from `position` into `into` at `offset`, fewer only where the file ends first: the bytes read. */
export function readUpTo(source: ByteSource, into: Uint8Array, offset: number, length: number, position: number): number {
  if (typeof source !== 'number') {
    const bytes = source.subarray(position, position + length);
    into.set(bytes, offset);
    return bytes.length;
  }
  let done = 0;
  for (let n = 1; n > 0 && done < length; done += n) n = readSync(source, into, offset + done, length - done, position + done);
  return done;
}

/** Bytes of a chunk read first: its page's header and the length of its definition levels (and, where it has nulls, room for the levels); the levels are read next where they did not fit, then the values wanted. */
const HEAD_BYTES = 512;
/** Room for the levels' run headers beside their bits (a byte or two a run); where they need more, the levels are read again after the header. */
const LEVEL_RUN_BYTES = 64;

/**
 * Rows `range` of a chunk that is one uncompressed PLAIN data page, the way a DuckDB file table
 * stores a column (one page a row group): the page's header and definition levels, then only the
 * value bytes of those rows, read from the file. A refresh's extract copies the last minutes of a
 * table's big file, and decoding the whole group (20,120 rows a column at 20,000 rows, 122,880 in
 * DuckDB's full groups) to copy 60 of them was most of that extract. Undefined where the chunk is
 * not such a page: the whole chunk is then read and decoded.
 */
function decodeRows(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch, physical: number, range: RowRange): ColumnChunk | undefined {
  const [index, maxDefinition, type] = columnsOf(file).get(name) ?? [-1, 0, -1];
  const g = file.rowGroups[group];
  if (!g || index < 0 || type !== physical || g.codec[index] !== CODEC.UNCOMPRESSED || !Number.isNaN(g.dictionaryPageOffset[index]!)) return undefined;
  const rows = g.rows;
  const { from, to } = range;
  if (!(Number.isSafeInteger(from) && Number.isSafeInteger(to) && 0 <= from && from <= to && to <= rows)) throw new Error(`rows ${from} to ${to} of a group of ${rows}`);
  const start = g.dataPageOffset[index]!;
  const length = g.compressedSize[index]!;
  // A chunk shorter than its rows' values has nulls, so its levels may be bit-packed (a bit a row,
  // about 2.5 KB at 20,000 rows): they are read with the header. Read after it, each column of a
  // refresh's earlier files took three reads (the header, the header again with the levels, the
  // values) where two do.
  let read = Math.min(length, length < rows * 8 && maxDefinition === 1 ? HEAD_BYTES + Math.ceil(rows / 8) + LEVEL_RUN_BYTES : HEAD_BYTES);
  let head = readAlready(source, file, scratch, start, read) ?? readInto(source, scratch, start, read);
  const reader = new CompactReader(head, 0);
  const page = readPageHeader(reader);
  const body = reader.at;
  if (body > read) return undefined;
  const single = (page.type === DATA_PAGE || (page.type === DATA_PAGE_V2 && page.repetitionBytes === 0)) && page.encoding === PLAIN && page.values === rows && body + page.compressed === length;
  if (!single) return undefined;
  // Where the levels and the values lie in the chunk (v1: the levels' length, then the levels).
  let levelsAt = body;
  let valuesAt = body + (page.type === DATA_PAGE_V2 ? page.definitionBytes : 0);
  if (maxDefinition === 1 && page.type === DATA_PAGE) {
    if (body + 4 > length) throw new Error('the page ends inside its definition levels');
    levelsAt = body + 4;
    valuesAt = levelsAt + (head[body]! | (head[body + 1]! << 8) | (head[body + 2]! << 16) | (head[body + 3]! << 24));
  }
  if (valuesAt > length) throw new Error('the page ends inside its definition levels');
  if (maxDefinition === 1 && valuesAt > read) head = readInto(source, scratch, start, (read = valuesAt));
  const { values, words, valid } = chunkArrays(scratch, rows);
  // The values of rows [from, to) are values [before, before + wanted) of the page's dense run.
  let before = from;
  let wanted = to - from;
  if (maxDefinition === 1) ({ before, present: wanted } = readLevels(head, levelsAt, valuesAt, valid, from, to));
  const present = before + wanted;
  if (valuesAt + present * 8 > length) throw new Error('fewer value bytes than values');
  const chunkEnd = valuesAt + present * 8 === length;
  if (wanted === to - from) {
    // Every row in the range has a value: read straight into place.
    readTailValues(source, file, scratch, new Uint8Array(values.buffer, values.byteOffset + from * 8, wanted * 8), start + valuesAt + before * 8, wanted * 8, chunkEnd);
    return { values, valid: null };
  }
  const dense = (scratch.dense = grown(scratch.dense, rows + 1, (n) => new Float64Array(n)));
  readTailValues(source, file, scratch, new Uint8Array(dense.buffer, dense.byteOffset, wanted * 8), start + valuesAt + before * 8, wanted * 8, chunkEnd);
  spread(values, dense, valid, from, to);
  return { values, valid: words };
}

/** Set bits among the first `n` bits of the bytes from `at` (bit k of byte j: bit 8j + k). */
function countBits(bytes: Uint8Array, at: number, n: number): number {
  let count = 0;
  for (let b = 0; b < n >> 3; b++) count += BITS[bytes[at + b]!]!;
  if (n & 7) count += BITS[bytes[at + (n >> 3)]! & ((1 << (n & 7)) - 1)]!;
  return count;
}

/**
 * Definition levels of bit width 1 (RLE/bit-packed hybrid, no length prefix) of one page, for its
 * rows [from, to), into bits `offset + r` of `valid` (`offset`: the page's first row in its chunk).
 * The rows before `from` are only counted, a run or a byte at a time, and the reading stops at
 * `to`. Bit-packed runs are already a little-endian bitmap: whole bytes are copied where a run's
 * byte falls on one of the bitmap's. Returns the rows with a value before `from` and in [from, to).
 */
function readLevels(bytes: Uint8Array, at: number, end: number, valid: Uint8Array, from: number, to: number, offset = 0): { before: number; present: number } {
  let row = 0;
  let before = 0;
  let present = 0;
  while (row < to && at < end) {
    const reader = new CompactReader(bytes, at);
    const head = reader.varint();
    at = reader.at;
    const bitPacked = head % 2 === 1;
    const count = bitPacked ? ((head - 1) / 2) * 8 : head / 2;
    const value = bitPacked ? 0 : bytes[at++]! & 1;
    const skipped = Math.max(0, Math.min(row + count, from) - row);
    const first = Math.max(row, from);
    const last = Math.min(row + count, to);
    if (bitPacked) {
      if (skipped > 0) before += countBits(bytes, at, skipped);
      for (let r = first; r < last; r++) {
        const i = r - row;
        const o = offset + r;
        if ((o & 7) === 0 && (i & 7) === 0 && r + 8 <= last) {
          const byte = bytes[at + (i >> 3)]!;
          valid[o >> 3] = byte;
          present += BITS[byte]!;
          r += 7;
          continue;
        }
        if ((bytes[at + (i >> 3)]! >> (i & 7)) & 1) {
          valid[o >> 3]! |= 1 << (o & 7);
          present++;
        }
      }
      at += count / 8;
    } else if (value === 1) {
      before += skipped;
      for (let o = offset + first; o < offset + last; o++) valid[o >> 3]! |= 1 << (o & 7);
      present += Math.max(0, last - first);
    }
    row += count;
  }
  if (row < to) throw new Error(`parquet page: ${to - row} definition levels missing`);
  return { before, present };
}

function decodeChunk(source: ByteSource, file: FileLayout, group: number, name: string, scratch: DecodeScratch, physical: number): ColumnChunk {
  const [index, maxDefinition, type] = columnsOf(file).get(name) ?? [-1, 0, -1];
  const g = file.rowGroups[group];
  if (!g || index < 0 || type !== physical) throw new Error(`no ${physical === PHYSICAL_DOUBLE ? 'DOUBLE' : 'INT64'} column ${name} in row group ${group}`);
  const codec = g.codec[index]!;
  const rows = g.rows;
  const dictionaryAt = g.dictionaryPageOffset[index]!;
  const start = Number.isNaN(dictionaryAt) ? g.dataPageOffset[index]! : dictionaryAt;
  const length = g.compressedSize[index]!;
  const bytes = readChunkBytes(source, file, scratch, start, length);
  const { values, words, valid } = chunkArrays(scratch, rows);
  let row = 0;
  let allValid = true;
  let dictionary: Float64Array | undefined;
  for (let at = 0; at < length && row < rows; ) {
    const reader = new CompactReader(bytes, at);
    const page = readPageHeader(reader);
    const body = reader.at;
    at = body + page.compressed;
    if (page.type === DICTIONARY_PAGE) {
      if (physical !== PHYSICAL_DOUBLE) throw new Error(`column ${name}: a dictionary page in an INT64 column, not read here`);
      if (page.encoding !== PLAIN && page.encoding !== PLAIN_DICTIONARY) throw new Error(`column ${name}: dictionary encoding ${page.encoding}`);
      dictionary = new Float64Array(page.values);
      readValues(PLAIN, decompress(codec, bytes.subarray(body, at), page.uncompressed, scratch), 0, page.values, dictionary);
      continue;
    }
    if (page.type !== DATA_PAGE && page.type !== DATA_PAGE_V2) throw new Error(`column ${name}: page type ${page.type} not read here`);
    const count = page.values;
    let present = count;
    let data: Uint8Array;
    let valuesAt: number;
    if (page.type === DATA_PAGE) {
      data = decompress(codec, bytes.subarray(body, at), page.uncompressed, scratch);
      valuesAt = 0;
      if (maxDefinition === 1) {
        const levelBytes = data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24);
        present = readLevels(data, 4, 4 + levelBytes, valid, 0, count, row).present;
        valuesAt = 4 + levelBytes;
      }
    } else {
      if (page.repetitionBytes !== 0) throw new Error(`column ${name}: repeated values not read here`);
      const levelsEnd = body + page.definitionBytes;
      if (maxDefinition === 1) present = readLevels(bytes, body, levelsEnd, valid, 0, count, row).present;
      const raw = bytes.subarray(levelsEnd, at);
      data = page.valuesCompressed ? decompress(codec, raw, page.uncompressed - page.definitionBytes, scratch) : raw;
      valuesAt = 0;
    }
    if (maxDefinition === 0) for (let r = row; r < row + count; r++) valid[r >> 3]! |= 1 << (r & 7);
    if (present === count) readValues(page.encoding, data, valuesAt, count, values.subarray(row, row + count), dictionary);
    else {
      // The page holds only the rows with a value: decoded densely, then spread to their rows.
      allValid = false;
      const dense = (scratch.dense = grown(scratch.dense, rows + 1, (n) => new Float64Array(n)));
      readValues(page.encoding, data, valuesAt, present, dense, dictionary);
      spread(values, dense, valid, row, row + count);
    }
    row += count;
  }
  if (row !== rows) throw new Error(`column ${name}: ${row} of ${rows} rows in its pages`);
  return { values, valid: allValid ? null : words };
}
