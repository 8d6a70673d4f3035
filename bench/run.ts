// npm run bench: the local merge against its peers on data of the real shape.
//
//   npm run bench -- [--rows 20000] [--rounds 3] [--only merge,polars,duckdb-join,floor,e2e,first-run]
//   npm run bench -- --only views [--rows 20000] [--out bench/results/views-20000.json]   (bench/views.ts)
//   npm run bench -- --only freshness [--rows 20000] [--rounds 3] [--out bench/results/freshness-20000.json]   (bench/freshness.ts)
//   npm run bench -- --only first-run [--no-clone] [--out bench/results/first-run.json]   (no benchmark set needed)
//                    [--out bench/results/latest.json] [--rebuild] [--cold] [--mem-cap-mb N]
//                    [--join-memory-mb 8192] [--join-timeout-s 300] [--e2e-rounds = --rounds]
//                    [--machine-memory-mb N [--read-mbps M]]   (e2e as on a smaller machine: confine.ts)
//
// 1. Builds (or reuses, by a hash of its parameters) the benchmark set at --rows (set.ts).
// 2. Runs the contenders, each in its own process, in alternation over --rounds rounds (the order
//    rotates each round): (a) merge: DuckDbWarehouse.merge as `bqx run` uses it; (b) polars: the
//    Polars peer (aligned + horizontal concat, zstd); (c) duckdb-join: one query of 667 LEFT
//    JOINs under a memory_limit and a time cap; (d) floor: read every input once, write as much.
//    Each child reports its own wall time and peak RSS (maxRSS at exit); the bench also watches
//    every child's memory and kills one that passes --mem-cap-mb (recorded as failed, with why).
//    Before each child (and each timed step below): sync, then, on a kernel that hands freed
//    memory back to its host, a wait until it has (memoryTouch.ts), so no child writes into
//    pages another one freed a moment before while its rival met pages the host took back.
// 3. e2e: `bqx run` end to end in a fresh BQX_HOME (the demo warehouse copied in), with the time
//    spent inside warehouse.extract/merge measured (bench/bqx-timed.ts), against one bulk copy of
//    the same tables (bench/bulk-copy.ts).
// 4. first-run: `npm start` as a newcomer runs it, in an empty BQX_HOME at the default demo size
//    (bench/firstRun.ts): the demo build and the run apart, and the whole wall time. Alone
//    (`--only first-run`), first `npm ci` in a fresh clone of HEAD, and npm start from that clone.
// 5. The quick commands' start-up (bench/quick.ts), and this row count's point of the scaling
//    curve (bench/scaling.ts: bench/results/scaling.json and the chart scaling.svg). The 177,748-
//    and 1,000,000-row points are on request: --rows 177748 and --rows 1000000. A set is built only
//    with about 0.4 MiB a row free (setNeed below: 69 GiB and 391 GiB); otherwise the bench refuses.
// Prints a table and writes the results JSON (default bench/results/latest.json).

import { existsSync, promises as fs, readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evictInputs, flags, linkTree, median, runChild, du, type BenchSet, type ChildResult, type E2eResult } from './common.js';
import { ensureCompiledCli } from './cliBuild.js';
import { freshInstall, measureFirstRun, type FirstRun } from './firstRun.js';
import { describePageTouch, describeSettled, pageTouchMicros, reportsFreedMemory, settleBeforeStep as settle, type MemorySettled } from './memoryTouch.js';
import { measureQuick } from './quick.js';
import { linearity, recordScalingPoint, SCALING_SVG } from './scaling.js';
import { dropPageCache, prepareConfinement, removeConfinement } from './confine.js';
import { ensureSet, runTimedBqx } from './set.js';
import { BENCH_ROOT, DATA_ROOT, REPO_ROOT, setDir } from './setid.js';

const CONTENDERS = {
  merge: { script: 'contender-merge.ts', label: 'bqx merge (a)' },
  polars: { script: 'contender-polars.ts', label: 'polars peer (b)' },
  'duckdb-join': { script: 'contender-duckdb-join.ts', label: 'duckdb 667-join (c)' },
  floor: { script: 'contender-floor.ts', label: 'floor: read+write (d)' },
} as const;
type Name = keyof typeof CONTENDERS;
const NAMES = Object.keys(CONTENDERS) as Name[];

/** A bad flag or a machine that cannot hold the set: one line and exit 2, before any work (no stack: nothing failed). */
function refuse(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const f = flags();
const rows = Number(f.get('rows') ?? 20_000);
const rounds = Number(f.get('rounds') ?? 3);
const STEPS = ['e2e', 'first-run'];
const only = new Set((f.get('only') ?? [...NAMES, ...STEPS].join(',')).split(',').map((s) => s.trim()));
// Checked before any branch: --only views and --only freshness take them too.
if (!Number.isSafeInteger(rows) || rows < 3000) refuse('--rows must be a whole number >= 3000 (the demo generator needs it)');
if (!Number.isSafeInteger(rounds) || rounds < 1) refuse('--rounds must be >= 1');
const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
// Every `bqx` the bench starts runs the precompiled CLI, as after `npm ci` (cliBuild.ts).
ensureCompiledCli(log);
if (only.has('views')) {
  // Issue 10's goals on their own home (bench/views.ts): not combined with the merge contenders.
  if (only.size > 1) refuse('--only views runs alone');
  const { benchViews } = await import('./views.js');
  const result = await benchViews(rows, log, Number(f.get('mem-cap-mb') ?? 14_336));
  const out = path.resolve(REPO_ROOT, f.get('out') ?? path.join('bench', 'results', `views-${rows}.json`));
  await fs.writeFile(out, JSON.stringify({ ...result, finished_at: new Date().toISOString(), load1: os.loadavg()[0] }, null, 1));
  process.stdout.write(`${JSON.stringify(result, null, 1)}\nwritten: ${path.relative(process.cwd(), out)}\n`);
  process.exit(0);
}
if (only.has('freshness')) {
  // Issue 9's goals (reuse, touch, refresh, retention) on their own home (bench/freshness.ts).
  if (only.size > 1) refuse('--only freshness runs alone');
  const { benchFreshness } = await import('./freshness.js');
  const { fileSystemOf } = await import('./fileSystem.js');
  const fsOf = fileSystemOf(DATA_ROOT);
  if (fsOf) log(`data on ${fsOf.device} at ${fsOf.mount}: ${fsOf.type}${fsOf.journal === false ? ' without a journal (a new file is slow for a minute after removals)' : fsOf.journal ? ' with a journal' : ''}`);
  const pageTouch = pageTouchMicros();
  log(describePageTouch(pageTouch));
  const result = await benchFreshness(rows, log, rounds);
  const out = path.resolve(REPO_ROOT, f.get('out') ?? path.join('bench', 'results', `freshness-${rows}.json`));
  await fs.writeFile(out, JSON.stringify({ ...result, finished_at: new Date().toISOString(), load1: os.loadavg()[0], file_system: fsOf ?? null, page_touch_us: pageTouch }, null, 1));
  process.stdout.write(`${JSON.stringify(result, null, 1)}\nwritten: ${path.relative(process.cwd(), out)}\n`);
  process.exit(0);
}
if (only.size === 1 && only.has('first-run')) {
  // The first run and the quick commands alone: no benchmark set is needed.
  const load1 = os.loadavg()[0];
  // The goal is `npm ci && npm start` from a fresh clone: both are measured there, unless --no-clone
  // (then npm start runs from this tree, and the goal is left unmeasured).
  const clone = f.has('no-clone') ? undefined : (log('fresh clone: git clone of HEAD, then npm ci ...'), await freshInstall());
  if (clone && !clone.ok) throw new Error(`fresh clone failed: ${clone.error}`);
  let fresh: FirstRun;
  let quick: ReturnType<typeof measureQuick>;
  try {
    log(`first run: bqx run eurusd in an empty BQX_HOME (the demo build included)${clone ? `, from the clone (npm ci took ${clone.install_s} s)` : ''} ...`);
    fresh = await measureFirstRun({ memCapMb: Number(f.get('mem-cap-mb') ?? 14_336), timeoutS: Number(f.get('timeout-s') ?? 3600), ...(clone ? { root: clone.root } : {}) });
    log('quick commands: start-up of bqx --help, status, bad input ...');
    quick = measureQuick();
  } finally {
    if (clone) await fs.rm(clone.dir, { recursive: true, force: true });
  }
  const out = path.resolve(REPO_ROOT, f.get('out') ?? path.join('bench', 'results', 'first-run.json'));
  const whole = clone ? round3(clone.install_s + fresh.wall_s) : null;
  const result = {
    fresh_clone: clone ? { commit: clone.commit, npm_ci_s: clone.install_s, npm_start_s: fresh.wall_s, total_s: whole } : null,
    first_run_fresh_home: fresh,
    quick_commands_s: quick,
    goals: {
      'npm ci && npm start from a fresh clone <= 60 s': whole === null ? null : { value: whole, met: fresh.ok && whole <= 60 },
      'quick commands <= 1 s': { value: Math.max(...Object.values(quick.commands)), met: Math.max(...Object.values(quick.commands)) <= 1 },
    },
    load1_before: load1,
    load1_after: os.loadavg()[0],
    finished_at: new Date().toISOString(),
  };
  await fs.writeFile(out, JSON.stringify(result, null, 1));
  process.stdout.write(`${JSON.stringify(result, null, 1)}\nwritten: ${path.relative(process.cwd(), out)}\n`);
  process.exit(fresh.ok ? 0 : 1);
}
for (const name of only) if (!(name in CONTENDERS) && !STEPS.includes(name)) refuse(`--only: unknown contender ${name} (${[...NAMES, ...STEPS].join(', ')})`);
const memTotalMb = Math.round(os.totalmem() / 2 ** 20);
const memCapMb = Number(f.get('mem-cap-mb') ?? Math.min(14_336, Math.round(memTotalMb * 0.6)));
const joinMemoryMb = Number(f.get('join-memory-mb') ?? 8192);
const joinTimeoutS = Number(f.get('join-timeout-s') ?? 300);
const timeoutS = Number(f.get('timeout-s') ?? 3 * 3600);
const e2eRounds = Number(f.get('e2e-rounds') ?? rounds);
const outFile = path.resolve(REPO_ROOT, f.get('out') ?? path.join('bench', 'results', 'latest.json'));
// --cold: before every contender's round the set's inputs are dropped from the page cache, and
// each contender fsyncs its output inside its timed span (--durable), so the merge and the floor
// read from and write to the disk at every size. Warm, 20,000 rows' 1.9 GiB come from memory
// and 177,748 rows' 16.7 GiB do not: a curve over both measures the cache, not bqx. Cold rounds
// are reported, not recorded in the scaling curve (its points are the default, warm bench).
const cold = f.has('cold');
// --machine-memory-mb N [--read-mbps M]: the e2e rounds in a memory (and read-throttled) control
// group, the page cache dropped before each (confine.ts). Not a scaling point either.
const confined = f.has('machine-memory-mb') ? { memoryMb: Number(f.get('machine-memory-mb')), ...(f.has('read-mbps') ? { readMbps: Number(f.get('read-mbps')) } : {}) } : undefined;
if (confined && (!Number.isSafeInteger(confined.memoryMb) || confined.memoryMb < 512)) refuse('--machine-memory-mb must be a whole number of MB >= 512');
if (confined?.readMbps !== undefined && (!Number.isSafeInteger(confined.readMbps) || confined.readMbps < 1)) refuse('--read-mbps must be a whole number of MB/s >= 1');
if (f.has('read-mbps') && !confined) refuse('--read-mbps goes with --machine-memory-mb');
const freeBytes = () => {
  const s = statfsSync(BENCH_ROOT);
  return s.bavail * s.bsize;
};
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

// Before anything here allocates or frees memory (memoryTouch.ts: why the figure goes with the results).
const pageTouch = pageTouchMicros();
log(describePageTouch(pageTouch));

const setBuiltNow = f.has('rebuild') || !existsSync(path.join(setDir(rows), 'set.json'));
// Building a set holds its input tables, its first run's checkpoints and that run's output at once:
// at 177,748 rows that run ran out of disk with 66 GiB free (2026-12-02), so about 0.4 MiB a row
// is asked for before the demo build spends minutes on a set that cannot finish.
const setNeed = rows * 0.4 * 2 ** 20;
// --rebuild removes the old set first: its bytes count as free.
const reclaimed = f.has('rebuild') ? (await du(setDir(rows))).all : 0;
if (setBuiltNow && freeBytes() + reclaimed < setNeed) refuse(`not enough disk to build the ${rows}-row benchmark set: ${gib(freeBytes() + reclaimed)} free under ${BENCH_ROOT} (with the set --rebuild replaces), about ${gib(setNeed)} needed`);
const set: BenchSet = await ensureSet({ rows, rebuild: f.has('rebuild'), memCapMb, log });
const work = path.join(set.dir, 'work');
const confinement = confined && prepareConfinement(confined, set.dir);
if (confinement) process.on('exit', removeConfinement);

// ---- 2. the contenders, in alternation ----------------------------------------------------
interface Round extends Partial<ChildResult> {
  round: number;
  ok: boolean;
  wall_s: number;
  peak_rss_mb: number;
  process_wall_s: number;
  error?: string;
  /** The machine's 1-minute load average when the child started (other work skews timings). */
  load1_before: number;
  /** The wait before it for freed memory to be handed back to the host (memoryTouch.ts), where the kernel says. */
  memory_settled?: MemorySettled;
}
const runs = new Map<Name, Round[]>();
const selected = NAMES.filter((n) => only.has(n));
for (let r = 0; r < rounds; r++) {
  const order = selected.map((_, i) => selected[(i + r) % selected.length]!);
  for (const name of order) {
    const previous = runs.get(name) ?? [];
    if (previous.some((p) => !p.ok)) continue; // a failure (out of memory, time cap) is not repeated
    const need = set.inputBytes * 1.1 + 3 * 2 ** 30; // the output, and room left for everyone else
    if (freeBytes() < need) {
      const error = `not run: not enough disk (${gib(freeBytes())} free, ${gib(need)} needed)`;
      log(`round ${r + 1}/${rounds}: ${name}: ${error}`);
      runs.set(name, [...previous, { round: r + 1, ok: false, wall_s: 0, peak_rss_mb: 0, process_wall_s: 0, load1_before: round3(os.loadavg()[0]!), error }]);
      continue;
    }
    await fs.rm(work, { recursive: true, force: true });
    const args = ['--set', set.dir, '--out', path.join(work, name)];
    if (name === 'duckdb-join') args.push('--memory-mb', String(joinMemoryMb));
    if (cold) args.push('--durable');
    if (cold) evictInputs(set);
    const settled = await settle();
    log(`round ${r + 1}/${rounds}: ${name}${cold ? ' (inputs out of the page cache)' : ''}${describeSettled(settled)} ...`);
    const load1 = round3(os.loadavg()[0]!);
    const child = await runChild(CONTENDERS[name].script, args, { memCapMb, timeoutS: name === 'duckdb-join' ? joinTimeoutS : timeoutS });
    await fs.rm(work, { recursive: true, force: true });
    const reported = child.result;
    const round: Round = {
      ...(reported ?? {}),
      round: r + 1,
      ok: Boolean(reported?.ok) && !child.killed,
      wall_s: reported?.wall_s ?? child.process_wall_s,
      peak_rss_mb: Math.max(reported?.peak_rss_mb ?? 0, child.observed_peak_mb),
      process_wall_s: child.process_wall_s,
      load1_before: load1,
      ...(settled ? { memory_settled: settled } : {}),
    };
    if (!round.ok) round.error = child.killed ?? reported?.error ?? `exit ${child.code ?? child.signal}: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    if (!round.ok && !reported) round.wall_s = child.process_wall_s;
    runs.set(name, [...previous, round]);
    log(`round ${r + 1}/${rounds}: ${name}: ${round.ok ? 'ok' : 'FAILED'} ${round.wall_s.toFixed(2)} s, peak ${round.peak_rss_mb} MB${round.error ? ` (${round.error})` : ''}`);
  }
}

interface Summary {
  name: Name;
  label: string;
  wall_s: number;
  peak_rss_mb: number;
  output_bytes: number;
  ok: boolean;
  error?: string;
  rows: number | null;
  columns: number | null;
  rounds: Round[];
}
const results: Summary[] = selected.map((name) => {
  const list = runs.get(name) ?? [];
  const good = list.filter((x) => x.ok);
  const failed = list.find((x) => !x.ok);
  return {
    name,
    label: CONTENDERS[name].label,
    wall_s: round3(median((good.length ? good : list).map((x) => x.wall_s))),
    peak_rss_mb: Math.max(...list.map((x) => x.peak_rss_mb)),
    output_bytes: good[0]?.output_bytes ?? 0,
    ok: good.length === list.length && list.length > 0,
    ...(failed ? { error: failed.error } : {}),
    rows: good[0]?.rows ?? null,
    columns: good[0]?.columns ?? null,
    rounds: list,
  };
});
const byName = (n: Name) => results.find((x) => x.name === n && x.ok);
const ratio = (a: Summary | undefined, b: Summary | undefined) => (a && b ? round3(a.wall_s / b.wall_s) : null);
const merge = byName('merge');
const ratios = { merge_vs_polars: ratio(merge, byName('polars')), merge_vs_floor: ratio(merge, byName('floor')) };

// ---- 3. bqx run end to end, and the extract phase against one bulk copy --------------------
let e2e: Record<string, unknown> | undefined;
if (only.has('e2e')) {
  const samples: (E2eResult & { source: string })[] = [];
  const bulks: ChildResult[] = [];
  const warehouse = path.join(set.home, 'warehouse.duckdb');
  const warehouseBytes = (await fs.stat(warehouse)).size;
  const bulkCopy = async (label: string) => {
    await fs.rm(work, { recursive: true, force: true });
    log(`${label}: bulk copy of the same tables${describeSettled(await settle())} ...`);
    const bulk = await runChild('bulk-copy.ts', ['--set', set.dir, '--out', path.join(work, 'bulk')], { memCapMb, timeoutS });
    await fs.rm(work, { recursive: true, force: true });
    if (!bulk.result?.ok) throw new Error(`bulk copy failed: ${bulk.killed ?? bulk.result?.error ?? bulk.stderr.slice(-1000)}`);
    bulks.push({ ...bulk.result, peak_rss_mb: Math.max(bulk.result.peak_rss_mb, bulk.observed_peak_mb) });
    log(`${label}: bulk copy ${bulk.result.wall_s.toFixed(1)} s`);
  };
  for (let r = 0; r < e2eRounds; r++) {
    const need = warehouseBytes + set.inputBytes * 2.3 + 2 ** 30;
    if (freeBytes() < need) {
      log(`e2e: not enough disk for a fresh BQX_HOME (${gib(freeBytes())} free, ${gib(need)} needed): using the set build's bqx run`);
      break;
    }
    const home = path.join(set.dir, 'e2e-home');
    await fs.rm(home, { recursive: true, force: true });
    await fs.mkdir(home, { recursive: true });
    await fs.copyFile(warehouse, path.join(home, 'warehouse.duckdb'));
    await fs.copyFile(path.join(set.home, 'demo.json'), path.join(home, 'demo.json'));
    // The demo's feature tables are parquet files beside the warehouse (fileTables.ts).
    const tables = path.join(set.home, 'warehouse.tables');
    if (existsSync(tables)) await linkTree(tables, path.join(home, 'warehouse.tables'));
    if (confinement) dropPageCache();
    const settled = await settle();
    log(`e2e ${r + 1}/${e2eRounds}: bqx run in a fresh BQX_HOME${confinement ? `, ${confinement.describe}` : ''}${describeSettled(settled)} ...`);
    try {
      const run = await runTimedBqx(home, rows, set.pair, { memCapMb, ...(confinement ? { before: confinement.join } : {}) });
      samples.push({ ...run, source: confinement ? `fresh BQX_HOME, ${confinement.describe}, page cache dropped first` : 'fresh BQX_HOME' });
      log(`e2e ${r + 1}/${e2eRounds}: ${run.status} in ${run.wall_s.toFixed(1)} s (engine ${run.engine_busy_s.toFixed(1)} s)`);
    } finally {
      await fs.rm(home, { recursive: true, force: true });
    }
    await bulkCopy(`e2e ${r + 1}/${e2eRounds}`);
  }
  if (bulks.length === 0) await bulkCopy('e2e');
  if (samples.length === 0) samples.push({ ...set.build.run, source: 'the set build (first bqx run in the bench home)' });
  const pick = (values: number[]) => round3(median(values));
  const wall = pick(samples.map((s) => s.wall_s));
  const engine = pick(samples.map((s) => s.engine_busy_s));
  const extractPhase = pick(samples.map((s) => (s.timings.extract_ms ?? 0) / 1000));
  const bulk = bulks.length ? pick(bulks.map((b) => b.wall_s)) : null;
  e2e = {
    source: samples[0]!.source,
    runs: samples.length,
    wall_s: wall,
    process_wall_s: pick(samples.map((s) => s.process_wall_s)),
    engine_busy_s: engine,
    extract_busy_s: pick(samples.map((s) => s.extract_busy_s)),
    merge_busy_s: pick(samples.map((s) => s.merge_busy_s)),
    profile_busy_s: samples.every((s) => s.profile_busy_s !== undefined) ? pick(samples.map((s) => s.profile_busy_s!)) : null,
    extract_sum_s: pick(samples.map((s) => s.extract_sum_s)),
    merge_sum_s: pick(samples.map((s) => s.merge_sum_s)),
    timings_ms: samples[0]!.timings,
    orchestration_overhead: round3(median(samples.map((s) => (s.wall_s - s.engine_busy_s) / s.wall_s))),
    orchestration_overhead_with_startup: round3(median(samples.map((s) => (s.process_wall_s - s.engine_busy_s) / s.process_wall_s))),
    extract_phase_s: extractPhase,
    bulk_copy_s: bulk,
    extract_vs_bulk: bulk ? round3(extractPhase / bulk) : null,
    bulk_copy_bytes: bulks[0]?.output_bytes ?? null,
    bulk_copy_peak_rss_mb: bulks.length ? Math.max(...bulks.map((b) => b.peak_rss_mb)) : null,
    peak_rss_mb: Math.max(...samples.map((s) => s.peak_rss_mb)),
    samples,
  };
}

// ---- 4. the first run from an empty home (npm start) ---------------------------------------
let fresh: FirstRun | undefined;
if (only.has('first-run')) {
  log(`first run: bqx run eurusd in an empty BQX_HOME (the demo build included)${describeSettled(await settle())} ...`);
  fresh = await measureFirstRun({ memCapMb, timeoutS });
  log(`first run: ${fresh.ok ? 'ok' : `FAILED (${fresh.error})`} ${fresh.wall_s.toFixed(1)} s (demo build ${fresh.demo_build_s ?? '-'} s, run ${fresh.run_s ?? '-'} s), peak ${fresh.peak_rss_mb} MB`);
}

// ---- 5. quick commands, and the scaling curve's point --------------------------------------
log('quick commands: start-up of bqx --help, status, bad input ...');
const quick = measureQuick();
const firstRun = { demo_build_s: set.build.demo_s ? round3(set.build.demo_s) : null, first_run_s: round3(set.build.run.process_wall_s) };
const points = cold || confinement ? [] : await recordScalingPoint({
  rows,
  merge_wall_s: merge?.wall_s ?? null,
  merge_peak_rss_mb: merge?.peak_rss_mb ?? null,
  // Without the e2e step (the big sizes: its copy of the set needs disk), the set's own timed run
  // is the whole-run point when the set was built by this invocation (same code, fresh home).
  run_wall_s: e2e ? (e2e.wall_s as number) : setBuiltNow ? round3(set.build.run.wall_s) : null,
  run_peak_rss_mb: e2e ? (e2e.peak_rss_mb as number) : setBuiltNow ? set.build.run.peak_rss_mb : null,
  ...firstRun,
  input_gib: round3(set.inputBytes / 2 ** 30),
  load1: round3(os.loadavg()[0]!),
  measured_at: new Date().toISOString(),
  source: path.relative(REPO_ROOT, outFile),
});
const scaling = { merge_vs_linear: linearity(points, (p) => p.merge_wall_s), run_vs_linear: linearity(points, (p) => p.run_wall_s), chart: path.relative(REPO_ROOT, SCALING_SVG) };

// ---- report ----------------------------------------------------------------------------
const floor = byName('floor');
const polars = byName('polars');
const machine = {
  page_touch_us: pageTouch,
  /** Whether the kernel hands freed memory back to its host: each contender then waited for that first (`memory_settled` in its rounds). */
  reports_freed_memory: reportsFreedMemory(),
  cpus: os.cpus().length,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  memory_mb: memTotalMb,
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  duckdb: packageVersion('@duckdb/node-api'),
  polars: packageVersion('nodejs-polars', 'bench'),
  disk_free_gib: Math.round(freeBytes() / 2 ** 30),
};
const goals = {
  'merge wall <= 1.0x polars': !merge || !runs.has('polars') ? null : ratios.merge_vs_polars !== null ? { value: ratios.merge_vs_polars, met: ratios.merge_vs_polars <= 1.0 } : { value: 'polars failed', met: true },
  'merge wall <= 1.3x floor': ratios.merge_vs_floor !== null ? { value: ratios.merge_vs_floor, met: ratios.merge_vs_floor <= 1.3 } : null,
  'merge peak RSS <= 2048 MB': merge ? { value: merge.peak_rss_mb, met: merge.peak_rss_mb <= 2048 } : null,
  'orchestration overhead <= 10 %': e2e ? { value: e2e.orchestration_overhead, met: (e2e.orchestration_overhead as number) <= 0.1 } : null,
  'extract phase <= 1.3x bulk copy': e2e?.extract_vs_bulk != null ? { value: e2e.extract_vs_bulk, met: (e2e.extract_vs_bulk as number) <= 1.3 } : null,
  'whole run peak RSS <= 2048 MB': e2e ? { value: e2e.peak_rss_mb, met: (e2e.peak_rss_mb as number) <= 2048 } : null,
  // npm start alone, from this tree (the goal counts npm ci too: `--only first-run` measures both from a fresh clone).
  'npm start alone (empty home; npm ci not counted) <= 60 s': fresh ? { value: fresh.ok ? fresh.wall_s : 'failed', met: fresh.ok && fresh.wall_s <= 60 } : null,
  'quick commands <= 1 s': { value: Math.max(...Object.values(quick.commands)), met: Math.max(...Object.values(quick.commands)) <= 1 },
};
const report = {
  rows,
  rounds,
  machine,
  results: results.map((s) => ({
    name: s.name,
    label: s.label,
    wall_s: s.wall_s,
    peak_rss_mb: s.peak_rss_mb,
    output_bytes: s.output_bytes,
    ok: s.ok,
    ...(s.error ? { error: s.error } : {}),
    rows_checked: s.rows,
    columns_checked: s.columns,
    vs_floor: s.ok ? ratio(s, floor) : null,
    vs_polars: s.ok ? ratio(s, polars) : null,
    rounds: s.rounds,
  })),
  ratios,
  page_cache: cold ? 'inputs dropped before every round, outputs fsynced inside it (--cold)' : 'as the rounds before left it',
  freed_memory: machine.reports_freed_memory ? 'handed back to the host before every round (bench/memoryTouch.ts)' : 'kept by this kernel: no wait',
  ...(confinement ? { e2e_confined: confinement.describe } : {}),
  ...(e2e ? { e2e } : {}),
  first_run: firstRun,
  ...(fresh ? { first_run_fresh_home: fresh } : {}),
  quick_commands_s: quick,
  scaling,
  goals,
  set: { id: set.id, label_rows: set.labelRows, columns: set.columns, features: set.features.length, input_bytes: set.inputBytes, demo_build_s: set.build.demo_s || undefined },
  settings: { mem_cap_mb: memCapMb, join_memory_mb: joinMemoryMb, join_timeout_s: joinTimeoutS, merge_memory_mb: Number(process.env.BQX_MERGE_MEMORY_MB || 2048) },
  finished_at: new Date().toISOString(),
};
await fs.mkdir(path.dirname(outFile), { recursive: true });
await fs.writeFile(`${outFile}.tmp`, JSON.stringify(report, null, 1));
await fs.rename(`${outFile}.tmp`, outFile);

const table: string[][] = [['contender', 'wall s (median)', 'peak RSS MB', 'output MB', 'rows x cols', 'ok', 'vs floor', 'vs polars']];
for (const s of results) {
  table.push([
    s.label,
    s.ok ? s.wall_s.toFixed(2) : `(${s.wall_s.toFixed(1)})`,
    String(s.peak_rss_mb),
    s.ok ? (s.output_bytes / 1e6).toFixed(0) : '-',
    s.rows !== null ? `${s.rows} x ${s.columns}` : '-',
    s.ok ? 'ok' : 'FAILED',
    s.ok && floor ? `${ratio(s, floor)!.toFixed(2)}x` : '-',
    s.ok && polars ? `${ratio(s, polars)!.toFixed(2)}x` : '-',
  ]);
}
const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
const lines = table.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
let text = `\nbqx bench: ${rows} rows (${set.labelRows} label rows x ${set.columns} columns, ${set.features.length} features, ${gib(set.inputBytes)} of parquet), ${rounds} round(s), ${machine.cpus} cores, ${Math.round(memTotalMb / 1024)} GiB\n\n${lines.join('\n')}\n`;
for (const s of results) if (!s.ok) text += `  ${s.label} failed: ${s.error}\n`;
if (e2e) {
  text += `\nbqx run end to end (${e2e.source}): ${(e2e.wall_s as number).toFixed(1)} s; engine work ${(e2e.engine_busy_s as number).toFixed(1)} s (extract ${(e2e.extract_busy_s as number).toFixed(1)} s, merge ${(e2e.merge_busy_s as number).toFixed(1)} s, profile ${e2e.profile_busy_s === null ? 'not timed: counted as overhead' : `${(e2e.profile_busy_s as number).toFixed(1)} s`})`;
  text += `\n  orchestration overhead: ${pct(e2e.orchestration_overhead as number)} of the wall time (${pct(e2e.orchestration_overhead_with_startup as number)} counting node start-up)`;
  text += `\n  extract phase ${(e2e.extract_phase_s as number).toFixed(1)} s vs one bulk copy of the same tables ${e2e.bulk_copy_s === null ? '-' : `${(e2e.bulk_copy_s as number).toFixed(1)} s: ${(e2e.extract_vs_bulk as number).toFixed(2)}x`}\n`;
}
text += `\ndemo build ${firstRun.demo_build_s ?? '(reused set)'} s, then the first bqx run ${firstRun.first_run_s} s (apart; the set build at ${rows} rows)`;
if (fresh) text += `\nfirst run from an empty home (npm start: ${fresh.rows} rows x ${fresh.columns} columns): ${fresh.wall_s.toFixed(1)} s = demo build ${fresh.demo_build_s ?? '-'} s + run ${fresh.run_s ?? '-'} s, peak ${fresh.peak_rss_mb} MB${fresh.ok ? '' : ` (FAILED: ${fresh.error})`}`;
text += `\nquick commands (median of 5, empty BQX_HOME, ${quick.compiled ? 'precompiled CLI' : 'through tsx: run npm run build:cli'}): ${Object.entries(quick.commands).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`;
text += `\n  floors: ${Object.entries(quick.floors).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`;
text += `\nscaling: ${points.map((p) => `${p.rows} rows: merge ${p.merge_wall_s ?? '-'} s / ${p.merge_peak_rss_mb ?? '-'} MB, run ${p.run_wall_s ?? '-'} s / ${p.run_peak_rss_mb ?? '-'} MB`).join('; ')} (chart ${scaling.chart})\n`;
text += '\ngoals:\n';
for (const [goal, v] of Object.entries(goals)) text += `  ${goal}: ${v === null ? 'not measured' : `${v.met ? 'met' : 'NOT met'} (${typeof v.value === 'number' && goal.includes('overhead') ? pct(v.value) : v.value})`}\n`;
text += `\nwritten: ${path.relative(process.cwd(), outFile)}\n`;
process.stdout.write(text);

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}
/** A package's installed version: the root's, or a folder's own (bench/package.json holds the Polars peer). */
function packageVersion(name: string, folder = ''): string {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, folder, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
