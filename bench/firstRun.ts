// The first run as a newcomer has it: `npm ci` in a fresh clone of the repository (freshInstall),
// then `npm start` (= `bqx run eurusd` through the bin) in an empty BQX_HOME, so the demo warehouse
// is built at its default size and then the run goes through. One process, as npm start runs it;
// the demo build is read from the summary it prints, so the bench reports the install, the build
// and the run apart. Goal (issue 12): `npm ci && npm start` at most 60 s on 2 cores.

import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunSummary } from '../shared/cli/summary.js';
import { compiledMain } from '../shared/cli/compiled.cjs';
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

/** `npm ci` in a fresh clone: the other part of what a newcomer waits before the first run. */
export interface FreshInstall {
  ok: boolean;
  error?: string;
  /** The commit cloned (the repository's HEAD: uncommitted changes are not in it). */
  commit: string;
  /** `npm ci --no-audit --no-fund` in the clone, from spawn to exit (npm's cache as this machine has it). */
  install_s: number;
  /** The clone's folder (its repository is `<dir>/bqx`, `../shared` copied beside it); the caller removes it. */
  dir: string;
  root: string;
}

/**
 * Clones this repository's HEAD into a fresh folder, with `../shared` beside it as CI has it, and
 * runs `npm ci` there, timed. Its own `prepare` compiles the clone's CLI, as a newcomer's does.
 */
export async function freshInstall(): Promise<FreshInstall> {
  const dir = path.join(BENCH_ROOT, 'data', 'fresh-clone');
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const root = path.join(dir, 'bqx');
  const commit = String(spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout).trim();
  const clone = spawnSync('git', ['clone', '--quiet', REPO_ROOT, root], { encoding: 'utf8' });
  if (clone.status !== 0) return { ok: false, error: `git clone: ${clone.stderr.trim()}`, commit, install_s: 0, dir, root };
  const shared = path.join(REPO_ROOT, '..', 'shared');
  if (existsSync(shared)) await fs.cp(shared, path.join(dir, 'shared'), { recursive: true });
  const began = process.hrtime.bigint();
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  const seconds = round3(Number(process.hrtime.bigint() - began) / 1e9);
  if (install.status !== 0) return { ok: false, error: `npm ci: exit ${install.status}: ${String(install.stderr).trim().split('\n').slice(-3).join(' | ')}`, commit, install_s: seconds, dir, root };
  return { ok: true, commit, install_s: seconds, dir, root };
}

/** `npm start` in an empty home, from the repository at `root` (this one unless given: a fresh clone's, freshInstall). */
export async function measureFirstRun(options: { memCapMb: number; timeoutS: number; root?: string }): Promise<FirstRun> {
  const root = options.root ?? REPO_ROOT;
  const home = path.join(BENCH_ROOT, 'data', 'first-run-home');
  await fs.rm(home, { recursive: true, force: true });
  await fs.mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, BQX_HOME: home };
  for (const name of ['BQX_DEMO_ROWS', 'BQX_PROFILE', 'BQX_MERGE_MEMORY_MB', 'BQX_EXTRACT_CONCURRENCY']) delete env[name]; // the defaults a newcomer has
  const load1 = Math.round(os.loadavg()[0]! * 1000) / 1000;
  try {
    const child = await runChild('', [], { argv: [path.join(root, 'shared', 'cli', 'bqx.mjs'), 'run', 'eurusd', '--json'], env, memCapMb: options.memCapMb, timeoutS: options.timeoutS });
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
      compiled_cli: compiledMain(root) !== null,
      load1_before: load1,
    };
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
