// Stitches parquet files side by side without decoding them: when every source holds the same
// rows in the same order with the same row-group boundaries, an output row group is the sources'
// column chunks copied byte for byte, and only the footer is new. The work is the I/O of the data
// once, and memory is a few spans of chunks at a time (spanCopy.ts), whatever the row count.

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { parquetMetadata, type ColumnChunk, type ColumnMetaData, type FileMetaData, type SchemaElement, type Statistics } from 'hyparquet';

type MinMaxType = NonNullable<Statistics['min_value']>;
import { encodeCopiedFooter, encodeFooter, type CopiedChunk, type CopiedRowGroup, type EncodedChunk } from './parquetFooter.js';
import { chunkStart, decodeLayout, MAGIC, readFooterBytes, type FooterLayout } from './parquetLayout.js';
import { NULL_PAGE_CODECS, nullPage } from './parquetNullPage.js';
import { copySpans, type SpanCopy } from './spanCopy.js';

/**
 * Back-to-back chunks are copied with one read and one write up to this many bytes. At 20,000
 * rows (chunks of about 150 KB) a 1 MB span merged as fast as one chunk at a time (2.58-2.68 s
 * against 2.66-3.32 s) and an 8 MB span took twice as long (5.0-5.5 s); day shards' 5 KB chunks
 * gain the most.
 */
const COPY_SPAN_BYTES = 1 << 20;

/**
 * Spans a stitch reads and writes at once (spanCopy.ts), as many as libuv has threads by default.
 * The 177,748-row merge took 36.2 s with 2, 32.7-34.5 s with 4 and 32.3 s with 8 (2026-12-03,
 * one set, ad hoc). Before its key check was made cheaper (duckdbWarehouse.ts `sameKeys`), 4 took
 * 38.5-39.0 s against 40.3-44.9 s for one span copied after another on the main thread.
 */
const COPIES_IN_FLIGHT = 4;

/** Reads the footer of a local parquet file. */
export function readLocalFooter(file: string): { metadata: FileMetaData; bytes: number } {
  const { footer, bytes } = readFooterBytes(file);
  const metadata = parquetMetadata(footer.buffer.slice(footer.byteOffset, footer.byteOffset + footer.length) as ArrayBuffer);
  return { metadata, bytes };
}

/** Byte range [start, start + length) of a column chunk (dictionary page first, if any). */
export function chunkRange(chunk: ColumnChunk): { start: number; length: number } {
  const m = chunk.meta_data;
  if (!m) throw new Error('column chunk without metadata');
  const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
  return { start, length: Number(m.total_compressed_size) };
}

/** Bytes [start, start + length) of an open file, into `into` when it is large enough. */
export function readSpan(fd: number, start: number, length: number, into?: Buffer): Buffer {
  const buffer = into && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
  for (let done = 0; done < length; ) {
    const n = readSync(fd, buffer, done, length - done, start + done);
    if (n === 0) throw new Error('unexpected end of file reading column chunks');
    done += n;
  }
  return buffer;
}

/**
 * A parquet file written from other files' column chunks: it copies each chunk byte for byte,
 * relocates the chunk's offsets to where it landed, and ends with a new footer.
 */
class ChunkFileWriter {
  private readonly fd: number;
  /** Read buffer for copies, grown to the largest span copied (not zero-filled: every byte used is read into first). */
  private scratch = Buffer.allocUnsafe(0);
  offset = 0;
  private closed = false;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
    this.write(MAGIC);
  }

  /** Copies one column chunk from an open file; `name` renames its column. */
  copyChunk(from: number, chunk: ColumnChunk, name?: string): ColumnChunk {
    return this.copyChunks(from, [chunk], name === undefined ? undefined : [name])[0]!;
  }

  /**
   * Copies column chunks that lie back to back in an open file (a checkpoint's columns, in order)
   * with one read and one write for all of them: with small chunks (day shards) a read and a write
   * per chunk were a fifth of the merge. `names` rename their columns.
   */
  copyChunks(from: number, chunks: readonly ColumnChunk[], names?: readonly string[]): ColumnChunk[] {
    const ranges = chunks.map(chunkRange);
    const start = ranges[0]!.start;
    const length = ranges.reduce((n, r) => n + r.length, 0);
    ranges.forEach((r, i) => {
      if (i > 0 && r.start !== ranges[i - 1]!.start + ranges[i - 1]!.length) throw new Error('column chunks copied together must lie back to back');
    });
    const at = this.copySpan(from, start, length);
    return chunks.map((chunk, i) => this.relocated(chunk, BigInt(at + ranges[i]!.start - start), BigInt(ranges[i]!.start), names?.[i]));
  }

  /** Copies bytes [start, start + length) of an open file here; returns where they start. */
  copySpan(from: number, start: number, length: number): number {
    if (this.scratch.length < length) this.scratch = Buffer.allocUnsafe(Math.max(length, 64 << 10));
    const at = this.offset;
    this.write(readSpan(from, start, length, this.scratch));
    return at;
  }

  /** `chunk`'s metadata once its bytes (from `from`) are at `at` in this file. */
  private relocated(chunk: ColumnChunk, at: bigint, from: bigint, name?: string): ColumnChunk {
    const m = chunk.meta_data!;
    const shift = (value: bigint | undefined) => (value === undefined ? undefined : at + (BigInt(value) - from));
    return {
      file_offset: at,
      meta_data: {
        ...m,
        ...(name ? { path_in_schema: [name] } : {}),
        data_page_offset: shift(m.data_page_offset)!,
        dictionary_page_offset: shift(m.dictionary_page_offset),
        // Page indexes and bloom filters are not copied: their offsets would point nowhere.
        index_page_offset: undefined,
        bloom_filter_offset: undefined,
        bloom_filter_length: undefined,
      },
    } as ColumnChunk;
  }

  /**
   * Copies one column chunk with `before` null rows ahead of its pages and `after` behind them
   * (a page of nulls each, parquetNullPage.ts): the chunk's rows lined up inside a longer run.
   */
  copyChunkPadded(from: number, chunk: ColumnChunk, before: number, after: number): ColumnChunk {
    const m = chunk.meta_data!;
    if (before > 0 && m.dictionary_page_offset !== undefined) throw new Error('null rows cannot go before a dictionary page');
    const head = before > 0 ? nullPage(before, m.codec) : undefined;
    const tail = after > 0 ? nullPage(after, m.codec) : undefined;
    const at = BigInt(this.offset);
    if (head) this.write(head.bytes);
    const copied = this.copyChunk(from, chunk).meta_data!;
    if (tail) this.write(tail.bytes);
    const bytes = (head?.bytes.length ?? 0) + (tail?.bytes.length ?? 0);
    const uncompressed = (head?.uncompressed ?? 0) + (tail?.uncompressed ?? 0);
    const nulls = BigInt(before + after);
    const stats = m.statistics;
    return {
      file_offset: at,
      meta_data: {
        ...copied,
        encodings: copied.encodings.includes('PLAIN') ? copied.encodings : [...copied.encodings, 'PLAIN'],
        num_values: copied.num_values + nulls,
        total_compressed_size: copied.total_compressed_size + BigInt(bytes),
        total_uncompressed_size: copied.total_uncompressed_size + BigInt(uncompressed),
        data_page_offset: head ? at : copied.data_page_offset,
        // Per-encoding page counts and level histograms would be off by the new pages: left out (both optional).
        encoding_stats: undefined,
        size_statistics: undefined,
        statistics: stats && { ...stats, ...(stats.null_count !== undefined ? { null_count: stats.null_count + nulls } : {}) },
      },
    } as ColumnChunk;
  }

  /** A column chunk of `rows` nulls and nothing else (one uncompressed null page), for a column of `type`. */
  nullChunk(name: string, type: ColumnMetaData['type'], rows: number): ColumnChunk {
    const page = nullPage(rows, 'UNCOMPRESSED');
    const at = BigInt(this.offset);
    this.write(page.bytes);
    const meta: ColumnMetaData = {
      type,
      encodings: ['PLAIN', 'RLE'],
      path_in_schema: [name],
      codec: 'UNCOMPRESSED',
      num_values: BigInt(rows),
      total_uncompressed_size: BigInt(page.uncompressed),
      total_compressed_size: BigInt(page.bytes.length),
      data_page_offset: at,
      statistics: { null_count: BigInt(rows) },
    };
    return { file_offset: at, meta_data: meta } as ColumnChunk;
  }

  /** Writes the footer (thrift bytes and their length) and the magic, and closes the file. */
  finish(schema: SchemaElement[], rowGroups: FileMetaData['row_groups'], createdBy: string): StitchResult {
    const rows = rowGroups.reduce((sum, g) => sum + BigInt(g.num_rows), 0n);
    try {
      this.write(encodeFooter({ version: 1, schema, num_rows: rows, row_groups: rowGroups, created_by: createdBy } as FileMetaData));
      this.write(MAGIC);
      return { file: this.file, rows: Number(rows), bytes: this.offset };
    } finally {
      this.close();
    }
  }

  /** Closes the file once: a second close of the same number could close a file opened since. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private write(bytes: Uint8Array): void {
    writeFully(this.fd, bytes, this.offset);
    this.offset += bytes.length;
  }
}

/**
 * One file holding the rows of `files` one after another (a shard's column group in several
 * parts, as a refresh grows it): the file itself when there is one, else their concatenation in a
 * temp file from `tempPath`, added to `temps` for the caller to remove.
 */
export async function oneFile(files: readonly string[], tempPath: () => Promise<string>, temps: string[]): Promise<string> {
  if (files.length === 1) return files[0]!;
  const file = await tempPath();
  temps.push(file);
  concatParquet(files.map((f) => ({ file: f, metadata: readLocalFooter(f).metadata })), file);
  return file;
}

/**
 * Writes `parts` one after the other as one parquet file: every row group of every part, its
 * column chunks copied byte for byte, and a new footer. Every part must have the same schema.
 */
export function concatParquet(parts: { file: string; metadata: FileMetaData }[], target: string): StitchResult {
  if (parts.length === 0) throw new Error('nothing to concatenate');
  const shape = (m: FileMetaData) => JSON.stringify(m.schema, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  for (const p of parts) if (shape(p.metadata) !== shape(parts[0]!.metadata)) throw new Error(`${p.file} has another schema than ${parts[0]!.file}`);
  const out = new ChunkFileWriter(target);
  try {
    const rowGroups: FileMetaData['row_groups'] = [];
    for (const part of parts) {
      const fd = openSync(part.file, 'r');
      try {
        for (const group of part.metadata.row_groups) {
          const start = out.offset;
          const columns = group.columns.map((chunk) => out.copyChunk(fd, chunk));
          rowGroups.push({ ...group, columns, file_offset: BigInt(start), total_compressed_size: BigInt(out.offset - start) } as FileMetaData['row_groups'][number]);
        }
      } finally {
        closeSync(fd);
      }
    }
    return out.finish(parts[0]!.metadata.schema, rowGroups, 'bqx concat');
  } finally {
    out.close();
  }
}

/**
 * Whether `joinRows` can write these files' rows as one row group: each holds one row group or
 * none, all have the same flat schema and the same codec per column, and no file after the first
 * with rows has a dictionary page (a chunk's dictionary page must come first; DuckDB writes one for
 * a column that is constant in the file).
 */
export function joinable(parts: readonly FileMetaData[]): boolean {
  const withRows = parts.filter((m) => Number(m.num_rows) > 0);
  if (withRows.length === 0 || withRows.some((m) => m.row_groups.length !== 1)) return false;
  const shape = (m: FileMetaData) => JSON.stringify(m.schema.map((e) => [e.name, e.type, e.repetition_type, e.num_children, e.converted_type, e.logical_type]), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  const first = withRows[0]!;
  if (first.schema.slice(1).some((e) => e.num_children)) return false;
  return withRows.every((m, p) => shape(m) === shape(first) && m.row_groups[0]!.columns.every((c, i) => c.meta_data !== undefined && c.meta_data.codec === first.row_groups[0]!.columns[i]!.meta_data?.codec && (p === 0 || c.meta_data.dictionary_page_offset === undefined)));
}

/**
 * `joinable` read from layouts (no hyparquet parse): every file one row group of the same flat
 * columns (names, types, repetitions, converted types), each column in one codec throughout, and
 * no dictionary page after the first file.
 */
export function joinableLayouts(layouts: readonly FooterLayout[]): boolean {
  const first = layouts[0];
  if (!first || first.schema.some((e) => e.children > 0)) return false;
  const shape = (l: FooterLayout) => l.schema.map((e) => `${e.name}\u0000${e.type}\u0000${e.repetition}\u0000${e.convertedType}`).join('\u0001');
  const want = shape(first);
  return layouts.every((l, p) => {
    const g = l.rowGroups[0];
    if (l.rowGroups.length !== 1 || !g || shape(l) !== want) return false;
    for (let i = 0; i < l.schema.length; i++) {
      if (g.codec[i] !== first.rowGroups[0]!.codec[i] || g.depth[i] !== 1 || (p > 0 && !Number.isNaN(g.dictionaryPageOffset[i]!))) return false;
    }
    return true;
  });
}

/**
 * Writes the rows of `parts`, in order, as one row group of one file, without decoding them: each
 * column chunk is the parts' chunks one after the other (their pages back to back, copied byte for
 * byte), with sizes and counts summed and statistics combined. The parts must be `joinable`.
 * A refresh's partial last shard is its earlier rows joined with the new ones like this
 * (duckdbWarehouse.ts `extract`), instead of being written again by a COPY of both.
 */
export function joinRows(parts: readonly { file: string; metadata: FileMetaData }[], target: string): StitchResult {
  const sources = parts.filter((p) => Number(p.metadata.num_rows) > 0);
  if (!joinable(sources.map((p) => p.metadata))) throw new Error(`${sources.map((p) => p.file).join(', ')} cannot be joined into one row group`);
  const groups = sources.map((p) => p.metadata.row_groups[0]!);
  const fds = sources.map((p) => openSync(p.file, 'r'));
  const out = new ChunkFileWriter(target);
  try {
    const start = out.offset;
    const columns = groups[0]!.columns.map((_, i) => {
      const at = out.offset;
      for (const [p, g] of groups.entries()) out.copyChunk(fds[p]!, g.columns[i]!);
      return joinedChunk(groups.map((g) => g.columns[i]!.meta_data!), at);
    });
    const rowGroup = {
      columns,
      total_byte_size: groups.reduce((n, g) => n + BigInt(g.total_byte_size), 0n),
      num_rows: groups.reduce((n, g) => n + BigInt(g.num_rows), 0n),
      file_offset: BigInt(start),
      total_compressed_size: BigInt(out.offset - start),
    } as FileMetaData['row_groups'][number];
    return out.finish(sources[0]!.metadata.schema, [rowGroup], 'bqx join');
  } finally {
    out.close();
    for (const fd of fds) closeSync(fd);
  }
}

/**
 * One column chunk made of the chunks of `metas` one after the other, page for page, the first's
 * bytes starting at `at` in the new file (and renamed `name`): value counts and sizes summed,
 * encodings united, statistics combined, the page offsets the first's moved there. Per-encoding
 * page counts and level histograms are per chunk, and the page index and bloom filter would point
 * nowhere: left out (all optional). The chunks after the first must have no dictionary page (a
 * chunk's dictionary page comes first) and every chunk the same codec: `joinable`.
 */
export function joinedChunk(metas: readonly ColumnMetaData[], at: number, name?: string): ColumnChunk {
  const first = metas[0]!;
  const start = BigInt(first.dictionary_page_offset ?? first.data_page_offset);
  const moved = (offset: bigint | undefined) => (offset === undefined ? undefined : BigInt(at) + (BigInt(offset) - start));
  const sum = (f: (m: ColumnMetaData) => bigint) => metas.reduce((n, m) => n + BigInt(f(m)), 0n);
  return {
    file_offset: BigInt(at),
    meta_data: {
      ...first,
      ...(name !== undefined ? { path_in_schema: [name] } : {}),
      encodings: [...new Set(metas.flatMap((m) => m.encodings))],
      num_values: sum((m) => m.num_values),
      total_compressed_size: sum((m) => m.total_compressed_size),
      total_uncompressed_size: sum((m) => m.total_uncompressed_size),
      data_page_offset: moved(first.data_page_offset)!,
      dictionary_page_offset: moved(first.dictionary_page_offset),
      index_page_offset: undefined,
      bloom_filter_offset: undefined,
      bloom_filter_length: undefined,
      encoding_stats: undefined,
      size_statistics: undefined,
      statistics: joinedStatistics(metas),
    },
  } as ColumnChunk;
}

/**
 * The statistics of chunks read one after the other: null counts summed, the least minimum and the
 * greatest maximum of the chunks that have values. A bound a chunk with values does not give is
 * left out (so is the distinct count, which does not add up).
 */
function joinedStatistics(metas: readonly ColumnMetaData[]): Statistics | undefined {
  const stats = metas.map((m) => m.statistics);
  if (stats.some((s) => s === undefined)) return undefined;
  const all = stats as Statistics[];
  const nulls = all.every((s) => s.null_count !== undefined) ? all.reduce((n, s) => n + s.null_count!, 0n) : undefined;
  // Chunks of nulls only have no bounds to give.
  const valued = all.filter((s, i) => s.null_count === undefined || s.null_count < BigInt(metas[i]!.num_values));
  const bound = (field: 'min' | 'max' | 'min_value' | 'max_value', lower: boolean): MinMaxType | undefined => {
    const values = valued.map((s) => s[field]);
    // Ordered kinds only (numbers, big integers, strings, timestamps), all of one kind.
    const key = (v: MinMaxType | undefined) => (v instanceof Date ? v.getTime() : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' ? v : undefined);
    if (values.length === 0 || values.some((v) => key(v) === undefined || typeof key(v) !== typeof key(values[0]))) return undefined;
    return values.reduce((a, b) => ((lower ? key(b)! < key(a)! : key(b)! > key(a)!) ? b : a));
  };
  const exact = (field: 'is_min_value_exact' | 'is_max_value_exact') => (all.every((s) => s[field] !== undefined) ? all.every((s) => s[field]) : undefined);
  const joined: Statistics = {
    ...(nulls !== undefined ? { null_count: nulls } : {}),
    ...Object.fromEntries(
      (
        [
          ['min', bound('min', true)],
          ['max', bound('max', false)],
          ['min_value', bound('min_value', true)],
          ['max_value', bound('max_value', false)],
        ] as const
      ).filter(([, v]) => v !== undefined),
    ),
  };
  if (joined.min_value !== undefined || joined.max_value !== undefined) {
    const [min, max] = [exact('is_min_value_exact'), exact('is_max_value_exact')];
    if (min !== undefined) joined.is_min_value_exact = min;
    if (max !== undefined) joined.is_max_value_exact = max;
  }
  return joined;
}

export interface StitchSource {
  file: string;
  /** The file's footer as a layout (parquetLayout.ts `readLayout`): its chunks' metadata is copied from its bytes. */
  layout: FooterLayout;
  /** Columns to take, in output order: the source's column name and its name in the output. */
  columns: { source: string; output: string }[];
  /**
   * Files whose rows follow this file's, with its schema, each of one row group like it: every
   * column taken is their chunks after this file's, page for page, as `joinRows` would join them
   * (a checkpoint's shard kept in the files of two extracts, not written again as one). They
   * must be `joinableLayouts` after this file (the merge's joinedRun checks; so does the stitch).
   */
  then?: readonly { file: string; layout: FooterLayout }[];
}

export interface StitchResult {
  file: string;
  rows: number;
  bytes: number;
}

export interface StitchedPart extends StitchResult {
  /** The footer written, as a layout (the merge reads the file's key column with it instead of reading the footer again). */
  layout: FooterLayout;
}

/**
 * Writes `sources` side by side into parquet files of at most about `partBytes` each (split at row
 * group boundaries), naming them with `partFile(i)`. Every source must have the same row groups.
 * The footers are written from the sources' footer bytes (parquetFooter.ts `encodeCopiedFooter`).
 */
export async function stitchParquet(sources: StitchSource[], partFile: (part: number) => string, partBytes = 1 << 30): Promise<StitchedPart[]> {
  if (sources.length === 0) throw new Error('nothing to stitch');
  // A source with files joined after it is one row group of all their rows.
  const sizes = (s: StitchSource) => (s.then ? [s.then.reduce((n, t) => n + t.layout.rows, s.layout.rows)] : s.layout.rowGroups.map((g) => g.rows));
  for (const s of sources) {
    if (s.then && !joinableLayouts([s.layout, ...s.then.map((t) => t.layout)])) throw new Error(`${s.file} and the files joined after it must each be one row group of the same columns, in one codec, with no dictionary page after the first`);
  }
  const groups = sizes(sources[0]!);
  for (const s of sources) {
    if (sizes(s).join() !== groups.join()) throw new Error(`${s.file} has row groups ${sizes(s).join('/')}, expected ${groups.join('/')}`);
  }
  // Resolve each output column to (source, column index, name) once.
  const plan = sources.flatMap((s, si) => {
    const leaves = s.layout.schema;
    if (leaves.some((e) => e.children)) throw new Error(`${s.file} has nested columns`);
    // By name through a map: a source may be a whole earlier output file of thousands of columns.
    const byName = new Map(leaves.map((e, i) => [e.name, i]));
    return s.columns.map((c) => {
      const index = byName.get(c.source) ?? -1;
      if (index < 0) throw new Error(`${s.file} has no column ${c.source}`);
      return { source: si, index, name: c.output };
    });
  });
  const layouts = plan.map((p) => sources[p.source]!.layout);
  const schema = plan.map((p, k) => ({ layout: layouts[k]!, column: p.index, name: p.name }));

  // Every source's files, itself first, open; and where files are joined, their footers as
  // hyparquet reads them (a joined chunk's metadata is new: joinedChunk).
  const files = sources.map((s) => [s, ...(s.then ?? [])].map((t) => ({ file: t.file, layout: t.layout, fd: -1 })));
  const joined = sources.map((s, si) => (s.then ? files[si]!.map((t) => readLocalFooter(t.file).metadata) : undefined));
  const results: StitchedPart[] = [];
  try {
    for (const list of files) for (const t of list) t.fd = openSync(t.file, 'r');
    let g = 0;
    while (g < groups.length) {
      // The part's layout first (every chunk's place follows from the sizes before it), then its
      // bytes copied a few spans at a time (spanCopy.ts), then its footer.
      const rowGroups: CopiedRowGroup[] = [];
      const spans: SpanCopy[] = [];
      let offset = MAGIC.length;
      // At least one row group per part; then more while the part stays under partBytes.
      do {
        const start = offset;
        const starts = plan.map((p, k) => chunkStart(layouts[k]!.rowGroups[g]!, p.index));
        const lengths = plan.map((p, k) => layouts[k]!.rowGroups[g]!.compressedSize[p.index]!);
        let uncompressed = 0;
        // Runs of output columns whose chunks lie back to back in one source: one copy each.
        const chunks: (CopiedChunk | EncodedChunk)[] = [];
        for (let k = 0; k < plan.length; ) {
          const metas = joined[plan[k]!.source];
          if (metas) {
            // Joined files: each column's chunk is its chunk in every file, one after the other, with
            // new metadata. A run of columns back to back in every file is one read a file, the
            // chunks then put in order (a copy per chunk and file made a day-shard refresh's merge
            // half as slow again).
            const parts = files[plan[k]!.source]!;
            const at = (t: (typeof parts)[number], q: number) => chunkStart(t.layout.rowGroups[0]!, plan[q]!.index);
            const size = (t: (typeof parts)[number], q: number) => t.layout.rowGroups[0]!.compressedSize[plan[q]!.index]!;
            let e = k + 1;
            let bytes = parts.reduce((n, t) => n + size(t, k), 0);
            while (e < plan.length && plan[e]!.source === plan[k]!.source && parts.every((t) => at(t, e) === at(t, e - 1) + size(t, e - 1))) {
              const more = parts.reduce((n, t) => n + size(t, e), 0);
              if (bytes + more > COPY_SPAN_BYTES) break;
              bytes += more;
              e++;
            }
            const order: { read: number; offset: number; length: number }[] = [];
            const first = offset;
            for (let q = k; q < e; q++) {
              chunks.push({ chunk: joinedChunk(metas.map((m) => m.row_groups[0]!.columns[plan[q]!.index]!.meta_data!), offset, plan[q]!.name), element: metas[0]!.schema[plan[q]!.index + 1]! });
              parts.forEach((t, p) => {
                order.push({ read: p, offset: at(t, q) - at(t, k), length: size(t, q) });
                offset += size(t, q);
                uncompressed += t.layout.rowGroups[0]!.uncompressedSize[plan[q]!.index]!;
              });
            }
            const reads = parts.map((t) => ({ from: t.fd, start: at(t, k), length: at(t, e - 1) + size(t, e - 1) - at(t, k), file: t.file }));
            spans.push({ from: reads[0]!.from, start: reads[0]!.start, length: offset - first, at: first, file: sources[plan[k]!.source]!.file, gather: { reads, order } });
            k = e;
            continue;
          }
          uncompressed += layouts[k]!.rowGroups[g]!.uncompressedSize[plan[k]!.index]!;
          let e = k + 1;
          while (e < plan.length && plan[e]!.source === plan[k]!.source && starts[e] === starts[e - 1]! + lengths[e - 1]! && starts[e]! + lengths[e]! - starts[k]! <= COPY_SPAN_BYTES) {
            uncompressed += layouts[e]!.rowGroups[g]!.uncompressedSize[plan[e]!.index]!;
            e++;
          }
          const length = starts[e - 1]! + lengths[e - 1]! - starts[k]!;
          spans.push({ from: files[plan[k]!.source]![0]!.fd, start: starts[k]!, length, at: offset, file: sources[plan[k]!.source]!.file });
          for (let q = k; q < e; q++) chunks.push({ layout: layouts[q]!, group: g, column: plan[q]!.index, at: offset + starts[q]! - starts[k]!, name: plan[q]!.name });
          offset += length;
          k = e;
        }
        rowGroups.push({ rows: groups[g]!, totalByteSize: uncompressed, fileOffset: start, compressedSize: offset - start, chunks });
        g++;
      } while (g < groups.length && offset < partBytes);
      const file = partFile(results.length);
      const fd = openSync(file, 'w');
      try {
        writeFully(fd, MAGIC, 0);
        await copySpans(fd, spans, COPIES_IN_FLIGHT);
        const footer = encodeCopiedFooter(schema, rowGroups, 'bqx stitch');
        writeFully(fd, footer, offset);
        writeFully(fd, MAGIC, offset + footer.length);
        results.push({ file, rows: rowGroups.reduce((n, r) => n + r.rows, 0), bytes: offset + footer.length + MAGIC.length, layout: decodeLayout(footer.subarray(0, footer.length - 4)) });
      } finally {
        closeSync(fd);
      }
    }
  } finally {
    for (const list of files) for (const t of list) if (t.fd >= 0) closeSync(t.fd);
  }
  return results;
}

/** Writes all of `bytes` at `position` of an open file. */
function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
}

/**
 * Whether `padParquet` can line up `columns` of this file: one row group, flat OPTIONAL columns
 * (nulls allowed), in a codec a null page can be written in, and no dictionary page where null
 * rows would go before it.
 */
export function paddable(metadata: FileMetaData, columns: readonly string[], before: number): boolean {
  // No rows (a shard the feature has none in): only the schema is taken, every value is a null.
  const empty = Number(metadata.num_rows) === 0;
  if (!empty && metadata.row_groups.length !== 1) return false;
  const leaves = metadata.schema.slice(1);
  return columns.every((name) => {
    const index = leaves.findIndex((e) => e.name === name);
    if (index < 0 || leaves[index]!.num_children || leaves[index]!.repetition_type !== 'OPTIONAL' || leaves[index]!.type === undefined) return false;
    if (empty) return true;
    const m = metadata.row_groups[0]!.columns[index]?.meta_data;
    return m !== undefined && NULL_PAGE_CODECS.includes(m.codec) && (before === 0 || m.dictionary_page_offset === undefined);
  });
}

/**
 * Writes `base`'s key column and `source`'s `columns` side by side as one row group of the base's
 * rows: `before` null rows, then the source's rows (its column chunks copied byte for byte), then
 * `after` null rows; a source with no rows gives columns of nulls only (its schema is all it lends). The caller has checked that the source's keys are the base's keys from row
 * `before` on, contiguous (duckdbWarehouse.ts `padShard`), and that the source is `paddable`.
 */
export function padParquet(base: { file: string; metadata: FileMetaData }, source: { file: string; metadata: FileMetaData; columns: readonly string[] }, key: string, before: number, after: number, target: string): StitchResult {
  const rows = Number(base.metadata.num_rows);
  const empty = Number(source.metadata.num_rows) === 0;
  if (base.metadata.row_groups.length !== 1 || (!empty && source.metadata.row_groups.length !== 1)) throw new Error('padding needs one row group in the base and in the source');
  if (before + Number(source.metadata.num_rows) + after !== rows) throw new Error(`${before} + ${source.metadata.num_rows} + ${after} rows do not make the base's ${rows}`);
  const baseLeaves = base.metadata.schema.slice(1);
  const keyIndex = baseLeaves.findIndex((e) => e.name === key);
  if (keyIndex < 0) throw new Error(`${base.file} has no column ${key}`);
  const leaves = source.metadata.schema.slice(1);
  const indexes = source.columns.map((name) => {
    const index = leaves.findIndex((e) => e.name === name);
    if (index < 0) throw new Error(`${source.file} has no column ${name}`);
    return index;
  });
  const schema: SchemaElement[] = [{ name: 'schema', repetition_type: 'REQUIRED', num_children: indexes.length + 1 }, baseLeaves[keyIndex]!, ...indexes.map((i) => leaves[i]!)];
  const [baseFd, sourceFd] = [openSync(base.file, 'r'), openSync(source.file, 'r')];
  const out = new ChunkFileWriter(target);
  try {
    const padded = (i: number) => (empty ? out.nullChunk(leaves[i]!.name, leaves[i]!.type!, rows) : out.copyChunkPadded(sourceFd, source.metadata.row_groups[0]!.columns[i]!, before, after));
    const columns = [out.copyChunk(baseFd, base.metadata.row_groups[0]!.columns[keyIndex]!), ...indexes.map(padded)];
    const rowGroup = {
      columns,
      total_byte_size: columns.reduce((n, c) => n + BigInt(c.meta_data!.total_uncompressed_size), 0n),
      num_rows: BigInt(rows),
      file_offset: columns[0]!.file_offset,
      total_compressed_size: BigInt(out.offset - Number(columns[0]!.file_offset)),
    } as FileMetaData['row_groups'][number];
    return out.finish(schema, [rowGroup], 'bqx pad');
  } finally {
    out.close();
    closeSync(baseFd);
    closeSync(sourceFd);
  }
}
