// Shared by the benchmark's parent and its children: flags, the result line a child prints, the
// parquet footer check, the set description, and spawning a child under a memory and time cap.

import { execFileSync, spawn } from 'node:child_process';
import { promises as fsp, closeSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parquetMetadataAsync, type FileMetaData } from 'hyparquet';
import { BENCH_ROOT } from './setid.js';

/** What a benchmark set holds (set.json): the bench-owned BQX_HOME and what the peers read. */
export interface BenchSet {
  version: 1;
  id: string;
  dir: string;
  rows: number;
  pair: string;
  /** The bench-owned BQX_HOME: the demo warehouse, the run's checkpoints and run store. */
  home: string;
  runId: string;
  window: { start: string; end: string };
  labelRows: number;
  columns: number;
  /** The window's label keys and labels, in key order (for the peers). */
  labelsParquet: string;
  labelColumns: string[];
  /** Each feature's checkpoint files in key order: one per time shard the window meets. */
  features: { feature: string; files: string[]; columns: { source: string; output: string }[] }[];
  inputBytes: number;
  /** The `bqx run` that produced the checkpoints (item 3, first measurement). */
  build: { demo_s: number; run: E2eResult };
}

export interface E2eResult {
  /** main() from call to return, in the child (no node/tsx start-up). */
  wall_s: number;
  /** The child process from spawn to exit (node + tsx start-up included). */
  process_wall_s: number;
  /** Union of the intervals spent inside warehouse.extract / .merge / .profile / .compareColumns. */
  engine_busy_s: number;
  extract_busy_s: number;
  merge_busy_s: number;
  /** Inside the profile's warehouse calls (absent in a set built before they were timed: they counted as overhead). */
  profile_busy_s?: number;
  /** Plain sums over calls (extracts run several at a time (BQX_EXTRACT_CONCURRENCY), so this exceeds the busy time). */
  extract_sum_s: number;
  merge_sum_s: number;
  extract_calls: number;
  timings: Record<string, number>;
  peak_rss_mb: number;
  status: string;
  /** The run's error when it did not succeed. */
  error?: string;
  runId: string;
  rows: number;
  columns: number;
}

/** The one line a child prints for the parent: `BENCH_RESULT {json}`. */
export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface ChildReport {
  wall_s: number;
  output_bytes: number;
  rows: number | null;
  columns: number | null;
  ok: boolean;
  error?: string;
  [extra: string]: unknown;
}

export interface ChildResult extends ChildReport {
  peak_rss_mb: number;
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Prints the child's result (peak RSS measured now, at the end) and exits. */
export function finish(result: ChildReport): never {
  const out: ChildResult = { ...result, peak_rss_mb: peakRssMb() };
  process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify(out)}\n`);
  process.exit(result.ok ? 0 : 1);
}

/** Checks a contender's one output file against the set, removes its folder, and reports. */
export async function finishWithFile(target: string, set: BenchSet, wall: number, outDir: string, extra: Record<string, unknown>): Promise<never> {
  const metadata = await footer(target);
  const rows = Number(metadata.num_rows);
  const columns = columnNames(metadata).length;
  const bytes = statSync(target).size;
  rmSync(outDir, { recursive: true, force: true });
  const ok = rows === set.labelRows && columns === set.columns;
  return finish({ wall_s: wall, output_bytes: bytes, rows, columns, ok, ...(ok ? {} : { error: `${rows} rows x ${columns} columns, expected ${set.labelRows} x ${set.columns}` }), ...extra });
}

export function flags(argv = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out.set(name, inline);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out.set(name, argv[++i]!);
    else out.set(name, 'true');
  }
  return out;
}

export function loadSet(dir: string): BenchSet {
  const set = JSON.parse(readFileSync(path.join(dir, 'set.json'), 'utf8')) as BenchSet;
  // Sets written before time shards name one `file` per feature.
  for (const f of set.features as (BenchSet['features'][number] & { file?: string })[]) f.files ??= [f.file!];
  return set;
}

/** A parquet file's footer, read through hyparquet from the end of the file only. */
export async function footer(file: string): Promise<FileMetaData> {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = {
      byteLength: size,
      slice: async (start: number, end?: number): Promise<ArrayBuffer> => {
        const b = Buffer.alloc((end ?? size) - start);
        readSync(fd, b, 0, b.length, start);
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
      },
    };
    return await parquetMetadataAsync(buffer, { initialFetchSize: Math.min(size, 1 << 22) });
  } finally {
    closeSync(fd);
  }
}

/** Leaf column names of a footer. */
export function columnNames(metadata: FileMetaData): string[] {
  return metadata.schema.slice(1).map((e) => e.name);
}

export interface SpawnOptions {
  /** Kill the child when its resident memory passes this many MB. */
  memCapMb: number;
  /** Kill the child after this many seconds. */
  timeoutS: number;
  env?: NodeJS.ProcessEnv;
  /** Echo the child's stderr (progress) to ours. */
  echo?: boolean;
  /** Node's arguments in place of `--import tsx bench/<script> ...args` (the bqx bin as a user runs it). */
  argv?: string[];
  /** A shell line the child runs first, then node in its place (same pid): joining control groups (confine.ts). */
  before?: string;
}

export interface Spawned {
  result?: ChildResult;
  code: number | null;
  signal: NodeJS.Signals | null;
  process_wall_s: number;
  /** Peak resident memory the parent saw (VmHWM from /proc), for children killed before reporting. */
  observed_peak_mb: number;
  killed?: string;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx <script> ...args` and watches its memory (VmHWM) every 100 ms. */
export function runChild(script: string, args: string[], options: SpawnOptions): Promise<Spawned> {
  return new Promise((resolve) => {
    const began = process.hrtime.bigint();
    const argv = options.argv ?? ['--import', 'tsx', path.join(BENCH_ROOT, script), ...args];
    const [command, commandArgs] = options.before ? ['/bin/sh', ['-c', `${options.before} && exec "$0" "$@"`, process.execPath, ...argv]] : [process.execPath, argv];
    const child = spawn(command, commandArgs, {
      cwd: path.dirname(BENCH_ROOT),
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
      if (options.echo) process.stderr.write(d);
    });
    let observed = 0;
    let killed: string | undefined;
    const seconds = () => Number(process.hrtime.bigint() - began) / 1e9;
    const kill = (why: string) => {
      if (killed) return;
      killed = why;
      child.kill('SIGKILL');
    };
    const watch = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
        const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
        observed = Math.max(observed, hwm, rss);
        if (rss > options.memCapMb) kill(`killed by the bench: resident memory ${Math.round(rss)} MB passed the cap of ${options.memCapMb} MB after ${seconds().toFixed(1)} s`);
      } catch {
        // the child has exited
      }
      if (seconds() > options.timeoutS) kill(`killed by the bench: still running after the time cap of ${options.timeoutS} s`);
    }, 100);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      const line = stdout.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX));
      const result = line ? (JSON.parse(line.slice(RESULT_PREFIX.length)) as ChildResult) : undefined;
      resolve({
        ...(result ? { result } : {}),
        code,
        signal,
        process_wall_s: seconds(),
        observed_peak_mb: Math.round(observed),
        ...(killed ? { killed } : {}),
        stdout,
        stderr,
      });
    });
  });
}

/** Bytes of every file under `dir` (0 when it does not exist; `.tmp` folders left out), and of its parquet files. */
export async function du(dir: string): Promise<{ all: number; parquet: number }> {
  const total = { all: 0, parquet: 0 };
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.name === '.tmp') continue;
    if (e.isDirectory()) {
      const sub = await du(p);
      total.all += sub.all;
      total.parquet += sub.parquet;
    } else {
      const size = (await fsp.stat(p)).size;
      total.all += size;
      if (e.name.endsWith('.parquet')) total.parquet += size;
    }
  }
  return total;
}

/**
 * Mirrors a folder with hard links: a fresh BQX_HOME gets the demo's feature table files (read,
 * never rewritten, by a run) without copying tens of gigabytes at the larger sizes.
 */
export async function linkTree(from: string, to: string): Promise<void> {
  await fsp.mkdir(to, { recursive: true });
  for (const entry of await fsp.readdir(from, { withFileTypes: true })) {
    const [a, b] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory()) await linkTree(a, b);
    else await fsp.link(a, b);
  }
}

/**
 * Drops a benchmark set's input files from the page cache (GNU dd's `iflag=nocache` with
 * `count=0` drops a whole file's cached pages; no root needed), so the next contender reads them
 * from the disk: what every contender meets at the sizes that do not fit the cache.
 */
export function evictInputs(set: BenchSet): void {
  const files = [set.labelsParquet, ...set.features.flatMap((f) => f.files)];
  try {
    for (const file of files) execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  } catch (error) {
    throw new Error(`--cold needs GNU dd (iflag=nocache) to drop the inputs from the page cache: ${formatError(error)}`);
  }
}

/**
 * `--durable` (what `--cold` passes each contender): every file the contender wrote is fsynced
 * inside its timed span. Otherwise a run whose output fits the dirty page cache (2 GB at 20,000
 * rows) ends before the disk has seen it, and one whose output does not (18 GB at 177,748) waits
 * for the write-back: the curve between them would measure the cache.
 */
export function flushIfDurable(dir: string): void {
  if (!process.argv.includes('--durable')) return;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const fd = openSync(path.join(entry.parentPath ?? entry.path, entry.name), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function formatError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
