// Logs: one JSON object per line with severity, message and the run's labels, as Cloud Logging
// reads them. Named helpers for the events that matter keep call sites short and greppable.

import type { Clock, LogFields, Logger } from './ports.js';

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;
const SEVERITY = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' } as const;
export type Level = keyof typeof LEVELS;

/** A logger writing JSON lines to `write` (stdout by default), at or above `level`; `write` is told each line's level too. */
export function jsonLogger(
  level: Level = 'info',
  write: (line: string, at: Level) => void = (line) => process.stdout.write(line + '\n'),
  base: LogFields = {},
): Logger & { child(fields: LogFields): Logger } {
  const emit = (at: Level) => (message: string, fields: LogFields = {}) => {
    if (LEVELS[at] < LEVELS[level]) return;
    write(JSON.stringify({ severity: SEVERITY[at], message, time: new Date().toISOString(), ...base, ...fields }, jsonSafe), at);
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => jsonLogger(level, write, { ...base, ...fields }),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export const systemClock: Clock = { now: () => new Date() };

/** The message of anything thrown, on one line. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0]!.trim();
}
