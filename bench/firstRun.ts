// The first run as a newcomer has it: `npm start` (= `bqx run eurusd` through the bin) in an empty
// BQX_HOME, so the demo warehouse is built at its default size and then the run goes through.
// One process, as npm start runs it; the demo build is read from the summary it prints, so the
// bench reports the build and the run apart. Goal (issue 12): at most 60 s on 2 cores.

import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunSummary } from '../shared/cli/summary.js';
import { compiledMain } from '../shared/cli/compiled.mjs';
import { runChild } from './common.js';
import { BENCH_ROOT, REPO_ROOT } from './setid.js';

export interface FirstRun {
  ok: boolean;
  error?: string;
  /** The process from spawn to exit: what a user waits (npm's own start-up aside). */
  wall_s: number;
  /** The demo build inside it, as its summary reports it. */
  demo_build_s: number | null;
  /** The rest: the run itself, with node's start-up and the warehouse's close. */
  run_s: number | null;
  peak_rss_mb: number;
  rows: number;
  columns: number;
  /** The run's own phase timings (ms), from its --json summary. */
  timings: Record<string, number>;
  compiled_cli: boolean;
  load1_before: number;
}

export async function measureFirstRun(options: { memCapMb: number; timeoutS: number }): Promise<FirstRun> {
  const home = path.join(BENCH_ROOT, 'data', 'first-run-home');
  await fs.rm(home, { recursive: true, force: true });
  await fs.mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, BQX_HOME: home };
  for (const name of ['BQX_DEMO_ROWS', 'BQX_PROFILE', 'BQX_MERGE_MEMORY_MB', 'BQX_EXTRACT_CONCURRENCY']) delete env[name]; // the defaults a newcomer has
  const load1 = Math.round(os.loadavg()[0]! * 1000) / 1000;
  try {
    const child = await runChild('', [], { argv: [path.join(REPO_ROOT, 'shared', 'cli', 'bqx.mjs'), 'run', 'eurusd', '--json'], env, memCapMb: options.memCapMb, timeoutS: options.timeoutS });
    const wall = round3(child.process_wall_s);
    const peak = Math.round(child.observed_peak_mb);
    const line = child.stdout.trim().split('\n').pop() ?? '';
    let summary: RunSummary | undefined;
    try {
      summary = JSON.parse(line) as RunSummary;
    } catch {
      summary = undefined;
    }
    const demo = /demo build\s+([\d.]+) s/.exec(child.stderr);
    const demoS = demo ? Number(demo[1]) : null;
    const ok = child.code === 0 && !child.killed && summary?.status === 'succeeded' && demoS !== null;
    return {
      ok,
      ...(ok ? {} : { error: child.killed ?? `exit ${child.code}: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}` }),
      wall_s: wall,
      demo_build_s: demoS,
      run_s: demoS === null ? null : round3(wall - demoS),
      peak_rss_mb: peak,
      rows: summary?.output.rows ?? 0,
      columns: summary?.output.columns ?? 0,
      timings: summary?.timings ?? {},
      compiled_cli: compiledMain(REPO_ROOT) !== null,
      load1_before: load1,
    };
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
