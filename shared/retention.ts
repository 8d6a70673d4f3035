// Retention: per pair, the last N succeeded datasets are kept with everything they reference, and
// older runs' objects go. Runs that built nothing (every shard the last dataset's files) hold that
// dataset and count with it: of them, the first and the newest run are kept, the ones between go.
// What is referenced is read from the records, never guessed from names:
// a run's checkpoint records may point at files under another run's prefix (checkpoints reused
// across runs), and a dataset (its manifest, and its run record's output files) may list files
// under another run's output prefix (shards shared by reference), so those files stay wherever
// they live.
//
// Kept:
//   - every object under the prefixes of the N newest succeeded runs' outputs, and every output
//     file their records list (wherever it lives);
//   - the checkpoints (files and their markers) that the newest succeeded run's, every active
//     run's and every failed run's newer than its pair's oldest kept dataset (for its rerun)
//     checkpoint records list, OF EVERY PAIR (reuse is by content and crosses pairs: another
//     pair's run may point at this pair's files for a shared mkt_/tri_/var_/csi_ table): the one set
//     of checkpoints the next runs can build on; older kept datasets do not need theirs (the output
//     is a copy), so theirs go unless listed there;
//   - anything of an active run, and of a failed run newer than the oldest kept dataset (or of a
//     pair with none yet) but what its merge wrote: a failed run whose record has no output has no
//     dataset (no manifest was written), a rerun's merge writes its files again, and a merge that
//     filled the disk leaves gigabytes there. Its checkpoints stay for that rerun, those it
//     reused from an older run's folder too (above).
// Removed: the rest of the objects of runs older than the oldest kept dataset (succeeded, failed),
// with the files they listed from older datasets' folders (shared shards) that no kept dataset
// lists, and the checkpoints of the older kept datasets, with the checkpoint files their records
// list under other runs' folders that nothing kept points at. A file kept because the newest run
// pointed at it outlives its own run's collection (a refresh's earlier files, a reused
// checkpoint); the newest run's records list it, so it goes when the last run listing it is
// trimmed or removed once no newer run points at it. An output file kept so in a removed run's
// folder is named in that run's record (`collected.left`): a kept dataset can stop listing it
// without being removed (a rerun builds the shards it shared), so each retention checks those
// names against the kept datasets' lists and removes the ones none lists. Scratch tables in
// BigQuery expire by themselves.

import type { Config } from './config.js';
import { MARKER_NAME, allPairs, paths } from './naming.js';
import type { CheckpointRecord, Logger, ObjectStore, RunOutput, RunRecord, RunStore, StoredObject, Clock } from './ports.js';
import { reuseIndex } from './chain/reuse.js';
import { isTerminal, loadManifest } from './chain/runs.js';
import { mapLimit } from './concurrency.js';

export interface RetentionDeps {
  store: RunStore;
  staging: ObjectStore;
  output: ObjectStore;
  clock: Clock;
  logger: Logger;
  config: Pick<Config, 'currencies'>;
}

export interface RetentionResult {
  pair: string;
  keep: number;
  /** Set when nothing was removed: the lists and counts say what would have gone. */
  dryRun?: true;
  /** Succeeded runs whose datasets are kept, newest first. */
  kept: string[];
  /** Runs whose objects were all removed (their records stay, marked). */
  removed: string[];
  /** Kept datasets whose checkpoints were removed. */
  trimmed: string[];
  /** Failed runs without a dataset whose unfinished output was removed (their checkpoints stay, for a rerun). */
  cleared: string[];
  objects: number;
  bytes: number;
}

/**
 * Requests in flight at once (sizes of shared files, checkpoint records): each a round trip, which
 * one after another held a finished run for about 2 s.
 */
const REQUESTS_AT_ONCE = 16;

const byNewest = (a: RunRecord, b: RunRecord) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0);

/**
 * Of a pair's runs, the datasets kept (its last `keep` succeeded ones, newest first; a dataset an
 * earlier call removed is not there to keep) and the failed runs newer than the oldest of them (every
 * failed run while none is kept): those keep their checkpoints for a rerun.
 */
function keptRuns(runs: readonly RunRecord[], keep: number): { kept: RunRecord[]; newerFailed: RunRecord[]; copies: RunRecord[]; datasets: number } {
  const listed = runs.filter((r) => r.collected?.scope !== 'all');
  // The datasets, newest first, each with its runs: a run that built nothing holds the dataset
  // before it (the same files), and counts with it. Three runs over a weekend with no new minutes
  // would otherwise push three older versions out. Chained through runs removed before (a repeat
  // between two kept ones), which then drop out.
  const datasets: RunRecord[][] = [];
  for (const run of runs.filter((r) => r.state === 'succeeded').sort(byNewest)) {
    const newer = datasets.at(-1);
    if (newer && repeats(newer.at(-1)!, run)) newer.push(run);
    else datasets.push([run]);
  }
  const keptSets = datasets.map((d) => d.filter((r) => r.collected?.scope !== 'all')).filter((d) => d.length > 0).slice(0, keep);
  // Of each kept dataset, its newest run (the next versions follow it) and its first (whose folder
  // holds the files); the copies between them go.
  const kept = keptSets.flatMap((d) => (d.length > 1 ? [d[0]!, d.at(-1)!] : d));
  const copies = keptSets.flatMap((d) => d.slice(1, -1));
  const oldestKept = kept.at(-1)?.createdAt;
  return { kept, copies, datasets: keptSets.length, newerFailed: listed.filter((r) => r.state === 'failed' && (oldestKept === undefined || r.createdAt >= oldestKept)) };
}

/**
 * Whether `later` repeats `earlier`'s dataset: it shared from it (startRun's plan) and built
 * nothing, so it lists the very same data files, for the same window and label rows. Files a
 * dataset lists are never written again (a rerun of their run is refused while another lists them).
 */
function repeats(later: RunRecord, earlier: RunRecord): boolean {
  if (later.sharing?.from !== earlier.runId || !later.output || !earlier.output) return false;
  if (later.window.start !== earlier.window.start || later.window.end !== earlier.window.end || later.labelRows !== earlier.labelRows) return false;
  if (later.output.files.length !== earlier.output.files.length) return false;
  const files = new Set(earlier.output.files);
  return later.output.files.every((f) => files.has(f));
}

/** What the runs the next runs build on point at (referencedCheckpoints). */
export interface Referenced {
  /** Their checkpoint files with the markers beside them, and their run manifests. */
  objects: Set<string>;
  /**
   * The reuse index as listed before the runs were read, and the entries of it those runs name;
   * undefined where some run's fingerprints could not be read (nothing is pruned then). `pruned`
   * once an entry-removing call has used it (collectAll shares one Referenced between pairs).
   */
  index?: { listed: StoredObject[]; named: Set<string>; pruned?: boolean };
}

/**
 * Checkpoint objects that any pair's newest succeeded run, any active run, or any failed run newer
 * than its pair's oldest kept dataset (of the last `keep`) lists: what the next runs of every pair
 * may build on, and what a rerun of such a failed run merges (its checkpoints reused from another
 * run's folder too), wherever the files live. With them, the reuse index entries of those
 * checkpoints (pruneIndex): named by the records' fingerprints, and by an active run's manifest
 * for every feature (its landings index a checkpoint before recording it). The index is listed
 * first: an entry it lists was written by a run active then, so that run is read below as active,
 * or, finished since, by its records.
 */
export async function referencedCheckpoints(deps: RetentionDeps, keep: number): Promise<Referenced> {
  const listed = await deps.staging.list(reuseIndex.root);
  const active = await deps.store.listActiveRuns();
  const runs = [...active];
  for (const pair of allPairs(deps.config.currencies)) {
    const { kept, newerFailed } = keptRuns(await deps.store.listRuns(pair), keep);
    if (kept[0]) runs.push(kept[0]);
    runs.push(...newerFailed);
  }
  const objects = new Set<string>();
  const named = new Set<string>();
  /** Features with a record that names no fingerprint (recorded before records named theirs): all their entries stay. */
  const unnamed = new Set<string>();
  for (const run of runs) {
    objects.add(run.manifestObject);
    for (const record of await deps.store.listCheckpoints(run.runId)) {
      for (const name of checkpointObjects(record)) objects.add(name);
      if (record.fingerprint) named.add(reuseIndex.entry(record.feature, record.fingerprint));
      else unnamed.add(record.feature);
    }
  }
  let readable = true;
  // One at a time: at 17,038 columns a manifest is 6 MB of JSON, and the reconciler may find 28 runs active.
  for (const run of active) {
    try {
      for (const f of (await loadManifest(deps, run)).features) if (f.fingerprint) named.add(reuseIndex.entry(f.feature, f.fingerprint));
    } catch {
      readable = false; // a run being created (or not its manifest): its fingerprints are unknown, so no entry can be judged
    }
  }
  for (const o of listed) if (unnamed.has(indexedFeature(o.name))) named.add(o.name);
  return { objects, ...(readable ? { index: { listed, named } } : {}) };
}

/** The feature of a reuse index entry's name (`checkpoints/index/<feature>/<fingerprint>.json`). */
const indexedFeature = (name: string): string => name.slice(reuseIndex.root.length, name.indexOf('/', reuseIndex.root.length));

/**
 * Removes the reuse index entries (shared/chain/reuse.ts) that no run the next runs build on names:
 * a feature is indexed again whenever its fingerprint moves, and every refresh moves all 667 (their
 * window grows), so the index gained a run's worth of entries with each refresh and never lost one
 * (their files, shared with the newer checkpoints, stay). The index then follows the one set of
 * checkpoints retention keeps. A run started after the runs were read that indexes a checkpoint
 * before the listing loses that entry: its next run extracts that table again (a miss, never a
 * stale reuse).
 */
async function pruneIndex(staging: ObjectStore, referenced: Referenced, result: RetentionResult, dryRun: boolean): Promise<void> {
  if (!referenced.index || referenced.index.pruned) return;
  referenced.index.pruned = true;
  const { listed, named } = referenced.index;
  await discard(staging, listed.filter((o) => !named.has(o.name)), result, dryRun, new Set());
}

/**
 * Applies retention to one pair; safe to call again and again (and while other pairs run).
 * `referenced` gives referencedCheckpoints(deps, keep) (collectAll's, once for every pair), called
 * only when some run is to be removed or trimmed, computed here when not given. With `dryRun`,
 * nothing is removed or marked: the result says what would be (`bqx gc --dry-run`).
 */
export async function collectGarbage(deps: RetentionDeps, pair: string, keep: number, referenced?: () => Promise<Referenced>, dryRun = false): Promise<RetentionResult> {
  const result: RetentionResult = { pair, keep, ...(dryRun ? { dryRun: true as const } : {}), kept: [], removed: [], trimmed: [], cleared: [], objects: 0, bytes: 0 };
  const runs = await deps.store.listRuns(pair);
  const { kept, newerFailed, copies, datasets } = keptRuns(runs, keep);
  result.kept = kept.map((r) => r.runId);
  const oldestKept = kept.at(-1)?.createdAt;
  const active = runs.filter((r) => !isTerminal(r.state));
  const protectedOutput = new Set<string>();
  for (const run of [...kept, ...active]) {
    if (run.output) for (const name of outputObjects(run.output)) protectedOutput.add(name);
  }

  // What the merge of a failed run without a dataset wrote (older failed runs go whole, below).
  for (const run of newerFailed.filter((r) => !r.output)) {
    if ((await remove(deps.output, paths.outputDir(run.pair, run.runId), protectedOutput, result, dryRun)) > 0) result.cleared.push(run.runId);
  }
  if (oldestKept === undefined) return result; // nothing to measure "older" against: no run goes

  const stale = [...copies, ...runs.filter((r) => isTerminal(r.state) && r.createdAt < oldestKept && r.collected?.scope !== 'all')];
  const trimmable = kept.slice(1).filter((r) => r.collected === undefined);
  // Everything the newest, the active and the newer failed runs of every pair point at: read only
  // when a run is to go or be trimmed (the reconciler calls this every 10 minutes for 28 pairs,
  // and those records are 667 documents a run in Firestore).
  const references = stale.length + trimmable.length === 0 ? undefined : await (referenced ?? (() => referencedCheckpoints(deps, keep)))();
  const protectedStaging = references?.objects ?? new Set<string>();
  // Before any run is marked collected: a call cut short after that would find nothing to remove
  // next time, hence no references, and the entries would stay for good.
  if (references) await pruneIndex(deps.staging, references, result, dryRun);
  /** Staging and output objects this call has removed (or, dry, would have): each is counted once. */
  const gone = new Set<string>();
  const outputGone = new Set<string>();
  for (const run of [...stale, ...trimmable]) {
    const scope = stale.includes(run) ? 'all' : 'checkpoints';
    let left: string[] = [];
    // A kept dataset keeps its frozen run manifest (small, and what `bqx status` reads).
    const keepHere = scope === 'all' ? protectedStaging : new Set([...protectedStaging, run.manifestObject]);
    await remove(deps.staging, `runs/${run.runId}/`, keepHere, result, dryRun, gone);
    const records = await deps.store.listCheckpoints(run.runId);
    await removeListed(deps.staging, records.flatMap(checkpointObjects).filter((o) => !o.startsWith(`runs/${run.runId}/`)), keepHere, result, dryRun, gone);
    if (scope === 'all') {
      // The shards it shared from older datasets' folders by reference are among its files.
      const listed = run.output ? outputObjects(run.output) : [];
      const own = paths.outputDir(run.pair, run.runId);
      const inFolder = await deps.output.list(own);
      // What a kept dataset lists of its folder stays, named in its record (`left`, below).
      left = inFolder.filter((o) => protectedOutput.has(o.name)).map((o) => o.name);
      await discard(deps.output, inFolder.filter((o) => !protectedOutput.has(o.name) && !outputGone.has(o.name)), result, dryRun, outputGone);
      // Those files outlived their own run only for this one: they go with it unless a kept dataset lists them too.
      await discardNamed(deps.output, listed.filter((o) => !o.startsWith(own) && !protectedOutput.has(o)), result, dryRun, outputGone);
      result.removed.push(run.runId);
      if (dryRun) continue;
      // Its checkpoint records would point at files that are gone: only the run record stays.
      await mapLimit(records, REQUESTS_AT_ONCE, (record) => deps.store.deleteCheckpoint(run.runId, record.feature));
    } else {
      result.trimmed.push(run.runId);
      if (dryRun) continue;
    }
    const at = deps.clock.now().toISOString();
    const collected: NonNullable<RunRecord['collected']> = { at, scope, ...(left.length > 0 ? { left } : {}) };
    await deps.store.updateRun(run.runId, (r) => (isTerminal(r.state) ? { ...r, collected } : undefined));
  }
  // Files left in removed runs' folders that no kept or active dataset lists any more (a kept one
  // rerun without sharing them, or removed since): checked by name, no folder listed.
  for (const run of runs) {
    const left = run.collected?.scope === 'all' ? run.collected.left : undefined;
    if (!left || left.every((o) => protectedOutput.has(o))) continue;
    await discardNamed(deps.output, left.filter((o) => !protectedOutput.has(o)), result, dryRun, outputGone);
    if (dryRun) continue;
    const still = left.filter((o) => protectedOutput.has(o));
    await deps.store.updateRun(run.runId, (r) => {
      if (r.collected?.scope !== 'all') return undefined;
      const { left: _, ...collected } = r.collected;
      return { ...r, collected: { ...collected, ...(still.length > 0 ? { left: still } : {}) } };
    });
  }
  if (!dryRun && result.objects + result.removed.length + result.trimmed.length + result.cleared.length > 0) {
    deps.logger.info(`retention: kept ${datasets} dataset(s) (${kept.length} run(s)), removed ${result.removed.length} run(s), trimmed ${result.trimmed.length}, cleared ${result.cleared.length} failed run(s)' output: ${result.objects} object(s), ${result.bytes} bytes`, {
      pair,
      step: 'retention',
    });
  }
  return result;
}

/** Retention for every pair given (the CLI's `bqx gc`, the reconciler). */
export async function collectAll(deps: RetentionDeps, pairs: readonly string[], keep: number, dryRun = false): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  let referenced: Promise<Referenced> | undefined;
  const once = () => (referenced ??= referencedCheckpoints(deps, keep));
  // The first pair that reads the references prunes the index (every pair's) and counts it.
  for (const pair of pairs) results.push(await collectGarbage(deps, pair, keep, once, dryRun));
  return results;
}

/** A checkpoint's files and the marker beside each (the marker says the files are complete). */
function checkpointObjects(record: CheckpointRecord): string[] {
  const names = new Set<string>();
  for (const file of record.files) {
    names.add(file);
    names.add(`${file.slice(0, file.lastIndexOf('/') + 1)}${MARKER_NAME}`);
  }
  return [...names];
}

/**
 * The objects of a dataset: its manifest, its report and every file of its groups, as its run
 * record lists them (the record's files are the manifest's, shard after shard, written from the
 * same merge result). Parsing the manifests instead (6 MB of JSON each at 17,038 columns, for
 * their column mapping and ledger) took about 0.2 s of every retention after a run.
 */
function outputObjects(output: RunOutput): string[] {
  return [output.manifest, output.report, ...output.files];
}

/**
 * Removes the objects under `prefix` that are not protected (with `dryRun`, none), counting them in
 * `result` and adding their names to `gone`; how many went (would go).
 */
async function remove(store: ObjectStore, prefix: string, keep: Set<string>, result: RetentionResult, dryRun: boolean, gone = new Set<string>()): Promise<number> {
  const objects = await store.list(prefix);
  return discard(store, objects.filter((o) => !keep.has(o.name) && !gone.has(o.name)), result, dryRun, gone);
}

/**
 * Deletes the objects listed (with `dryRun`, none), counting them in `result` and adding their names
 * to `gone`; how many went (would go). By exact name, as listed: a prefix delete would list the
 * prefix again (and, with some kept, a trimmed refresh dropping one file of each of 667 checkpoints
 * was a listing of each folder).
 */
async function discard(store: ObjectStore, doomed: readonly StoredObject[], result: RetentionResult, dryRun: boolean, gone: Set<string>): Promise<number> {
  for (const o of doomed) gone.add(o.name);
  if (doomed.length === 0) return 0;
  const removed = dryRun ? doomed.length : await store.deleteObjects(doomed.map((o) => o.name));
  result.objects += removed;
  result.bytes += doomed.reduce((n, o) => n + o.size, 0);
  return removed;
}

/**
 * Deletes the objects named that are still there and not already in `gone` (with `dryRun`, none),
 * counting them in `result` and adding their names to `gone`: an output file two removed runs list
 * is counted once, in a dry run too.
 */
async function discardNamed(store: ObjectStore, names: readonly string[], result: RetentionResult, dryRun: boolean, gone: Set<string>): Promise<void> {
  const candidates = [...new Set(names.filter((n) => !gone.has(n)))];
  if (candidates.length === 0) return;
  const sizes = await store.sizes(candidates);
  await discard(store, candidates.flatMap((name, i) => (sizes[i] === undefined ? [] : [{ name, size: sizes[i]! }])), result, dryRun, gone);
  for (const n of candidates) gone.add(n);
}

/**
 * Removes the objects named (wherever they live) that are not protected, not already in `gone`,
 * and still there, as `remove` does. They are found by listing the run folders they lie in, once
 * each: on Cloud Storage a listing answers for 1,000 objects and a folder already emptied (the
 * files of an earlier run that several later runs list) for none, where a size each was a request
 * each; none is listed when the newest run still points at every one.
 */
async function removeListed(store: ObjectStore, names: readonly string[], keep: Set<string>, result: RetentionResult, dryRun: boolean, gone: Set<string>): Promise<void> {
  const candidates = new Set(names.filter((n) => !keep.has(n) && !gone.has(n)));
  const there: StoredObject[] = [];
  for (const folder of new Set([...candidates].map(runFolder))) {
    for (const o of await store.list(folder)) if (candidates.has(o.name)) there.push(o);
  }
  for (const n of candidates) gone.add(n); // those no longer there too: not looked for again
  await discard(store, there, result, dryRun, gone);
}

/** The run folder a staging object lies in (`runs/{runId}/`); the name itself if it lies in none. */
function runFolder(name: string): string {
  const parts = name.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : name;
}
