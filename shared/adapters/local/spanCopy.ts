// Copies byte ranges of open files into an open file at offsets known beforehand, a few at a time
// on libuv's threads: each range is read into a buffer of its own and written from it, so the
// reads of the next ranges go on while one is written, and every source page is read once.
//
// Why not one read and one write after the other on the main thread (as parquetStitch.ts did):
// past the page cache the merge waited on each read, then on each write, and took 1.67x the time
// of reading and writing its bytes in 8 MB blocks (177,748 rows). A read-ahead that read the next
// ranges into the page cache for the synchronous copy to read again helped that merge but made the
// run slower on a smaller machine: a page read twice is promoted in the page cache, and the
// checkpoints, never read again, evicted the output the profile reads next (bench/HISTORY.md).

import { read, write } from 'node:fs';
import { promisify } from 'node:util';

const readAt = promisify(read);
const writeAt = promisify(write);

/** Bytes [start, start + length) of an open file. */
export interface SpanRange {
  from: number;
  start: number;
  length: number;
  /** The source's name, for errors. */
  file?: string;
}

/**
 * Bytes [start, start + length) of the open file `from`, to go at `at` in the target; or, with
 * `gather`, `length` bytes made of slices of several ranges in another order (files joined page for
 * page: each column's chunk from every file in turn), each range read once, then written at once.
 */
export interface SpanCopy extends SpanRange {
  at: number;
  gather?: {
    reads: SpanRange[];
    /** The bytes to write, in order: `length` bytes from `offset` of read `read`. */
    order: { read: number; offset: number; length: number }[];
  };
}

/**
 * Copies `spans` into the open file `to`, `inFlight` spans at a time (each slot a read, then a
 * write, with its own buffer: memory is `inFlight` times the largest span). They are started in
 * order. On a failure no further span is started; the error is thrown once those under way end.
 */
export async function copySpans(to: number, spans: readonly SpanCopy[], inFlight: number): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const slot = async (): Promise<void> => {
    let buffer = Buffer.allocUnsafe(0);
    let gathered = Buffer.allocUnsafe(0);
    while (failure === undefined && next < spans.length) {
      const span = spans[next++]!;
      const reads = span.gather?.reads ?? [span];
      const readBytes = reads.reduce((n, r) => n + r.length, 0);
      // Not zero-filled: every byte written is read into first.
      if (buffer.length < readBytes) buffer = Buffer.allocUnsafe(readBytes);
      try {
        const starts: number[] = [];
        let into = 0;
        for (const r of reads) {
          starts.push(into);
          await readRange(r, buffer, into);
          into += r.length;
        }
        let out = buffer;
        if (span.gather) {
          if (gathered.length < span.length) gathered = Buffer.allocUnsafe(span.length);
          out = gathered;
          let at = 0;
          for (const o of span.gather.order) at += buffer.copy(out, at, starts[o.read]! + o.offset, starts[o.read]! + o.offset + o.length);
          if (at !== span.length) throw new Error(`a gathered span of ${span.length} bytes was given ${at}`);
        }
        for (let done = 0; done < span.length; ) {
          const { bytesWritten } = await writeAt(to, out, done, span.length - done, span.at + done);
          done += bytesWritten;
        }
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, spans.length)) }, slot));
  if (failure) throw failure.error;
}

/** Reads all of `r` into `buffer` from `at`. */
async function readRange(r: SpanRange, buffer: Buffer, at: number): Promise<void> {
  for (let done = 0; done < r.length; ) {
    const { bytesRead } = await readAt(r.from, buffer, at + done, r.length - done, r.start + done);
    if (bytesRead === 0) throw new Error(`${r.file ?? 'a source'} ends before byte ${r.start + r.length} (reading bytes ${r.start}-${r.start + r.length})`);
    done += bytesRead;
  }
}
