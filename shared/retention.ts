// Retention: per pair, the last N succeeded datasets are kept with everything they reference, and
// older runs' objects go. What is referenced is read from the records, never guessed from names:
// a run's checkpoint records may point at files under another run's prefix (checkpoints reused
// across runs), and a dataset's manifest may list files under another run's output prefix (shards
// shared by reference), so those files stay wherever they live.
//
// Kept:
//   - every object under the prefixes of the N newest succeeded runs' outputs, and every output
//     object their manifests list (wherever it lives);
//   - the checkpoints (files and their markers) that the newest succeeded run's and every active
//     run's checkpoint records list, OF EVERY PAIR (reuse is by content and crosses pairs: another
//     pair's run may point at this pair's files for a shared mkt_/tri_/var_/csi_ table): the one set
//     of checkpoints the next runs can build on; older kept datasets do not need theirs (the output
//     is a copy), so theirs go unless listed there;
//   - anything of an active run, and of a failed run newer than the oldest kept dataset.
// Removed: the rest of the objects of runs older than the oldest kept dataset (succeeded, failed),
// with the files they listed from older datasets' folders (shared shards) that no kept dataset
// lists, and the checkpoints of the older kept datasets. Scratch tables in BigQuery expire by themselves.

import type { Config } from './config.js';
import { MARKER_NAME, allPairs, paths } from './naming.js';
import type { CheckpointRecord, Logger, ObjectStore, RunRecord, RunStore, Clock } from './ports.js';
import { isTerminal } from './chain/runs.js';
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
  /** Succeeded runs whose datasets are kept, newest first. */
  kept: string[];
  /** Runs whose objects were all removed (their records stay, marked). */
  removed: string[];
  /** Kept datasets whose checkpoints were removed. */
  trimmed: string[];
  objects: number;
  bytes: number;
}

/**
 * Deletes in flight at once: a trimmed refresh drops one checkpoint file of each of 667 features,
 * each a round trip (a request to Cloud Storage, a list and an unlink on a folder); one after
 * another they held a finished run for about 2 s.
 */
const DELETES_AT_ONCE = 16;

const byNewest = (a: RunRecord, b: RunRecord) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0);

/**
 * Checkpoint objects that any pair's newest succeeded run or any active run lists: what the next
 * runs of every pair may build on, wherever the files live.
 */
export async function referencedCheckpoints(deps: RetentionDeps): Promise<Set<string>> {
  const runs = [...(await deps.store.listActiveRuns())];
  for (const pair of allPairs(deps.config.currencies)) {
    const newest = (await deps.store.listRuns(pair)).filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all').sort(byNewest)[0];
    if (newest) runs.push(newest);
  }
  const names = new Set<string>();
  for (const run of runs) {
    names.add(run.manifestObject);
    for (const record of await deps.store.listCheckpoints(run.runId)) for (const name of checkpointObjects(record)) names.add(name);
  }
  return names;
}

/**
 * Applies retention to one pair; safe to call again and again (and while other pairs run).
 * `referenced` is referencedCheckpoints(deps), computed here when not given.
 */
export async function collectGarbage(deps: RetentionDeps, pair: string, keep: number, referenced?: Set<string>): Promise<RetentionResult> {
  const result: RetentionResult = { pair, keep, kept: [], removed: [], trimmed: [], objects: 0, bytes: 0 };
  const runs = await deps.store.listRuns(pair);
  // A dataset an earlier call removed is not there to keep.
  const succeeded = runs.filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all').sort(byNewest);
  const kept = succeeded.slice(0, keep);
  result.kept = kept.map((r) => r.runId);
  if (kept.length === 0) return result; // nothing to measure "older" against: nothing goes
  const oldestKept = kept[kept.length - 1]!.createdAt;
  const active = runs.filter((r) => !isTerminal(r.state));

  // Everything the newest and the active runs of every pair point at.
  const protectedStaging = referenced ?? (await referencedCheckpoints(deps));
  const protectedOutput = new Set<string>();
  for (const run of [...kept, ...active]) {
    if (run.output) for (const name of await outputObjects(deps.output, run.output.manifest, run.output.report)) protectedOutput.add(name);
  }
  const extendsProtectedOutput = extendedBy(protectedOutput);

  const stale = runs.filter((r) => isTerminal(r.state) && r.createdAt < oldestKept && r.collected?.scope !== 'all');
  const trimmable = kept.slice(1).filter((r) => r.collected === undefined);
  for (const run of [...stale, ...trimmable]) {
    const scope = stale.includes(run) ? 'all' : 'checkpoints';
    // A kept dataset keeps its frozen run manifest (small, and what `bqx status` reads).
    const keepHere = scope === 'all' ? protectedStaging : new Set([...protectedStaging, run.manifestObject]);
    await remove(deps.staging, `runs/${run.runId}/`, keepHere, result);
    if (scope === 'all') {
      // Read before its manifest goes: the shards it shared from older datasets' folders by reference.
      const listed = run.output ? await outputObjects(deps.output, run.output.manifest, run.output.report) : [];
      await remove(deps.output, paths.outputDir(run.pair, run.runId), protectedOutput, result);
      // Those files outlived their own run only for this one: they go with it unless a kept dataset lists them too.
      const own = paths.outputDir(run.pair, run.runId);
      await mapLimit(listed.filter((o) => !o.startsWith(own) && !protectedOutput.has(o)), DELETES_AT_ONCE, async (name) => {
        const size = await deps.output.size(name);
        if (size === undefined || extendsProtectedOutput(name)) return;
        result.objects += await deps.output.deletePrefix(name);
        result.bytes += size;
      });
      // Its checkpoint records would point at files that are gone: only the run record stays.
      await mapLimit(await deps.store.listCheckpoints(run.runId), DELETES_AT_ONCE, (record) => deps.store.deleteCheckpoint(run.runId, record.feature));
      result.removed.push(run.runId);
    } else {
      result.trimmed.push(run.runId);
    }
    const at = deps.clock.now().toISOString();
    await deps.store.updateRun(run.runId, (r) => (isTerminal(r.state) ? { ...r, collected: { at, scope } } : undefined));
  }
  if (result.removed.length + result.trimmed.length > 0) {
    deps.logger.info(`retention: kept ${kept.length} dataset(s), removed ${result.removed.length} run(s), trimmed ${result.trimmed.length}: ${result.objects} object(s), ${result.bytes} bytes`, {
      pair,
      step: 'retention',
    });
  }
  return result;
}

/** Retention for every pair given (the CLI's `bqx gc`, the reconciler). */
export async function collectAll(deps: RetentionDeps, pairs: readonly string[], keep: number): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  const referenced = await referencedCheckpoints(deps);
  for (const pair of pairs) results.push(await collectGarbage(deps, pair, keep, referenced));
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

/** The objects a dataset's manifest lists: its groups' and shards' files, the manifest and report. */
async function outputObjects(output: ObjectStore, manifest: string, report: string): Promise<string[]> {
  const names = [manifest, report];
  if ((await output.size(manifest)) === undefined) return names;
  const m = JSON.parse(Buffer.from(await output.read(manifest)).toString('utf8')) as {
    groups?: { objects?: string[] }[];
    shards?: { groups?: { objects?: string[] }[] }[];
  };
  for (const g of m.groups ?? []) names.push(...(g.objects ?? []));
  for (const s of m.shards ?? []) for (const g of s.groups ?? []) names.push(...(g.objects ?? []));
  return names;
}

/** Removes the objects under `prefix` that are not protected, counting them. */
async function remove(store: ObjectStore, prefix: string, keep: Set<string>, result: RetentionResult): Promise<void> {
  const objects = await store.list(prefix);
  const doomed = objects.filter((o) => !keep.has(o.name));
  if (doomed.length === 0) return;
  if (doomed.length === objects.length) {
    result.objects += await store.deletePrefix(prefix);
  } else {
    const extendsKept = extendedBy(keep);
    // deletePrefix of an exact name: safe only when no kept name extends it.
    const deleted = await mapLimit(doomed, DELETES_AT_ONCE, (o) => (extendsKept(o.name) ? Promise.resolve(0) : store.deletePrefix(o.name)));
    result.objects += deleted.reduce((n, k) => n + k, 0);
  }
  result.bytes += doomed.reduce((n, o) => n + o.size, 0);
}

/**
 * Whether a name in `names` other than the one asked about starts with it (deleting that name as a
 * prefix would take it too). The names that start with a name sort right after it, so `names` is
 * sorted once and each question is one binary search: a scan of the whole set per object was
 * names x objects string comparisons (tens of thousands of kept files at full size, times the
 * files of each removed run).
 */
export function extendedBy(names: Iterable<string>): (name: string) => boolean {
  const sorted = [...names].sort();
  return (name) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= name) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length && sorted[lo]!.startsWith(name);
  };
}
