// The benchmark set's identity: a hash of what shapes it (rows, pair, the demo generator's code),
// so a set is built once per parameter set and reused after, and a changed generator rebuilds.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_ROOT = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.dirname(BENCH_ROOT);
export const DATA_ROOT = path.join(BENCH_ROOT, 'data');
export const SET_VERSION = 1;

export function setId(rows: number, pair = 'eurusd'): string {
  const generator = ['shared/demo/generate.ts', 'shared/demo/names.ts'].map((f) => readFileSync(path.join(REPO_ROOT, f), 'utf8')).join('\n');
  const hash = createHash('sha256').update(JSON.stringify({ version: SET_VERSION, pair, rows, generator })).digest('hex').slice(0, 12);
  return `${pair}-${rows}-${hash}`;
}

export function setDir(rows: number, pair = 'eurusd'): string {
  return path.join(DATA_ROOT, setId(rows, pair));
}
