// Issue 9's freshness goals, measured side by side in one BQX_HOME, as ratios:
//   (a) a second `bqx run` with nothing changed against the first: extracts (goal 0), wall (<= 15 %)
//   (b) `bqx demo --touch` of 84 of the pair's tables, then `bqx run`: extracts (goal exactly 84),
//       wall against a full build (`--no-reuse`) of the same window (<= 30 %)
//   (c) `bqx demo --append 1d`, then `bqx run --refresh`: rows read from the warehouse (<= 5 %) and
//       wall (<= 25 %) against a `--no-reuse` full build of the same window, and the two outputs
//       equal cell for cell, in row order
//   (d) after ten runs with the default retention: the parquet bytes under BQX_HOME's staging and
//       output against the kept datasets' files plus one set of checkpoints (the newest run's);
//       the JSON beside them (manifests, markers, the reuse index) is reported, not counted
//   (e) the BigQuery path, through `bqx plan --target bigquery` (offline) after the append: the
//       bytes a refresh's statements read against a full build's of the same window (<= 5 %), and
//       one export per (rebuilt shard, column group), so no statement sorts more than one shard
//   and, with no goal, a refresh as a daily one meets its tables: another day appended, the page
//   cache dropped (root only; skipped, and said, otherwise): its wall against (c)'s warm refresh,
//   and what it read from disk
// (b) and (c) are taken over `rounds` alternations: the first in the bench's home, the others each
// in a copy of that home as it stood before the step (copyHome), the step and its full build in
// turn; the ratio is the median step's wall over the median full build's. On this 2-core machine
// one refresh took 10.8 s and the next, identical, 16.8 s: a single pair's ratio said little.
// Before each timed step: sync, and on a kernel that hands freed memory back to its host, a wait
// until it has (memoryTouch.ts; the main bench does the same between its contenders).
// Every command runs as its own `bqx` process (wall = that process's, start-up included). Shards
// are days (BQX_SHARD=day): with the default months a 14-day demo is one shard, which a refresh
// rebuilds whole. `npm run bench -- --only freshness [--rows 20000] [--rounds 3]` runs it (bench/run.ts); its
// BQX_HOME is bench/data/freshness-<rows>/home, made afresh each time.

import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import type { RunSummary } from '../shared/cli/summary.js';
import type { ProfileReuse } from '../shared/profile/types.js';
import { DATA_ROOT, REPO_ROOT } from './setid.js';
import { du, linkTree, median } from './common.js';
import { dropPageCache } from './confine.js';
import { diskReadBytes } from './fileSystem.js';
import { describeSettled, settleBeforeStep } from './memoryTouch.js';


interface Step {
  name: string;
  wall_s: number;
  summary: RunSummary;
  /** report.json's profileReuse: how the profile's columns came about. */
  profile: ProfileReuse | undefined;
  /** What the machine read from disk during the step (past the page cache); null off Linux. */
  diskRead: number | null;
}

export interface FreshnessBench {
  rows: number;
  shard: string;
  steps: { name: string; wall_s: number; extracted: number; reused: number; rows_read: number | null; disk_read_mb: number | null; total_ms: number | null; merge_ms: number | null; profile_ms: number | null; shared_shards?: number; rebuilt_shards?: number; built_groups?: number[]; profile?: ProfileReuse }[];
  a: { extracted: number; wall_ratio: number };
  b: { touched: number; extracted: number; wall_ratio: number; rounds: Alternation[] };
  c: { rows_read_ratio: number; wall_ratio: number; run_ratio_without_profile: number; equal_to_full_build: boolean; shared_shards: number; rebuilt_shards: number; rows: number; rounds: Alternation[] };
  /** A refresh with the page cache dropped first (null where it cannot be dropped). */
  c_cold: { wall_s: number; vs_warm_refresh: number; disk_read_mb: number | null; extract_ms: number | null; rows_read: number | null } | null;
  /** `index_entries`: the reuse index's files, one a feature of the newest run when it follows the checkpoints kept. */
  d: { runs: number; bytes: number; parquet_bytes: number; kept_datasets_bytes: number; one_checkpoint_set_bytes: number; ratio: number; index_entries: number; features: number };
  e: { full_bytes: number; refresh_bytes: number; bytes_ratio: number; full_profile_bytes: number; refresh_profile_bytes: number; full_statements: number; refresh_statements: number; refresh_shards: number; groups: number; refresh_exports: number };
  goals: Record<string, { value: number | boolean; met: boolean }>;
}

/** One round of a step and the full build it is compared with: each one's process wall. */
interface Alternation {
  step_s: number;
  full_s: number;
}

/** Folders whose files bqx never rewrites (it writes new files aside and renames them into place): a copy links them. */
const LINKED = new Set(['warehouse.tables', 'staging', 'output']);

/** A copy of `home` as it stands, for a round of a step: LINKED folders hard-linked, the rest (the warehouse file, the run store, the logs) copied. */
async function copyHome(home: string, to: string): Promise<void> {
  await fs.rm(to, { recursive: true, force: true });
  await fs.mkdir(to, { recursive: true });
  for (const entry of await fs.readdir(home, { withFileTypes: true })) {
    const [from, into] = [path.join(home, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory() && LINKED.has(entry.name)) await linkTree(from, into);
    else await fs.cp(from, into, { recursive: true });
  }
}

/** What `bqx plan --json` prints (shared/cli/plan.ts). */
interface PlanJson {
  window: { start: string; end: string };
  summary: { statements: number; byKind: Record<string, number>; bytesTotal: number; bytesByKind: Record<string, number>; billedTotal: number };
  refresh?: { shards: number; sharedShards: number };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Bytes of the plan's profile statements (kinds profile_*). */
const profileBytes = (plan: PlanJson) => Object.entries(plan.summary.bytesByKind).reduce((n, [kind, bytes]) => (kind.startsWith('profile_') ? n + bytes : n), 0);

function bqx(home: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; wall_s: number }> {
  const began = Date.now();
  return new Promise((resolve) => {
    const child = spawn('nice', [process.execPath, path.join(REPO_ROOT, 'shared/cli/bqx.mjs'), ...args], { env: { ...process.env, ...env, BQX_HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, wall_s: (Date.now() - began) / 1000 }));
  });
}

/** Every row of a dataset, its groups side by side, hashed row by row in file order; and the row count. */
async function outputDigest(manifestFile: string): Promise<{ rows: number; digest: string }> {
  const m = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { groups: { files: string[] }[] };
  const db = await DuckDBInstance.create(':memory:', { memory_limit: '2GB', threads: '1' });
  const c = await db.connect();
  try {
    const parts = m.groups.map((_, i) => `(SELECT * ${i ? 'EXCLUDE (interval_time)' : ''} FROM read_parquet($${i + 1}))`);
    const [row] = (await c.runAndReadAll(
      `SELECT count(*), sum(hash(r))::VARCHAR FROM (SELECT *, row_number() OVER () AS n FROM ${parts.join(' POSITIONAL JOIN ')}) r`,
      m.groups.map((g) => listValue(g.files)),
    )).getRows();
    return { rows: Number(row![0]), digest: String(row![1]) };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

export async function benchFreshness(rows: number, log: (line: string) => void, rounds = 3): Promise<FreshnessBench> {
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds must be >= 1');
  const home = path.join(DATA_ROOT, `freshness-${rows}`, 'home');
  await fs.rm(home, { recursive: true, force: true });
  await fs.mkdir(home, { recursive: true });
  const env = { BQX_SHARD: 'day' };
  const steps: Step[] = [];
  const call = async (args: string[], at = home) => {
    const r = await bqx(at, args, env);
    if (r.code !== 0) throw new Error(`bqx ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
    return r;
  };
  /** The `--json` summary a `bqx run` printed last; a run that did not succeed throws. */
  const succeeded = (name: string, stdout: string): RunSummary => {
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as RunSummary;
    if (summary.status !== 'succeeded') throw new Error(`${name}: run ${summary.runId} ${summary.status}: ${summary.error}`);
    return summary;
  };
  const run = async (name: string, extra: string[] = []): Promise<Step> => {
    log(`freshness: ${name}: bqx run eurusd ${extra.join(' ')} ...`);
    // As the main bench does between contenders: no step pays for the write-back of the one before
    // (a full build leaves gigabytes of dirty pages behind it), and every step starts with the
    // memory freed before it handed back to the host, where the kernel does that (memoryTouch.ts).
    const settled = await settleBeforeStep();
    if (settled) log(`freshness: ${name}: started${describeSettled(settled)}`);
    const readBefore = diskReadBytes();
    const r = await call(['run', 'eurusd', '--json', '--quiet', ...extra]);
    const readAfter = diskReadBytes();
    const diskRead = readBefore === undefined || readAfter === undefined ? null : readAfter - readBefore;
    const summary = succeeded(name, r.stdout);
    const report = JSON.parse(await fs.readFile(path.join(path.dirname(summary.output.manifest!), 'report.json'), 'utf8')) as { profileReuse?: ProfileReuse };
    const step = { name, wall_s: r.wall_s, summary, profile: report.profileReuse, diskRead };
    steps.push(step);
    log(`freshness: ${name}: ${r.wall_s.toFixed(1)} s, extracted ${summary.extracted}, reused ${summary.reused}, rows read ${summary.rowsRead?.total ?? '-'}${diskRead === null ? '' : `, ${Math.round(diskRead / 1e6)} MB read from disk`}${summary.refresh ? `, shards shared ${summary.refresh.sharedShards} rebuilt ${summary.refresh.rebuiltShards}` : ''}`);
    return step;
  };

  // Rounds 2.. of a step and its full build, each in its own copy of `snapshot` (the home before
  // the step), in turn: walls only (the first round, in the home itself, is the one reported in full).
  const again = async (what: string, snapshot: string, step: string[], full: string[]): Promise<Alternation[]> => {
    const more: Alternation[] = [];
    const copy = path.join(path.dirname(home), 'round');
    const timed = async (args: string[]) => {
      await copyHome(snapshot, copy);
      await settleBeforeStep();
      const r = await call(['run', 'eurusd', '--json', '--quiet', ...args], copy);
      succeeded(`${what}, a later round`, r.stdout);
      return r.wall_s;
    };
    for (let i = 2; i <= rounds; i++) {
      const walls = { step_s: await timed(step), full_s: await timed(full) };
      log(`freshness: ${what}, round ${i}/${rounds}: ${walls.step_s.toFixed(1)} s against a full build's ${walls.full_s.toFixed(1)} s`);
      more.push(walls);
    }
    await fs.rm(copy, { recursive: true, force: true });
    return more;
  };
  const snapshotOf = async (name: string) => {
    const dir = path.join(path.dirname(home), `before-${name}`);
    if (rounds > 1) await copyHome(home, dir);
    return dir;
  };

  log(`freshness: building the demo warehouse (${rows} rows) in ${home} ...`);
  await call(['demo', '--rows', String(rows), '--pairs', 'eurusd']);
  const first = await run('first run');
  const second = await run('second run, nothing changed');

  // (b) 84 of the pair's tables rewritten in place.
  const runManifest = JSON.parse(await fs.readFile(path.join(home, 'staging', 'runs', first.summary.runId, 'manifest.json'), 'utf8')) as { features: { feature: string }[]; window: { start: string; end: string } };
  const touched = runManifest.features.map((f) => f.feature).filter((t) => t.startsWith('reg_')).slice(0, 84);
  if (touched.length < 84) touched.push(...runManifest.features.map((f) => f.feature).filter((t) => !touched.includes(t)).slice(0, 84 - touched.length));
  log(`freshness: bqx demo --touch of ${touched.length} tables ...`);
  await call(['demo', '--touch', touched.join(',')]);
  const beforeTouchRun = await snapshotOf('touch');
  const afterTouch = await run('after --touch of 84 tables');
  const fullB = await run('full build (--no-reuse)', ['--no-reuse']);
  const touchRounds = [{ step_s: afterTouch.wall_s, full_s: fullB.wall_s }, ...(await again('after --touch', beforeTouchRun, [], ['--no-reuse']))];

  // (c) a day appended, then a refresh against a full build of the same window.
  log('freshness: bqx demo --append 1d ...');
  await call(['demo', '--append', '1d']);
  // (e) what the same refresh and a full build would send to BigQuery (offline: no run is recorded).
  const plan = async (name: string, extra: string[]) => {
    const dir = path.join(path.dirname(home), `plan-${name}`);
    await fs.rm(dir, { recursive: true, force: true });
    const printed = JSON.parse((await call(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--json', ...extra])).stdout.trim().split('\n')[0]!) as PlanJson;
    // The column groups the exports write, from the scratch tables they read (`..__g001_b003`).
    const statements = (JSON.parse(await fs.readFile(path.join(dir, 'plan.json'), 'utf8')) as { statements: { kind: string; reads: string[] }[] }).statements;
    const groups = new Set(statements.filter((st) => st.kind === 'export').flatMap((st) => st.reads.map((r) => /__g(\d+)_/.exec(r)?.[1]).filter(Boolean)));
    await fs.rm(dir, { recursive: true, force: true });
    return { ...printed, groups: groups.size };
  };
  log('freshness: bqx plan --target bigquery, a full build, the refresh, and the refresh building its partial shard whole ...');
  const [planFull, planRefresh] = [await plan('full', []), await plan('refresh', ['--refresh'])];
  // The same refresh where the label table had filled in its tail (as real ones do): the shard
  // holding the previous end is built whole, `--since` that end (the version `--refresh` follows: the full build).
  const baseWindow = (JSON.parse(await fs.readFile(path.join(home, 'staging', 'runs', fullB.summary.runId, 'manifest.json'), 'utf8')) as { window: { start: string; end: string } }).window;
  const planWhole = await plan('whole', ['--since', baseWindow.end, '--start', baseWindow.start]);
  const beforeRefresh = await snapshotOf('refresh');
  const refresh = await run('--refresh after --append 1d', ['--refresh']);
  const refreshRecord = JSON.parse(await fs.readFile(path.join(home, 'staging', 'runs', refresh.summary.runId, 'manifest.json'), 'utf8')) as { window: { start: string; end: string } };
  const fullArgs = ['--no-reuse', '--start', refreshRecord.window.start, '--end', refreshRecord.window.end];
  const fullC = await run('full build of the refreshed window (--no-reuse)', fullArgs);
  const refreshRounds = [{ step_s: refresh.wall_s, full_s: fullC.wall_s }, ...(await again('--refresh', beforeRefresh, ['--refresh'], fullArgs))];
  await Promise.all([beforeTouchRun, beforeRefresh].map((dir) => fs.rm(dir, { recursive: true, force: true })));
  // The summary names each manifest by its path on disk.
  const [ra, rb] = [await outputDigest(refresh.summary.output.manifest!), await outputDigest(fullC.summary.output.manifest!)];
  const equal = ra.rows === rb.rows && ra.digest === rb.digest;
  log(`freshness: refresh ${ra.rows} rows, full build ${rb.rows} rows, equal: ${equal}`);

  // The same refresh a day later with its tables cold, as a daily refresh meets them.
  log('freshness: bqx demo --append 1d, the page cache dropped, then --refresh (cold) ...');
  await call(['demo', '--append', '1d']);
  execFileSync('sync');
  let coldRefresh: Step | undefined;
  try {
    dropPageCache();
    coldRefresh = await run('--refresh after --append 1d, page cache dropped', ['--refresh']);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('cannot drop the page cache'))) throw error;
    log(`freshness: the cold refresh is not measured: ${error.message}`);
  }

  // (d) ten runs in all, with the default retention (applied after each success).
  while (steps.length < 10) await run(`run ${steps.length + 1}, nothing changed`);
  const [staged, written] = [await du(path.join(home, 'staging')), await du(path.join(home, 'output'))];
  const bytes = staged.all + written.all;
  // The goal compares data: parquet under staging and output against the kept datasets' parquet and one set of checkpoints.
  const dataBytes = staged.parquet + written.parquet;
  const gc = JSON.parse((await call(['gc', 'eurusd', '--json'])).stdout.trim().split('\n').pop()!) as { pairs: { kept: string[] }[] };
  const kept = gc.pairs[0]?.kept ?? [];
  const keptFiles = new Set<string>();
  for (const runId of kept) {
    const m = JSON.parse(await fs.readFile(path.join(home, 'output', 'training', 'eurusd', runId, '_manifest.json'), 'utf8')) as { shards: { groups: { objects: string[] }[] }[] };
    for (const s of m.shards) for (const g of s.groups) for (const o of g.objects) keptFiles.add(o);
  }
  let keptBytes = 0;
  for (const o of keptFiles) keptBytes += (await fs.stat(path.join(home, 'output', o)).catch(() => ({ size: 0 }))).size;
  const newest = steps[steps.length - 1]!.summary.runId;
  const newestManifest = JSON.parse(await fs.readFile(path.join(home, 'staging', 'runs', newest, 'manifest.json'), 'utf8')) as { features: { feature: string; reuse?: { entry: string } }[] };
  // One set of checkpoints: the newest run's, reused (its index entries) or extracted (its markers).
  let checkpointBytes = 0;
  const seen = new Set<string>();
  for (const f of newestManifest.features) {
    const listing = f.reuse ? f.reuse.entry : `runs/${newest}/features/${f.feature}/_SUCCESS.json`;
    const { files } = JSON.parse(await fs.readFile(path.join(home, 'staging', listing), 'utf8')) as { files: string[] };
    for (const file of files) {
      if (!seen.has(file)) checkpointBytes += (await fs.stat(path.join(home, 'staging', file)).catch(() => ({ size: 0 }))).size;
      seen.add(file);
    }
  }
  const allowed = keptBytes + checkpointBytes;
  // Before 2026-12-07 every refresh left its 667 entries behind for good.
  const indexEntries = (await fs.readdir(path.join(home, 'staging', 'checkpoints', 'index'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
  log(`freshness: after ${steps.length} runs: ${bytes} bytes under staging+output (${dataBytes} of parquet); kept datasets ${keptBytes}, one set of checkpoints ${checkpointBytes}; reuse index ${indexEntries} entries for ${newestManifest.features.length} features`);

  const ratio = (a: number, b: number) => round(a / b);
  const withoutProfile = (s: Step) => (s.summary.timings.total_ms ?? NaN) - (s.summary.timings.profile_ms ?? 0);
  const a = { extracted: second.summary.extracted, wall_ratio: ratio(second.wall_s, first.wall_s) };
  // The median step against the median full build, over the rounds.
  const overRounds = (list: Alternation[]) => ratio(median(list.map((r) => r.step_s)), median(list.map((r) => r.full_s)));
  const rounded = (list: Alternation[]) => list.map((r) => ({ step_s: round(r.step_s), full_s: round(r.full_s) }));
  const b = { touched: touched.length, extracted: afterTouch.summary.extracted, wall_ratio: overRounds(touchRounds), rounds: rounded(touchRounds) };
  const c = {
    rows_read_ratio: ratio(refresh.summary.rowsRead?.total ?? NaN, fullC.summary.rowsRead?.total ?? NaN),
    wall_ratio: overRounds(refreshRounds),
    rounds: rounded(refreshRounds),
    // The profile is computed over the whole dataset by both: the run's own time without it, side by side.
    run_ratio_without_profile: ratio(withoutProfile(refresh), withoutProfile(fullC)),
    equal_to_full_build: equal,
    shared_shards: refresh.summary.refresh?.sharedShards ?? 0,
    rebuilt_shards: refresh.summary.refresh?.rebuiltShards ?? 0,
    rows: ra.rows,
  };
  const cCold = coldRefresh
    ? {
        wall_s: round(coldRefresh.wall_s),
        vs_warm_refresh: ratio(coldRefresh.wall_s, refresh.wall_s),
        disk_read_mb: coldRefresh.diskRead === null ? null : Math.round(coldRefresh.diskRead / 1e6),
        extract_ms: coldRefresh.summary.timings.extract_ms ?? null,
        rows_read: coldRefresh.summary.rowsRead?.total ?? null,
      }
    : null;
  const d = { runs: steps.length, bytes, parquet_bytes: dataBytes, kept_datasets_bytes: keptBytes, one_checkpoint_set_bytes: checkpointBytes, ratio: ratio(dataBytes, allowed), index_entries: indexEntries, features: newestManifest.features.length };
  const groups = planRefresh.groups;
  const e = {
    full_bytes: planFull.summary.bytesTotal,
    refresh_bytes: planRefresh.summary.bytesTotal,
    bytes_ratio: ratio(planRefresh.summary.bytesTotal, planFull.summary.bytesTotal),
    // The dataset profile after the merge is in both (bqx plan records it); its share apart.
    full_profile_bytes: profileBytes(planFull),
    refresh_profile_bytes: profileBytes(planRefresh),
    full_statements: planFull.summary.statements,
    refresh_statements: planRefresh.summary.statements,
    refresh_shards: planRefresh.refresh?.shards ?? 0,
    groups,
    refresh_exports: planRefresh.summary.byKind.export ?? 0,
    // The refresh building its partial shard whole: the previous exports loaded too, read through the window.
    whole_shard_bytes: planWhole.summary.bytesTotal,
    whole_shard_bytes_ratio: ratio(planWhole.summary.bytesTotal, planFull.summary.bytesTotal),
    // What on-demand pricing bills (each table a statement references at least 10 MB): at this
    // size the refresh's one-day extracts and counts bill the minimum each, whatever they read.
    full_billed: planFull.summary.billedTotal,
    refresh_billed: planRefresh.summary.billedTotal,
    billed_ratio: ratio(planRefresh.summary.billedTotal, planFull.summary.billedTotal),
  };
  log(`freshness: bqx plan: a refresh reads ${e.refresh_bytes} bytes in ${e.refresh_statements} statements (its profile ${e.refresh_profile_bytes}), a full build ${e.full_bytes} in ${e.full_statements} (its profile ${e.full_profile_bytes}); ${e.refresh_exports} exports for ${e.refresh_shards} shard(s) x ${groups} group(s); building its partial shard whole ${e.whole_shard_bytes} (${e.whole_shard_bytes_ratio}); billed on demand ${e.refresh_billed} against ${e.full_billed} (${e.billed_ratio})`);
  return {
    rows,
    shard: env.BQX_SHARD,
    steps: steps.map((s) => ({
      name: s.name,
      wall_s: round(s.wall_s),
      extracted: s.summary.extracted,
      reused: s.summary.reused,
      rows_read: s.summary.rowsRead?.total ?? null,
      disk_read_mb: s.diskRead === null ? null : Math.round(s.diskRead / 1e6),
      total_ms: s.summary.timings.total_ms ?? null,
      merge_ms: s.summary.timings.merge_ms ?? null,
      profile_ms: s.summary.timings.profile_ms ?? null,
      ...(s.summary.refresh ? { shared_shards: s.summary.refresh.sharedShards, rebuilt_shards: s.summary.refresh.rebuiltShards } : {}),
      // A run of the same window that built only some column groups (shared/chain/shareShards.ts).
      ...(s.summary.sharing?.builtGroups ? { built_groups: s.summary.sharing.builtGroups } : {}),
      ...(s.profile ? { profile: s.profile } : {}),
    })),
    a,
    b,
    c,
    c_cold: cCold,
    d,
    e,
    goals: {
      '(a) second run: 0 extracts': { value: a.extracted, met: a.extracted === 0 },
      '(a) second run wall <= 15 % of the first': { value: a.wall_ratio, met: a.wall_ratio <= 0.15 },
      '(b) after --touch of 84: exactly 84 extracts': { value: b.extracted, met: b.extracted === 84 },
      '(b) wall <= 30 % of a full build': { value: b.wall_ratio, met: b.wall_ratio <= 0.3 },
      '(c) refresh rows read <= 5 % of a full build': { value: c.rows_read_ratio, met: c.rows_read_ratio <= 0.05 },
      '(c) refresh wall <= 25 % of a full build': { value: c.wall_ratio, met: c.wall_ratio <= 0.25 },
      '(c) refresh output = --no-reuse full build': { value: equal, met: equal },
      '(d) disk <= kept datasets + one set of checkpoints': { value: d.ratio, met: d.ratio <= 1 },
      '(e) BigQuery: refresh bytes <= 5 % of a full build\'s': { value: e.bytes_ratio, met: e.bytes_ratio <= 0.05 },
      '(e) the same, the partial shard built whole (a label tail)': { value: e.whole_shard_bytes_ratio, met: e.whole_shard_bytes_ratio <= 0.05 },
      '(e) BigQuery: one export per rebuilt shard and group': { value: e.refresh_exports, met: e.refresh_shards > 0 && e.refresh_exports === e.refresh_shards * e.groups },
    },
  };
}
