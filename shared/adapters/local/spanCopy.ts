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

/** Bytes [start, start + length) of the open file `from`, to go at `at` in the target. */
export interface SpanCopy {
  from: number;
  start: number;
  length: number;
  at: number;
  /** The source's name, for errors. */
  file?: string;
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
    while (failure === undefined && next < spans.length) {
      const span = spans[next++]!;
      // Not zero-filled: every byte written is read into first.
      if (buffer.length < span.length) buffer = Buffer.allocUnsafe(span.length);
      try {
        for (let done = 0; done < span.length; ) {
          const { bytesRead } = await readAt(span.from, buffer, done, span.length - done, span.start + done);
          if (bytesRead === 0) throw new Error(`${span.file ?? 'a source'} ends before byte ${span.start + span.length} (reading bytes ${span.start}-${span.start + span.length})`);
          done += bytesRead;
        }
        for (let done = 0; done < span.length; ) {
          const { bytesWritten } = await writeAt(to, buffer, done, span.length - done, span.at + done);
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
