// Stitches parquet files side by side without decoding them: when every source holds the same
// rows in the same order with the same row-group boundaries, an output row group is the sources'
// column chunks copied byte for byte, and only the footer is new. The work is the I/O of the data
// once, and memory is one column chunk at a time, whatever the row count.

import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { parquetMetadata, type ColumnChunk, type FileMetaData, type SchemaElement } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';

const MAGIC = Buffer.from('PAR1');

/** Reads the footer of a local parquet file. */
export function readLocalFooter(file: string): { metadata: FileMetaData; bytes: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const tail = Buffer.alloc(8);
    readSync(fd, tail, 0, 8, size - 8);
    if (!tail.subarray(4).equals(MAGIC)) throw new Error(`${file} is not a parquet file`);
    const length = tail.readUInt32LE(0);
    const footer = Buffer.alloc(length + 8);
    readSync(fd, footer, 0, length + 8, size - length - 8);
    const metadata = parquetMetadata(footer.buffer.slice(footer.byteOffset, footer.byteOffset + footer.length) as ArrayBuffer);
    return { metadata, bytes: size };
  } finally {
    closeSync(fd);
  }
}

export function rowGroupSizes(metadata: FileMetaData): number[] {
  return metadata.row_groups.map((g) => Number(g.num_rows));
}

/** Byte range [start, start + length) of a column chunk (dictionary page first, if any). */
export function chunkRange(chunk: ColumnChunk): { start: number; length: number } {
  const m = chunk.meta_data;
  if (!m) throw new Error('column chunk without metadata');
  const start = Number(m.dictionary_page_offset ?? m.data_page_offset);
  return { start, length: Number(m.total_compressed_size) };
}

/** Reads one column chunk's bytes from an open file. */
export function readChunk(fd: number, chunk: ColumnChunk, into?: Buffer): Buffer {
  const { start, length } = chunkRange(chunk);
  const buffer = into && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, start + done);
    if (n === 0) throw new Error('unexpected end of file reading a column chunk');
    done += n;
  }
  return buffer;
}

/**
 * Writes `parts` one after the other as one parquet file: every row group of every part, its
 * column chunks copied byte for byte, and a new footer. Every part must have the same schema.
 */
export function concatParquet(parts: { file: string; metadata: FileMetaData }[], target: string): StitchResult {
  if (parts.length === 0) throw new Error('nothing to concatenate');
  const schema = parts[0]!.metadata.schema;
  const shape = (m: FileMetaData) => JSON.stringify(m.schema, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  for (const p of parts) if (shape(p.metadata) !== shape(parts[0]!.metadata)) throw new Error(`${p.file} has another schema than ${parts[0]!.file}`);
  const out = openSync(target, 'w');
  let offset = 0;
  const write = (bytes: Uint8Array) => {
    let done = 0;
    while (done < bytes.length) done += writeSync(out, bytes, done, bytes.length - done);
    offset += bytes.length;
  };
  let scratch = Buffer.alloc(1 << 20);
  const rowGroups: FileMetaData['row_groups'] = [];
  let rows = 0n;
  try {
    write(MAGIC);
    for (const part of parts) {
      const fd = openSync(part.file, 'r');
      try {
        for (const group of part.metadata.row_groups) {
          const start = offset;
          const columns = group.columns.map((chunk) => {
            const range = chunkRange(chunk);
            if (scratch.length < range.length) scratch = Buffer.alloc(range.length);
            const at = BigInt(offset);
            write(readChunk(fd, chunk, scratch));
            const m = chunk.meta_data!;
            const shift = (value: bigint | undefined) => (value === undefined ? undefined : at + (BigInt(value) - BigInt(range.start)));
            return {
              file_offset: at,
              meta_data: { ...m, data_page_offset: shift(m.data_page_offset)!, dictionary_page_offset: shift(m.dictionary_page_offset), index_page_offset: undefined, bloom_filter_offset: undefined, bloom_filter_length: undefined },
            } as ColumnChunk;
          });
          rowGroups.push({ ...group, columns, file_offset: BigInt(start), total_compressed_size: BigInt(offset - start) } as FileMetaData['row_groups'][number]);
          rows += BigInt(group.num_rows);
        }
      } finally {
        closeSync(fd);
      }
    }
    const footer = new ByteWriter();
    writeMetadata(footer, { version: 1, schema, num_rows: rows, row_groups: rowGroups, created_by: 'bqx concat' } as FileMetaData);
    write(new Uint8Array(footer.getBuffer()));
    write(MAGIC);
  } finally {
    closeSync(out);
  }
  return { file: target, rows: Number(rows), bytes: offset };
}

export interface StitchSource {
  file: string;
  metadata: FileMetaData;
  /** Columns to take, in output order: the source's column name and its name in the output. */
  columns: { source: string; output: string }[];
}

export interface StitchResult {
  file: string;
  rows: number;
  bytes: number;
}

/**
 * Writes `sources` side by side into parquet files of at most about `partBytes` each (split at row
 * group boundaries), naming them with `partFile(i)`. Every source must have the same row groups.
 */
export function stitchParquet(sources: StitchSource[], partFile: (part: number) => string, partBytes = 1 << 30): StitchResult[] {
  if (sources.length === 0) throw new Error('nothing to stitch');
  const groups = rowGroupSizes(sources[0]!.metadata);
  for (const s of sources) {
    if (rowGroupSizes(s.metadata).join() !== groups.join()) throw new Error(`${s.file} has row groups ${rowGroupSizes(s.metadata).join('/')}, expected ${groups.join('/')}`);
  }
  // Resolve each output column to (source, column index, schema element) once.
  const plan = sources.flatMap((s, si) => {
    const leaves = s.metadata.schema.slice(1);
    return s.columns.map((c) => {
      const index = leaves.findIndex((e) => e.name === c.source);
      if (index < 0) throw new Error(`${s.file} has no column ${c.source}`);
      if (leaves.some((e) => e.num_children)) throw new Error(`${s.file} has nested columns`);
      return { source: si, index, element: { ...leaves[index]!, name: c.output } as SchemaElement };
    });
  });
  const schema: SchemaElement[] = [{ name: 'schema', repetition_type: 'REQUIRED', num_children: plan.length }, ...plan.map((p) => p.element)];

  const fds = sources.map((s) => openSync(s.file, 'r'));
  const results: StitchResult[] = [];
  let scratch = Buffer.alloc(1 << 20);
  try {
    let g = 0;
    while (g < groups.length) {
      const file = partFile(results.length);
      const out = openSync(file, 'w');
      let offset = 0;
      const write = (bytes: Uint8Array) => {
        let done = 0;
        while (done < bytes.length) done += writeSync(out, bytes, done, bytes.length - done);
        offset += bytes.length;
      };
      try {
        write(MAGIC);
        const rowGroups: FileMetaData['row_groups'] = [];
        let rows = 0;
        // At least one row group per part; then more while the part stays under partBytes.
        do {
          const start = offset;
          let uncompressed = 0n;
          const columns: ColumnChunk[] = plan.map((p) => {
            const chunk = sources[p.source]!.metadata.row_groups[g]!.columns[p.index]!;
            const range = chunkRange(chunk);
            if (scratch.length < range.length) scratch = Buffer.alloc(range.length);
            const at = BigInt(offset);
            write(readChunk(fds[p.source]!, chunk, scratch));
            const m = chunk.meta_data!;
            const shift = (value: bigint | undefined) => (value === undefined ? undefined : at + (BigInt(value) - BigInt(range.start)));
            uncompressed += BigInt(m.total_uncompressed_size);
            return {
              file_offset: at,
              meta_data: {
                ...m,
                path_in_schema: [p.element.name],
                data_page_offset: shift(m.data_page_offset)!,
                dictionary_page_offset: shift(m.dictionary_page_offset),
                index_page_offset: undefined,
                bloom_filter_offset: undefined,
                bloom_filter_length: undefined,
              },
            } as ColumnChunk;
          });
          const numRows = groups[g]!;
          rowGroups.push({
            columns,
            total_byte_size: uncompressed,
            num_rows: BigInt(numRows),
            file_offset: BigInt(start),
            total_compressed_size: BigInt(offset - start),
          } as FileMetaData['row_groups'][number]);
          rows += numRows;
          g++;
        } while (g < groups.length && offset < partBytes);
        const footer = new ByteWriter();
        writeMetadata(footer, { version: 1, schema, num_rows: BigInt(rows), row_groups: rowGroups, created_by: 'bqx stitch' } as FileMetaData);
        write(new Uint8Array(footer.getBuffer()));
        write(MAGIC);
        results.push({ file, rows, bytes: offset });
      } finally {
        closeSync(out);
      }
    }
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  return results;
}
