// A command's log file (BQX_HOME/logs/bqx.log): JSON lines (shared/log.ts) appended through one
// write stream, written together. INFO and DEBUG lines wait up to LOG_FLUSH_MS after the first of
// them; a warning or an error goes out at the next turn of the event loop, with the lines before
// it. A write a line was about 0.3 s of the chain's thread in a refresh's 2,700 lines, and a write
// a turn of the loop still 0.14 s of its extract (most lines come one a turn, as checkpoints land).

import { createWriteStream, renameSync, statSync } from 'node:fs';
import { jsonLogger, type Level } from '../log.js';
import type { Logger } from '../ports.js';

/** How long an INFO line may wait in memory for the lines after it. */
export const LOG_FLUSH_MS = 100;

export interface LogFile {
  logger: Logger;
  /** Writes what waits and closes the file. */
  end(): Promise<void>;
}

/**
 * Past this size the log is set aside as `bqx.log.1` (the one set aside before is replaced) when a
 * command opens it: a run writes about 0.3 MB of lines (20,000 rows, 667 tables), so a pair
 * refreshed daily would otherwise grow the home by a gigabyte every few years, with nothing removing it.
 */
export const LOG_ROTATE_BYTES = 16 * 2 ** 20;

/** Appends `file` at `level` and above; `echo` (stderr when verbose) gets every line at once. */
export function openLogFile(file: string, level: Level, echo?: (line: string) => void, rotateBytes = LOG_ROTATE_BYTES): LogFile {
  const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  if (size > rotateBytes) renameSync(file, `${file}.1`);
  const stream = createWriteStream(file, { flags: 'a' });
  let lines: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Immediate | undefined;
  const flush = () => {
    clearTimeout(timer);
    clearImmediate(soon);
    timer = soon = undefined;
    if (lines.length > 0) stream.write(lines.join(''));
    lines = [];
  };
  const logger = jsonLogger(level, (line, at) => {
    lines.push(`${line}\n`);
    if (at === 'info' || at === 'debug') timer ??= setTimeout(flush, LOG_FLUSH_MS);
    else soon ??= setImmediate(flush);
    echo?.(line);
  });
  return {
    logger,
    end: () => {
      flush();
      return new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}
