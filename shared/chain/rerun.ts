// rerun: reopen a run for what is missing, for its merge only, or for named features (their
// checkpoints are dropped and extracted again). The pair must not have another active run.

import { ConflictError, InputError, assertIdentifier, paths } from '../naming.js';
import { mapLimit } from '../concurrency.js';
import type { RunRecord } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { attributes } from './messages.js';
import { filesPresent, loadManifest, moved, requireRun } from './runs.js';
import { damagedTaken, previousOutput } from './shareShards.js';
import { planMerge } from '../planner.js';
import { fanOut } from './startRun.js';
import { checkRoom, estimateWrites, type RunWrites } from './diskRoom.js';
import { unionGates } from '../profile/gates.js';
import type { RunManifest } from '../manifest.js';
import { readAgainNow } from './frozenTables.js';

export type RerunMode = 'missing' | 'merge' | 'features';

export interface RerunRequest {
  mode: RerunMode;
  features?: string[];
}

export function decodeRerunRequest(value: unknown): RerunRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError('rerun request must be a JSON object');
  const r = value as Record<string, unknown>;
  if (r.mode !== 'missing' && r.mode !== 'merge' && r.mode !== 'features') throw new InputError(`mode ${JSON.stringify(r.mode)} must be "missing", "merge" or "features"`);
  if (r.mode !== 'features') {
    if (r.features !== undefined) throw new InputError('features are only given with mode "features"');
    return { mode: r.mode };
  }
  if (!Array.isArray(r.features) || r.features.length === 0) throw new InputError('mode "features" needs a non-empty list of features');
  return { mode: 'features', features: r.features.map((f) => assertIdentifier(f, 'feature')) };
}

export async function rerun(deps: ChainDeps, runId: string, request: RerunRequest): Promise<{ run: RunRecord; features: string[] }> {
  const run = await requireRun(deps, runId);
  if (run.collected?.scope === 'all') throw new ConflictError(`run ${runId}'s checkpoints and dataset were removed by retention (${run.collected.at}): start a new run instead`);
  const active = await deps.store.activeRun(run.pair);
  if (active && active.runId !== runId) throw new ConflictError(`pair ${run.pair} has another active run ${active.runId}`);
  await refuseShared(deps, run);
  const manifest = await loadManifest(deps, run);
  const known = new Set(manifest.features.map((f) => f.feature));
  const records = await deps.store.listCheckpoints(runId);
  const landed = new Set(records.map((c) => c.feature));
  // A kept dataset that retention trimmed lost only the checkpoints no newer run points at (often
  // none: a refresh or a reusing run points at them all). Those whose files are gone count as
  // missing: "missing" extracts them again, the other modes need them and say so.
  const lost = run.collected ? (await withFilesGone(deps, records, (r) => r.files)).map((r) => r.feature) : [];
  const lostNote = lost.length > 0 ? `; ${lost.length} feature(s)' checkpoints were removed by retention (${run.collected!.at})` : '';

  let features: string[] = [];
  /** Checkpoints dropped to be extracted again, once every check has passed. */
  let drop: string[] = [];
  if (request.mode === 'features') {
    const unknown = request.features!.filter((f) => !known.has(f));
    if (unknown.length > 0) throw new InputError(`not in run ${runId}'s manifest: ${unknown.join(', ')}`);
    features = [...new Set(request.features!)];
    const named = new Set(features);
    const others = lost.filter((f) => !named.has(f));
    if (others.length > 0) throw new ConflictError(`run ${runId} needs ${others.length} feature(s) extracted again that are not named${lostNote}: rerun with mode "missing" first (bqx rerun --missing)`);
    drop = features;
  } else if (request.mode === 'missing') {
    const gone = new Set(lost);
    features = manifest.features.map((f) => f.feature).filter((f) => !landed.has(f) || gone.has(f));
    drop = lost;
  } else if (landed.size - lost.length < known.size) {
    throw new ConflictError(`run ${runId} has ${known.size - landed.size + lost.length} feature(s) without a checkpoint${lostNote}: rerun with mode "missing" first (bqx rerun --missing)`);
  }
  // A refresh's feature reads only its new minutes and lists the earlier run's files for the rest:
  // where those are gone, extracting it again cannot give its rows.
  const extracting = new Set(features);
  const noEarlier = await withFilesGone(deps, manifest.features.filter((f) => extracting.has(f.feature) && f.incremental), (f) => f.incremental!.files);
  if (noEarlier.length > 0) {
    const named = noEarlier.slice(0, 3).map((f) => f.feature).join(', ');
    throw new ConflictError(`run ${runId} is a refresh: ${noEarlier.length} feature(s) to extract again (${named}${noEarlier.length > 3 ? ', ...' : ''}) read only the minutes after run ${noEarlier[0]!.incremental!.from}'s files, which retention removed${lostNote}: start a new run instead (bqx run ${run.pair}, or --refresh)`);
  }

  // A run that shared shards with an earlier dataset retention has removed since (its manifest
  // gone), or whose files are damaged, builds them itself this time: its checkpoints hold every
  // row, the earlier files among them.
  const earlier = run.sharing ? await previousOutput(deps, run.sharing.from) : undefined;
  const damaged = earlier?.manifest ? await damagedTaken(deps, earlier, run.sharing!, planMerge(manifest, deps.config).groups.map((g) => g.index)) : undefined;
  const unshared = run.sharing !== undefined && (earlier?.manifest === undefined || damaged !== undefined);
  const why = unshared ? `${run.sharing!.from}, whose shards it shared, ${damaged ? `has damaged files (${damaged})` : 'was removed by retention'}` : '';
  const target = request.mode === 'merge' || features.length === 0 ? 'merging' : 'extracting';
  const readNow = await readAgainNow(deps, run, manifest, features);
  // Features whose checkpoint the run had reused are extracted this time: counted so.
  const reusedBefore = new Set(records.filter((c) => c.reusedFrom).map((c) => c.feature));
  const reusedAgain = features.filter((f) => reusedBefore.has(f)).length;
  if (deps.config.diskCheck) await checkRoom(deps, await rerunWrites(deps, unshared ? withoutSharing(run, why) : run, manifest, features));
  for (const f of drop) await dropCheckpoint(deps, runId, f);
  const now = deps.clock.now();
  const reason = `rerun (${request.mode}${features.length ? `: ${features.length} feature(s)` : ''})`;
  const { run: reopened } = await deps.store.updateRun(runId, (r) => {
    // Reopened, its checkpoints are whole again: retention looks at it afresh once it ends.
    const { collected: _, ...open } = moved(unshared ? withoutSharing(r, why) : r, target, now, reason);
    // The run keeps its gates; this rerun's (BQX_GATES and `--gate` where it runs) are added.
    const gates = unionGates(r.gates ?? [], deps.config.profile.gates);
    return { ...open, reconcileAttempts: 0, mergeAttempts: target === 'merging' ? r.mergeAttempts + 1 : r.mergeAttempts, warnings: [], gates, ...recounted(r.reuse, reusedAgain) };
  }).catch((error: Error) => {
    throw new ConflictError(error.message);
  });
  deps.logger.info(reason, { runId, pair: run.pair, step: 'rerun' });
  if (readNow.length > 0) deps.logger.info(`${readNow.length} feature(s) read as their tables are now, not as the run froze them: ${readNow.slice(0, 5).join(', ')}${readNow.length > 5 ? ', ...' : ''}`, { runId, pair: run.pair, step: 'rerun' });
  if (unshared) deps.logger.info(`${why}: the merge builds every shard from the checkpoints`, { runId, pair: run.pair, step: 'rerun' });
  if (target === 'merging') await deps.bus.publish(deps.config.topics.mergeRequests, { runId, pair: run.pair }, attributes({ pair: run.pair, runId }));
  else await fanOut(deps, run, features);
  return { run: reopened, features };
}

/**
 * A rerun's merge writes the run's files again, in place, from the warehouse as it is now (an
 * append since fills in label rows): a later dataset that shares those files by reference would
 * change under it, its report and profile no longer its own. Refused while another dataset lists
 * any of them.
 */
async function refuseShared(deps: ChainDeps, run: RunRecord): Promise<void> {
  if (!run.output) return;
  const own = paths.outputDir(run.pair, run.runId);
  const sharing = (await deps.store.listRuns(run.pair)).filter(
    (r) => r.runId !== run.runId && r.collected?.scope !== 'all' && r.output?.files.some((f) => f.startsWith(own)),
  );
  if (sharing.length === 0) return;
  const named = sharing.map((r) => r.runId).join(', ');
  throw new ConflictError(`run ${run.runId}'s files are shared by ${sharing.length === 1 ? 'the dataset of run' : 'the datasets of runs'} ${named}: rerunning it would rewrite ${sharing.length === 1 ? 'that dataset' : 'those datasets'} too; start a new run instead (bqx run ${run.pair})`);
}

/**
 * What a rerun writes: the checkpoints of the features it extracts, and the merge's dataset, less
 * what an earlier merge of the run already wrote there (the merge writes the same names again:
 * after a merge that ran out of disk, the files it left count as room).
 */
async function rerunWrites(deps: ChainDeps, run: RunRecord, manifest: RunManifest, features: readonly string[]): Promise<RunWrites> {
  const extracting = new Set(features);
  const only = { ...manifest, features: manifest.features.map((f) => (extracting.has(f.feature) ? f : { ...f, reuse: f.reuse ?? { runId: run.runId, entry: 'landed' } })) };
  const previous = run.refresh ? await deps.store.getRun(run.refresh.from) : undefined;
  const writes = estimateWrites(only, run.sharing, deps.config, previous && run.refresh ? { end: run.refresh.previousWindow.end, rows: previous.labelRows } : undefined);
  const written = (await deps.output.list(paths.outputDir(run.pair, run.runId))).reduce((n, o) => n + o.size, 0);
  return { staging: writes.staging, output: Math.max(0, writes.output - written) };
}

/** The run's reuse counts with `n` reused features extracted by a rerun (reason `rerun`). */
function recounted(reuse: RunRecord['reuse'], n: number): Pick<RunRecord, 'reuse'> {
  if (!reuse || n === 0) return {};
  return { reuse: { reused: reuse.reused - n, extracted: reuse.extracted + n, reasons: { ...reuse.reasons, rerun: (reuse.reasons.rerun ?? 0) + n } } };
}

/** A checkpoint's record and files go, to be extracted again. */
async function dropCheckpoint(deps: ChainDeps, runId: string, feature: string): Promise<void> {
  await deps.store.deleteCheckpoint(runId, feature);
  await deps.staging.deletePrefix(paths.featureDir(runId, feature));
}

/** Of `items`, in order, those with a file of `filesOf` missing (retention removed it). */
async function withFilesGone<T>(deps: ChainDeps, items: readonly T[], filesOf: (item: T) => readonly string[]): Promise<T[]> {
  const present = await mapLimit(items, 16, (item) => filesPresent(deps, filesOf(item)));
  return items.filter((_, i) => !present[i]);
}

/** The run as one that shares nothing (the merge then builds every shard, every group), its refresh record saying so. */
function withoutSharing(run: RunRecord, why: string): RunRecord {
  const { sharing, ...rest } = run;
  const refresh = rest.refresh;
  if (!refresh || !sharing) return rest;
  const ids = [...(refresh.shards?.shared ?? []), ...(refresh.shards?.rebuilt ?? [])].sort();
  return { ...rest, refresh: { ...refresh, sharedShards: 0, rebuiltShards: refresh.sharedShards + refresh.rebuiltShards, ...(refresh.shards ? { shards: { shared: [], rebuilt: ids, why } } : {}) } };
}
