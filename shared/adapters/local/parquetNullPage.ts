// A parquet data page of nothing but nulls, in the page format and codec of the column chunk it
// joins, so a checkpoint whose rows are a contiguous run of the label keys (a feature that starts
// late or ends early in a shard) can be lined up with them by adding null rows before or after its
// own pages, copied byte for byte, instead of decoding and re-encoding it (parquetStitch.ts
// `padParquet`). Written by hand because no library here writes a single page: the header is
// hyparquet-writer's; the body is the v1 page's definition levels (a 4-byte length, then one RLE
// run of N zeros: "not defined"), no values; the codec is ZSTD's stored mode (a frame holding one
// raw block), since Node 20's zlib has no zstd compressor, or no compression at all.

import { ByteWriter } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import type { CompressionCodec } from 'hyparquet';

/** Codecs a null page can be written in. */
export const NULL_PAGE_CODECS: readonly CompressionCodec[] = ['UNCOMPRESSED', 'ZSTD'];

/** An unsigned LEB128 varint (the RLE run header). */
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A zstd frame holding `data` as one raw (stored) block: magic, single-segment header with a one-byte content size, block header, bytes. */
function zstdStored(data: Uint8Array): Uint8Array {
  if (data.length > 255) throw new Error('a stored zstd frame here holds at most 255 bytes');
  const block = (data.length << 3) | 1; // last block, type raw (0), size
  return Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length, block & 0xff, (block >> 8) & 0xff, (block >> 16) & 0xff, ...data]);
}

/**
 * The bytes of one DATA_PAGE (v1) holding `rows` nulls of a flat OPTIONAL column (maximum
 * definition level 1), compressed with `codec`; and its uncompressed size with the header, for
 * the chunk's total_uncompressed_size.
 */
export function nullPage(rows: number, codec: CompressionCodec): { bytes: Uint8Array; uncompressed: number } {
  if (!NULL_PAGE_CODECS.includes(codec)) throw new Error(`no null page in ${codec}`);
  if (!Number.isSafeInteger(rows) || rows <= 0) throw new Error(`a null page holds at least one row, not ${rows}`);
  const levels = [...varint(rows * 2), 0]; // RLE run: header (count << 1), then the value 0 in one byte (bit width 1)
  const body = Uint8Array.from([levels.length & 0xff, (levels.length >> 8) & 0xff, 0, 0, ...levels]);
  const stored = codec === 'ZSTD' ? zstdStored(body) : body;
  const header = new ByteWriter();
  writePageHeader(header, {
    type: 'DATA_PAGE',
    uncompressed_page_size: body.length,
    compressed_page_size: stored.length,
    data_page_header: { num_values: rows, encoding: 'PLAIN', definition_level_encoding: 'RLE', repetition_level_encoding: 'RLE' },
  });
  const head = new Uint8Array(header.getBuffer());
  const bytes = new Uint8Array(head.length + stored.length);
  bytes.set(head);
  bytes.set(stored, head.length);
  return { bytes, uncompressed: head.length + body.length };
}
