// checkpointLanded: a staging object was finalized. If it completes a feature's checkpoint (its
// marker, or a single file uploaded by hand), check the checkpoint from its footers, record it
// once per feature, count distinct landed features, and let exactly one landing start the merge.

import { CheckpointError, checkCheckpoint, extendSummary, keysOfEveryFile, readFooter, readFooterForChecks, summariseFooters, type CheckpointMarker, type FooterSummary } from '../checkpoint.js';
import { errorMessage } from '../log.js';
import type { ManifestFeature } from '../manifest.js';
import { HAND_UPLOAD_NAME, pairOfRunId, paths, parseStagingObject } from '../naming.js';
import type { CheckpointRecord, FinalizedObject } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { decodeMarker } from './extractFeature.js';
import { attributes } from './messages.js';
import { indexCheckpoint, indexedFingerprint } from './reuse.js';
import { failRun, loadManifest, moved, workStart } from './runs.js';

export type LandingOutcome = 'recorded' | 'duplicate' | 'ignored' | 'invalid';

export async function checkpointLanded(deps: ChainDeps, object: FinalizedObject): Promise<LandingOutcome> {
  const { logger, store } = deps;
  if (object.bucket !== deps.staging.bucket) {
    logger.info(`object ${object.name} is in bucket ${object.bucket}, not the staging bucket: ignored`, { step: 'landing' });
    return 'ignored';
  }
  const parsed = parseStagingObject(object.name);
  const isHandUpload = parsed?.kind === 'part' && parsed.file === HAND_UPLOAD_NAME;
  if (!parsed || (parsed.kind !== 'marker' && !isHandUpload)) {
    logger.debug(`object ${object.name} does not complete a checkpoint: ignored`, { step: 'landing' });
    return 'ignored';
  }
  const { runId, feature } = parsed;
  const log = { runId, pair: pairOfRunId(runId), feature, step: 'landing' };
  const run = await store.getRun(runId);
  if (!run || run.state !== 'extracting') {
    logger.info(`object ${object.name} belongs to no run that is extracting (${run ? `run is ${run.state}` : 'no such run'}): ignored`, log);
    return 'ignored';
  }
  const manifest = await loadManifest(deps, run);
  const entry = manifest.features.find((f) => f.feature === feature);
  if (!entry) {
    logger.warn(`feature ${feature} is not in the run's manifest: ignored`, log);
    return 'ignored';
  }

  let record: CheckpointRecord;
  let marker: CheckpointMarker;
  try {
    marker = isHandUpload ? await handUploadMarker(deps, runId, feature, run.window) : await readLandedMarker(deps, object.name, feature);
    const summary = checkCheckpoint(entry, run.window, marker, (await extendedSummary(deps, entry, marker)) ?? (await summariseFiles(deps, feature, marker.files)));
    const nullCounts: Record<string, number> = {};
    for (const c of entry.columns) nullCounts[c.output] = summary.nullCounts.get(c.source) ?? 0;
    const fileKeys = keysOfEveryFile(marker.files, summary.fileKeys);
    // Indexed under it (indexCheckpoint): so named, the entry outlives retention while the record does.
    const fingerprint = indexedFingerprint(entry, marker);
    record = {
      runId, feature, landedAt: deps.clock.now().toISOString(), files: marker.files, rows: summary.rows,
      sourceRows: marker.sourceRows, duplicates: marker.duplicates, nullCounts, minKey: summary.minKey, maxKey: summary.maxKey, bytes: summary.bytes,
      ...(fileKeys ? { fileKeys } : {}),
      ...(fingerprint ? { fingerprint } : {}),
      ...(isHandUpload ? {} : { readRows: marker.readRows ?? marker.sourceRows }),
      ...(marker.bytesBilled !== undefined ? { bytesBilled: marker.bytesBilled } : {}),
    };
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error; // temporary: retried
    logger.error(error.message, log);
    await failRun(deps, runId, error.message);
    return 'invalid';
  }

  // Valid: later runs with the same fingerprint may reuse it (a hand upload has none). Indexed
  // before it is recorded: a landing that dies between the two is delivered again while the run
  // still waits for this record, where indexed after it, the delivery again could come once the
  // run had moved on (it then ignores the landing) and the entry was never written, so the next
  // run extracted the table again (found by the fault sweep's refresh, test/sweep/refreshScenario.ts).
  await indexCheckpoint(deps, entry, marker, record);
  const created = await store.recordCheckpoint(record);
  const landed = await store.countCheckpoints(runId);
  if (created) deps.observe?.({ type: 'landed', runId, feature, landed, expected: run.expected });
  logger.info(`checkpoint ${created ? 'recorded' : 'already recorded'}: ${record.rows} rows; ${landed}/${run.expected} landed`, log);
  if (landed >= run.expected) await claimMerge(deps, runId);
  return created ? 'recorded' : 'duplicate';
}

/**
 * Moves the run to merging and sends the one merge request; only the winner of the claim sends.
 * Hundreds of landings can see "all landed" at once: they race for a create-once claim record of
 * the run's current extraction, and only its creator runs the transaction on the run document.
 * `force` (the reconciler, for a claimant that died after claiming, or a start that died before
 * claiming) goes on to the transaction whoever holds the claim, which still moves the run once.
 * It makes the claim record first where none exists, so a run that merged holds its claim however
 * it was moved (a run with nothing to extract whose start died had none before).
 */
export async function claimMerge(deps: ChainDeps, runId: string, options: { force?: boolean } = {}): Promise<boolean> {
  const current = await deps.store.getRun(runId);
  if (!current || current.state !== 'extracting') return false;
  const since = [...current.transitions].reverse().find((t) => t.state === 'extracting')?.at ?? current.createdAt;
  const claimed = await deps.store.claimOnce(runId, `merge_${since.replace(/\D/g, '')}`);
  if (!claimed && !options.force) return false;
  const now = deps.clock.now();
  const { run, changed } = await deps.store.updateRun(runId, (r) =>
    r.state === 'extracting'
      ? { ...moved(r, 'merging', now), mergeAttempts: r.mergeAttempts + 1, timings: { ...r.timings, extract_ms: now.getTime() - workStart(r) } }
      : undefined,
  );
  if (changed) {
    deps.logger.info('all checkpoints landed: merge requested', { runId, pair: run.pair, step: 'landing' });
    await deps.bus.publish(deps.config.topics.mergeRequests, { runId, pair: run.pair }, attributes({ pair: run.pair, runId }));
  }
  return changed;
}

/** Every file's footer, summarised; a file missing or not parquet makes the checkpoint invalid. */
async function summariseFiles(deps: ChainDeps, feature: string, files: readonly string[]): Promise<FooterSummary> {
  const footers = await Promise.all(files.map(async (f) => {
    try {
      return await readFooterForChecks(deps.staging, f);
    } catch (error) {
      if ((await deps.staging.size(f)) === undefined) throw new CheckpointError(feature, `file ${f} is missing`);
      throw new CheckpointError(feature, `file ${f} is not readable parquet (${errorMessage(error)})`);
    }
  }));
  return summarise(feature, footers);
}

/**
 * A refresh's checkpoint is the earlier run's files (less those carried into the first new file),
 * then the new ones: its summary is the earlier record's, less the carried files', plus the new
 * files' (extendSummary). At day shards that reads 2 or 3 footers a feature instead of every
 * day's, which was most of a refresh's landing work. Undefined when that does not apply (not a
 * refresh, the marker does not begin with the earlier files, no such record): read every footer.
 */
async function extendedSummary(deps: ChainDeps, entry: ManifestFeature, marker: CheckpointMarker): Promise<FooterSummary | undefined> {
  const earlier = entry.incremental;
  if (!earlier) return undefined;
  let kept = 0;
  while (kept < earlier.files.length && marker.files[kept] === earlier.files[kept]) kept++;
  if (kept === 0) return undefined;
  const record = await deps.store.getCheckpoint(earlier.from, entry.feature);
  if (!record || record.files.join() !== earlier.files.join() || record.rows !== earlier.rows) return undefined;
  const dropped = earlier.files.slice(kept);
  const [added, carried] = await Promise.all([
    summariseFiles(deps, entry.feature, marker.files.slice(kept)),
    dropped.length > 0 ? summariseFiles(deps, entry.feature, dropped) : undefined,
  ]);
  const outputs = new Map(entry.columns.map((c) => [c.source, c.output]));
  return extendSummary(record, carried, added, (c) => outputs.get(c));
}

/** The footers' summary; footers that cannot be summarised (schemas differ, no key statistics) make the checkpoint invalid, not a retry. */
function summarise(feature: string, footers: Parameters<typeof summariseFooters>[0]) {
  try {
    return summariseFooters(footers);
  } catch (error) {
    throw new CheckpointError(feature, errorMessage(error));
  }
}

async function readLandedMarker(deps: ChainDeps, name: string, feature: string): Promise<CheckpointMarker> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(await deps.staging.read(name)).toString('utf8'));
  } catch (error) {
    if ((await deps.staging.size(name)) === undefined) throw error; // vanished: let it retry
    throw new CheckpointError(feature, `marker ${name} is not valid JSON`);
  }
  try {
    const marker = decodeMarker(value);
    if (marker.feature !== feature) throw new Error(`marker names feature ${marker.feature}`);
    return marker;
  } catch (error) {
    throw new CheckpointError(feature, `marker ${name}: ${errorMessage(error)}`);
  }
}

/** A single-file checkpoint uploaded by hand: what its marker would say, read from its footer. */
async function handUploadMarker(deps: ChainDeps, runId: string, feature: string, window: CheckpointMarker['window']): Promise<CheckpointMarker> {
  const file = `${paths.featureDir(runId, feature)}${HAND_UPLOAD_NAME}`;
  let rows: number;
  try {
    rows = Number((await readFooter(deps.staging, file)).metadata.num_rows);
  } catch (error) {
    throw new CheckpointError(feature, `uploaded ${file} is not readable parquet (${errorMessage(error)})`);
  }
  return { runId, feature, window, files: [file], rows, sourceRows: rows, duplicates: 0, writtenAt: deps.clock.now().toISOString() };
}
