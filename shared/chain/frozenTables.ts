// What a run froze of its tables at its start (data versions and the time it asked them), and
// whether they have moved since. An extract reads a table as the run froze it (ExtractJob.asOf);
// a warehouse that keeps no earlier versions (embedded) cannot, once a table changed, so a new run
// request supersedes a run whose tables moved rather than resuming it (startRun).

import type { ManifestFeature, RunManifest } from '../manifest.js';
import type { ExtractJob, RunRecord } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { featureVersions } from './reuse.js';
import { loadManifest } from './runs.js';

/** The table as the run froze it (ExtractJob.asOf), where the run knew its version. */
export function frozenTable(manifest: Pick<RunManifest, 'snapshotAt' | 'window'>, entry: Pick<ManifestFeature, 'version'>): ExtractJob['asOf'] {
  return manifest.snapshotAt && entry.version ? { at: manifest.snapshotAt, version: entry.version, range: manifest.window } : undefined;
}

/**
 * A rerun reads the features it extracts again as their tables are now (a table fixed since the
 * run failed on it is the usual reason to rerun): they leave the run's frozen versions, and their
 * fingerprint, which named the version the run froze, goes too (such a checkpoint is not indexed
 * for reuse). Not where the run's other rows of a table are of the frozen version: a refresh's
 * feature that reads only the new minutes, or a run sharing an earlier dataset's shards; those are
 * read as the run froze them (embedded: an extract that finds the table changed fails the run,
 * naming it). Asks the warehouse nothing: the API's rerun holds no BigQuery role. Returns the
 * features that will be read as they are now.
 */
export async function readAgainNow(deps: Pick<ChainDeps, 'staging' | 'manifests'>, run: RunRecord, manifest: RunManifest, features: readonly string[]): Promise<string[]> {
  if (!manifest.snapshotAt || run.sharing) return [];
  const named = new Set(features);
  const entries = manifest.features.filter((f) => named.has(f.feature) && !f.incremental && (f.version || f.fingerprint));
  if (entries.length === 0) return [];
  for (const entry of entries) {
    delete entry.version;
    delete entry.fingerprint;
  }
  await deps.staging.write(run.manifestObject, JSON.stringify(manifest), { contentType: 'application/json' });
  deps.manifests?.set(run.runId, manifest);
  return entries.map((f) => f.feature);
}

/**
 * The tables a run still has to read whose data version moved since it froze them: the features
 * without a landed checkpoint (one query per dataset), and the label table while the merge has
 * not finished (its rows in the window). Empty for a run whose manifest froze none (written before)
 * or cannot be read.
 */
export async function tablesMoved(deps: Pick<ChainDeps, 'store' | 'staging' | 'warehouse' | 'manifests'>, run: RunRecord): Promise<string[]> {
  // A manifest that cannot be read cannot say: the run is resumed as before, and says why it fails.
  const manifest = await loadManifest(deps, run).catch(() => undefined);
  if (!manifest?.snapshotAt) return [];
  const landed = new Set((await deps.store.listCheckpoints(run.runId)).map((c) => c.feature));
  const waiting = run.state === 'extracting' ? manifest.features.filter((f) => f.version && !landed.has(f.feature)) : [];
  const now = await featureVersions(deps.warehouse, waiting, manifest.window);
  const moved = waiting.filter((f) => now[f.feature] !== f.version).map((f) => `${f.dataset}.${f.feature}`);
  const labels = manifest.labels;
  if (labels.versions?.window) {
    const now = (await deps.warehouse.dataVersions(labels.dataset, [labels.table], manifest.window))[labels.table];
    if (now !== labels.versions.window) moved.push(`${labels.dataset}.${labels.table}`);
  }
  return moved;
}
