// extractFeature: one feature table -> parquet checkpoint(s) in the staging store for the run's
// window, then the completion marker, written last. A checkpoint already complete is not redone.

import { CheckpointMarker } from '../checkpoint.js';
import { InputError, paths } from '../naming.js';
import { shardGrid } from '../shards.js';
import type { ChainDeps } from './deps.js';
import type { ExtractRequest } from './messages.js';
import { followUp, type PendingOutcome } from './pending.js';
import { failRun, filesPresent, loadManifest } from './runs.js';
import { TableChangedError, type ExtractResult } from '../ports.js';
import { frozenTable } from './frozenTables.js';

export type ExtractOutcome = 'extracted' | 'already-complete' | 'ignored' | 'table-changed' | PendingOutcome;

export async function extractFeature(deps: ChainDeps, request: ExtractRequest): Promise<ExtractOutcome> {
  const { runId, feature } = request;
  const log = { runId, pair: request.pair, feature, step: 'extract' };
  const run = await deps.store.getRun(runId);
  if (!run) throw new InputError(`run ${runId} not found`);
  if (run.state !== 'extracting') {
    deps.logger.info(`run is ${run.state}: extract not needed`, log);
    return 'ignored';
  }
  const manifest = await loadManifest(deps, run);
  const entry = manifest.features.find((f) => f.feature === feature);
  if (!entry) throw new InputError(`feature ${feature} is not in run ${runId}'s manifest`);

  const markerObject = paths.marker(runId, feature);
  const existing = await readMarker(deps, markerObject);
  if (existing && (await filesPresent(deps, existing.files))) {
    // Rewriting the marker re-sends its finalize notification: if the landing of the first one
    // was lost (a crash between writing and recording), this one records it. Landing is idempotent.
    await deps.staging.write(markerObject, JSON.stringify(existing), { contentType: 'application/json' });
    deps.logger.info('checkpoint already complete; marker re-sent', log);
    return 'already-complete';
  }

  const began = Date.now();
  // A refresh's feature whose old rows are unchanged reads only the new range (incremental.ts).
  const earlier = entry.incremental;
  const range = earlier?.range ?? run.window;
  const asOf = frozenTable(manifest, entry);
  let result: ExtractResult;
  try {
    result = await deps.warehouse.extract({
      runId,
      pair: run.pair,
      feature,
      dataset: entry.dataset,
      columns: entry.columns.map((c) => c.source),
      window: range,
      prefix: paths.featureDir(runId, feature),
      shards: shardGrid(range, deps.config.shard),
      ...(earlier?.carry ? { carry: earlier.carry } : {}),
      ...(asOf ? { asOf } : {}),
    });
  } catch (error) {
    if (!(error instanceof TableChangedError)) throw error;
    // Its rows would not be those of the version the run froze (a refresh's column would mix
    // two): the run cannot finish as it began. A new run reads the table afresh.
    await failRun(deps, runId, `${error.message}; a new run reads it afresh, reusing the checkpoints that landed`);
    return 'table-changed';
  }
  // Still running after the warehouse's wait: a follow-up message polls again (never a retry).
  if (result.state === 'pending') return followUp(deps, { kind: 'extract', request }, result);
  const marker: CheckpointMarker = {
    runId,
    feature,
    window: run.window,
    // The earlier run's files hold the old window's rows, in key order before the new ones.
    // (Carried files were written again into the first new file: they leave the list.)
    files: [...(earlier?.files ?? []).filter((f) => result.carried === undefined || !earlier?.carry?.includes(f)), ...result.files],
    rows: (earlier?.rows ?? 0) + result.rows,
    sourceRows: (earlier?.sourceRows ?? 0) + result.sourceRows,
    duplicates: (earlier?.duplicates ?? 0) + result.duplicates,
    readRows: result.sourceRows,
    ...(result.bytesBilled !== undefined ? { bytesBilled: result.bytesBilled } : {}),
    writtenAt: deps.clock.now().toISOString(),
    ...(entry.fingerprint ? { fingerprint: entry.fingerprint } : {}),
  };
  await deps.staging.write(markerObject, JSON.stringify(marker), { contentType: 'application/json' });
  deps.logger.info(`extracted ${result.rows} rows${earlier ? ` of [${range.start}, ${range.end}) after ${earlier.rows} of run ${earlier.from}` : ''} (${result.duplicates} duplicate keys removed) in ${Date.now() - began} ms`, log);
  return 'extracted';
}

/** The marker's content, or undefined when absent; a marker that is not valid JSON reads as absent. */
export async function readMarker(deps: Pick<ChainDeps, 'staging'>, object: string): Promise<CheckpointMarker | undefined> {
  if ((await deps.staging.size(object)) === undefined) return undefined;
  try {
    return decodeMarker(JSON.parse(Buffer.from(await deps.staging.read(object)).toString('utf8')));
  } catch {
    return undefined;
  }
}

export function decodeMarker(value: unknown): CheckpointMarker {
  const m = value as Partial<CheckpointMarker> | null;
  const ok =
    typeof m === 'object' && m !== null &&
    typeof m.runId === 'string' && typeof m.feature === 'string' &&
    typeof m.window?.start === 'string' && typeof m.window?.end === 'string' &&
    Array.isArray(m.files) && m.files.every((f) => typeof f === 'string') &&
    Number.isSafeInteger(m.rows) && Number.isSafeInteger(m.sourceRows) && Number.isSafeInteger(m.duplicates) &&
    (m.fingerprint === undefined || typeof m.fingerprint === 'string') &&
    (m.readRows === undefined || Number.isSafeInteger(m.readRows)) &&
    (m.bytesBilled === undefined || Number.isSafeInteger(m.bytesBilled));
  if (!ok) throw new Error('marker is not a checkpoint marker');
  return m as CheckpointMarker;
}

