// startRun: validate the request, claim the pair (one active run), discover the pair's feature
// tables, freeze them in the run manifest, and fan out one extract request per feature.

import { buildManifest } from '../manifest.js';
import { InputError, REQUEST_ID, newRunId, paths, requestRunId } from '../naming.js';
import type { LabelStats, RunRecord, Window } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { attributes, type RunRequest } from './messages.js';
import { claimMerge } from './checkpointLanded.js';
import { counts, fingerprintFeatures, planReuse, recordReused } from './reuse.js';
import { planIncremental } from './incremental.js';
import { labelVersions, planSharing, settleGrown, type SharePlan } from './shareShards.js';
import { failRun } from './runs.js';
import { tablesMoved } from './frozenTables.js';
import { sample } from '../report.js';
import { refreshBase, schemaDrift, type RefreshInfo } from './refresh.js';
import { shardGrid } from '../shards.js';
import { checkRoom, estimateWrites } from './diskRoom.js';
import { neverSucceeds } from './retryRule.js';

export interface StartResult {
  run: RunRecord;
  /** False when the pair already had an active run: that run is returned, nothing is started. */
  created: boolean;
}

const MINUTE_MS = 60_000;

/**
 * Starts the run a request asks for. A request refused for good (bad input: no label table, no
 * feature tables, an empty window, too little disk) that came with an id is recorded with its
 * reason before the error goes on: `bqx run --target gcp` knows the message it published and says
 * why at once, instead of waiting for a run that never appears.
 */
export async function startRun(deps: ChainDeps, request: RunRequest): Promise<StartResult> {
  try {
    return await start(deps, request);
  } catch (error) {
    if (request.requestId && REQUEST_ID.test(request.requestId) && neverSucceeds(error)) {
      const refusal = { requestId: request.requestId, pair: request.pair, reason: (error as Error).message, at: deps.clock.now().toISOString() };
      await deps.store.recordRefusal(refusal).catch((e: unknown) => deps.logger.warn(`could not record the refusal of request ${request.requestId}: ${String(e)}`, { pair: request.pair, step: 'start' }));
    }
    throw error;
  }
}

async function start(deps: ChainDeps, request: RunRequest): Promise<StartResult> {
  const { config, warehouse, store, clock, logger } = deps;
  const pair = request.pair;
  // A request that came as a message gets the same run id on every delivery: a redelivery after
  // the first one died resumes that run (or, once the run exists, returns it) and never starts a
  // second one, so nothing the first delivery wrote lies outside a run's prefixes.
  const requestedAt = request.requestedAt ? new Date(request.requestedAt) : undefined;
  const runId = request.requestId && requestedAt ? requestRunId(pair, request.requestId, requestedAt) : newRunId(pair, clock.now());
  if (request.requestId) {
    const started = (await store.getRun(runId)) ?? (await store.lastRun(pair));
    // A redelivery has the message's id and publish time, so its run id: a run of the same message
    // id under another id is another message's (the Pub/Sub emulator numbers messages from 1 each
    // time it starts, and the emulator stack keeps earlier stacks' runs: keptFirestore.ts).
    if (started?.requestId === request.requestId && (requestedAt === undefined || started.runId === runId)) {
      logger.info(`request ${request.requestId} already started run ${started.runId}; returning it`, { pair, runId: started.runId, step: 'start' });
      return { run: started, created: false };
    }
  }
  let active = await store.activeRun(pair);
  if (active && request.force && active.runId !== runId) {
    await failRun(deps, active.runId, 'superseded by a forced run request');
    active = await store.activeRun(pair);
  }
  // A warehouse that cannot read a table as it was (embedded) cannot finish a run whose tables
  // changed since it began (interrupted, the demo touched, run again): one feature would hold two
  // versions, or the labels another. A new request supersedes such a run; its landed checkpoints
  // of unchanged tables are reused by the new one. (BigQuery reads them as of the run's snapshot.)
  if (active && !warehouse.readsTablesAsOf && active.runId !== runId) {
    const moved = await tablesMoved(deps, active);
    if (moved.length > 0) {
      await failRun(deps, active.runId, `superseded: ${sample(moved, 3)} changed since the run began`);
      active = await store.activeRun(pair);
    }
  }
  if (active) {
    logger.info(`pair ${pair} already has an active run ${active.runId}; returning it`, { pair, runId: active.runId, step: 'start' });
    // An earlier delivery of this request that died after writing its manifest left it under an
    // id that will now never be a run: remove it (only this request's id can have written there).
    const orphan = paths.manifest(runId);
    if (request.requestId && active.runId !== runId && (await deps.staging.size(orphan)) !== undefined) await deps.staging.deletePrefix(orphan);
    return { run: active, created: false };
  }
  const began = Date.now();
  const labelTableName = `${config.labelTablePrefix}${pair}`;
  const [featureCatalog, labelCatalog] = await Promise.all([warehouse.listTables(config.featuresDataset), warehouse.listTables(config.labelsDataset)]);
  const labelTable = labelCatalog.find((t) => t.table === labelTableName);
  if (!labelTable) throw new InputError(`label table ${config.labelsDataset}.${labelTableName} not found`);

  // A refresh follows the pair's last succeeded version: same start, the label table's new end.
  const base = request.refresh ? await refreshBase(deps, pair) : undefined;
  const { window, labels } = await labelledWindow(deps, labelTableName, base ? { start: request.start ?? base.run.window.start, end: request.end } : request);
  // A refresh is the next version: it cannot end before the one it follows (an --end before it, or
  // a label table cut short). A shorter dataset is a run without --refresh.
  if (base && window.end < base.run.window.end) {
    throw new InputError(`a refresh extends ${base.run.runId}, which ends at ${base.run.window.end}: this window ends at ${window.end}, before it (for a shorter dataset, run without --refresh)`);
  }

  const now = clock.now();
  const manifest = buildManifest({ runId, pair, createdAt: now.toISOString(), window, labelRows: labels.rows, featureCatalog, labelTable, config });
  // Reuse is decided once, here, and frozen in the manifest with the reasons for the rest.
  await fingerprintFeatures(deps, manifest, featureCatalog);
  const reuse = await planReuse(deps, manifest, { enabled: request.reuse !== false, previous: () => previousFeatures(deps, pair) });
  manifest.labels.versions = await labelVersions(deps, manifest);
  // Taken after the versions were asked: a table changed between the two is read newer than its
  // fingerprint says, so its checkpoint is never reused by a later run (whose version is newer
  // still); read older, it would be, under the newer version's fingerprint.
  manifest.snapshotAt = clock.now().toISOString();
  let refresh: RefreshInfo | undefined;
  if (base) {
    // Incremental where the old rows vouch for it (never with --no-reuse): new minutes only, unchanged shards shared.
    const incremental = request.reuse !== false ? await planIncremental(deps, base, manifest) : 0;
    const grid = shardGrid(window, config.shard);
    const shards: SharePlan = request.reuse !== false ? await planSharing(deps, base, manifest, grid) : { shared: [], rebuilt: grid.map((g) => g.id), why: 'reuse turned off' };
    settleGrown(shards, manifest);
    Object.assign(reuse, counts(manifest));
    refresh = {
      from: base.run.runId,
      previousWindow: base.run.window,
      drift: schemaDrift(base.manifest, manifest),
      sharedShards: shards.shared.length,
      rebuiltShards: shards.rebuilt.length,
      shards,
      incremental,
    };
  }
  // A run of the same window as the last dataset, unless labels moved: with every checkpoint
  // reused, all its shards; with some features changed, the column groups that hold none of them.
  const same = !base && request.reuse !== false ? await refreshBase(deps, pair).catch(() => undefined) : undefined;
  const unchanged = same && same.run.window.start === window.start && same.run.window.end === window.end
    ? { from: same.run.runId, ...(await planSharing(deps, same, manifest, shardGrid(window, config.shard))) }
    : undefined;
  const relabelled = (plan: SharePlan) => (plan.relabelled ? { relabelled: plan.relabelled } : {});
  const sharing = refresh?.shards && (refresh.sharedShards > 0 || refresh.shards.grown || refresh.shards.relabelled)
    ? { from: refresh.from, shared: refresh.shards.shared, rebuilt: refresh.shards.rebuilt, ...(refresh.shards.grown ? { grown: refresh.shards.grown } : {}), ...relabelled(refresh.shards) }
    : unchanged && (unchanged.shared.length > 0 || unchanged.groups || unchanged.relabelled)
      ? { from: unchanged.from, shared: unchanged.shared, rebuilt: unchanged.rebuilt, ...(unchanged.groups ? { groups: unchanged.groups } : {}), ...(unchanged.changed ? { changed: unchanged.changed } : {}), ...(unchanged.moved ? { moved: unchanged.moved } : {}), ...relabelled(unchanged) }
      : undefined;
  // An earlier dataset whose files are damaged is built again, not shared from: the run says so.
  const damage = refresh?.shards?.damaged ? { from: refresh.from, what: refresh.shards.damaged } : unchanged?.damaged ? { from: unchanged.from, what: unchanged.damaged } : undefined;
  const warnings = damage ? [`${damage.from}'s files are damaged (${damage.what}): this run built its shards again instead of sharing them (bqx verify ${damage.from})`] : [];
  // Refused here, before anything is written, when a folder cannot hold what the run writes.
  const writes = estimateWrites(manifest, sharing ?? refresh?.shards, config, base ? { end: base.run.window.end, rows: base.run.labelRows } : undefined);
  if (config.diskCheck) await checkRoom(deps, writes);
  const manifestObject = paths.manifest(runId);
  await deps.staging.write(manifestObject, JSON.stringify(manifest), { contentType: 'application/json' });

  const time = now.toISOString();
  const record: RunRecord = {
    runId,
    pair,
    state: 'extracting',
    createdAt: time,
    updatedAt: time,
    window,
    expected: manifest.features.length,
    labelRows: labels.rows,
    manifestObject,
    transitions: [{ state: 'extracting', at: time }],
    reconcileAttempts: 0,
    mergeAttempts: 0,
    warnings,
    timings: { discover_ms: Date.now() - began },
    reuse,
    gates: config.profile.gates,
    ...(refresh ? { refresh } : {}),
    ...(sharing ? { sharing } : {}),
    ...(request.requestId ? { requestId: request.requestId } : {}),
  };
  const claimed = await store.createRun(record);
  if (!claimed.created) {
    // Another request won the race for this pair; ours leaves no trace but its manifest file. A
    // copy of this same request winning has the same id and needs that file: it stays.
    if (claimed.run.runId !== runId) await deps.staging.deletePrefix(manifestObject);
    return { run: claimed.run, created: false };
  }
  deps.manifests?.set(runId, manifest);
  logger.info(`run started: ${manifest.features.length} features, ${manifest.columnCount} columns, ${labels.rows} label rows`, {
    runId, pair, step: 'start', window, writes,
  });
  for (const w of warnings) logger.warn(w, { runId, pair, step: 'start' });
  deps.observe?.({ type: 'started', runId, pair, expected: record.expected });
  // Reused checkpoints are recorded before the fan-out: if this dies in between, the reconciler
  // records what is still missing of them and re-sends only the extracts.
  const gone = await recordReused(deps, record, manifest);
  const extract = manifest.features.filter((f) => !f.reuse || gone.includes(f.feature)).map((f) => f.feature);
  logger.info(`reusing ${reuse.reused - gone.length} checkpoint(s), extracting ${extract.length}`, { runId, pair, step: 'start', reasons: reuse.reasons });
  if (gone.length > 0) {
    const moved = { ...reuse, reused: reuse.reused - gone.length, extracted: reuse.extracted + gone.length };
    await store.updateRun(runId, (r) => ({ ...r, reuse: moved }));
    record.reuse = moved;
  }
  if (extract.length > 0) await fanOut(deps, record, extract);
  // Nothing to extract: no landing will claim the merge, so the start does (once, as a landing would).
  else if ((await store.countCheckpoints(runId)) >= record.expected) await claimMerge(deps, runId);
  return { run: record, created: true };
}

/** The features of the pair's last run, to tell a table that is new from one never extracted. */
async function previousFeatures(deps: ChainDeps, pair: string): Promise<Set<string> | undefined> {
  const last = await deps.store.lastRun(pair);
  if (!last) return undefined;
  try {
    const manifest = JSON.parse(Buffer.from(await deps.staging.read(last.manifestObject)).toString('utf8')) as { features?: { feature: string }[] };
    return manifest.features ? new Set(manifest.features.map((f) => f.feature)) : undefined;
  } catch {
    return undefined; // its manifest is gone (retention): cannot tell
  }
}

/** Publishes one extract request per feature, batched. */
export async function fanOut(deps: ChainDeps, run: Pick<RunRecord, 'runId' | 'pair'>, features: string[]): Promise<void> {
  await deps.bus.publishMany(
    deps.config.topics.extractRequests,
    features.map((feature) => ({ data: { runId: run.runId, pair: run.pair, feature }, attributes: attributes({ pair: run.pair, runId: run.runId, feature }) })),
  );
}

/**
 * A run's window (resolveWindow) and its label rows, refused when it holds none, narrowed to them:
 * [its first key, its last key + 1 minute). A window asked wider than the labels (an `--end` in
 * the future, a `--start` before the first row) is then the default one, with the same rows: a
 * later default run reuses its checkpoints and shares its shards, and a refresh of it extracts only
 * the new minutes. (Kept as asked, it had every feature "changed inside the previous window" once
 * the labels grew into it: a full build.) `bqx plan` asks it as the start does.
 */
export async function labelledWindow(deps: Pick<ChainDeps, 'warehouse' | 'config'>, labelTable: string, request: Pick<RunRequest, 'start' | 'end'>): Promise<{ window: Window; labels: LabelStats }> {
  const { labelsDataset } = deps.config;
  const asked = await resolveWindow(deps, labelTable, request);
  const labels = await deps.warehouse.labelStats(labelsDataset, labelTable, asked);
  if (labels.rows === 0) throw new InputError(`label table ${labelsDataset}.${labelTable} has no rows in [${asked.start}, ${asked.end})`);
  if (!labels.minKey || !labels.maxKey) return { window: asked, labels };
  const start = Math.max(Date.parse(asked.start), Date.parse(labels.minKey));
  const end = Math.min(Date.parse(asked.end), Date.parse(labels.maxKey) + MINUTE_MS);
  return { window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() }, labels };
}

/** The run's window: as requested, else the label table's whole range [first, last + 1 minute). */
async function resolveWindow(deps: Pick<ChainDeps, 'warehouse' | 'config'>, labelTable: string, request: Pick<RunRequest, 'start' | 'end'>): Promise<Window> {
  if (request.start && request.end) return { start: request.start, end: request.end };
  const full = await deps.warehouse.labelStats(deps.config.labelsDataset, labelTable);
  if (full.rows === 0 || !full.minKey || !full.maxKey) throw new InputError(`label table ${deps.config.labelsDataset}.${labelTable} is empty`);
  const window = {
    start: request.start ?? full.minKey,
    end: request.end ?? new Date(Date.parse(full.maxKey) + MINUTE_MS).toISOString(),
  };
  if (window.start >= window.end) {
    // Only one bound was given, past the label rows on its side: say so, and what the rows span.
    const held = `${deps.config.labelsDataset}.${labelTable} holds ${full.minKey} to ${full.maxKey}`;
    throw new InputError(request.start ? `start ${window.start} is after the label table's last minute (${held})` : `end ${window.end} is at or before the label table's first minute (${held})`);
  }
  return window;
}
