// `bqx run` with a stopwatch on the engine: the same main() the bqx command runs, with
// DuckDbWarehouse.extract, .merge, .profile and .compareColumns wrapped (in this process only) to
// record when each call starts and ends. Orchestration overhead = the run's wall time outside any
// engine call. (The profile's two calls joined the run after this measure was first written; until
// 2026-12-02 they were counted as overhead.)
// It runs the precompiled CLI (dist/cli, `npm run build:cli`, which `npm run bench` runs first
// when stale), as `bqx` does after `npm ci`: the sources through tsx, in every worker thread too,
// took about 1.5 times as long, and its figures would not be the command's.
// Usage: node --import tsx bench/bqx-timed.ts --home DIR --rows N [--pair eurusd]

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { compiledMain } from '../shared/cli/compiled.cjs';
import { flags, peakRssMb, RESULT_PREFIX, type E2eResult } from './common.js';
import { REPO_ROOT } from './setid.js';

const mainJs = compiledMain(REPO_ROOT);
if (!mainJs) throw new Error('the precompiled CLI is missing or older than the sources: npm run build:cli');
const built = (module: string) => pathToFileURL(path.join(path.dirname(path.dirname(mainJs)), module)).href;
const { DuckDbWarehouse } = (await import(built('adapters/local/duckdbWarehouse.js'))) as typeof import('../shared/adapters/local/duckdbWarehouse.js');
const { main } = (await import(built('cli/main.js'))) as typeof import('../shared/cli/main.js');

type Span = [number, number];
const spans: { extract: Span[]; merge: Span[]; profile: Span[] } = { extract: [], merge: [], profile: [] };
const now = () => Number(process.hrtime.bigint()) / 1e9;

for (const [method, span] of [['extract', 'extract'], ['merge', 'merge'], ['profile', 'profile'], ['compareColumns', 'profile']] as const) {
  const original = DuckDbWarehouse.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  (DuckDbWarehouse.prototype as unknown as Record<string, unknown>)[method] = async function (this: import('../shared/adapters/local/duckdbWarehouse.js').DuckDbWarehouse, ...args: unknown[]) {
    const start = now();
    try {
      return await original.apply(this, args);
    } finally {
      spans[span].push([start, now()]);
    }
  };
}

/** Total length of the union of intervals. */
function busy(list: Span[]): number {
  const sorted = [...list].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}
const sum = (list: Span[]) => list.reduce((s, [a, b]) => s + (b - a), 0);

const f = flags();
const home = f.get('home');
const rows = f.get('rows');
if (!home || !rows) throw new Error('usage: bqx-timed.ts --home DIR --rows N');
process.env.BQX_HOME = home;

// Capture the --json summary main() prints to stdout.
let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return true;
}) as typeof process.stdout.write;

const began = now();
// --no-reuse: every round measures a full build, not a run that reuses the last round's checkpoints.
const code = await main(['run', f.get('pair') ?? 'eurusd', '--rows', rows, '--json', '--quiet', '--force', '--no-reuse']);
const wall = now() - began;
process.stdout.write = write;

const summary = JSON.parse(captured.trim().split('\n').pop() ?? '{}') as {
  runId: string;
  status: string;
  error?: string;
  timings: Record<string, number>;
  output: { rows: number; columns: number };
};
const result: Omit<E2eResult, 'process_wall_s'> & { code: number } = {
  code,
  wall_s: wall,
  engine_busy_s: busy([...spans.extract, ...spans.merge, ...spans.profile]),
  extract_busy_s: busy(spans.extract),
  merge_busy_s: busy(spans.merge),
  profile_busy_s: busy(spans.profile),
  extract_sum_s: sum(spans.extract),
  merge_sum_s: sum(spans.merge),
  extract_calls: spans.extract.length,
  timings: summary.timings,
  peak_rss_mb: peakRssMb(),
  status: summary.status,
  ...(summary.error ? { error: summary.error } : {}),
  runId: summary.runId,
  rows: summary.output?.rows ?? 0,
  columns: summary.output?.columns ?? 0,
};
process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify(result)}\n`);
process.exit(code);
