// What a run froze of its tables at its start (data versions and the time it asked them), and
// whether they have moved since. An extract reads a table as the run froze it (ExtractJob.asOf);
// a warehouse that keeps no earlier versions (embedded) cannot, once a table changed, so a new run
// request supersedes a run whose tables moved rather than resuming it (startRun).

import type { ManifestFeature, RunManifest } from '../manifest.js';
import { ConflictError } from '../naming.js';
import type { ExtractJob, RunRecord } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { loadManifest } from './runs.js';

/** The table as the run froze it (ExtractJob.asOf), where the run knew its version. */
export function frozenTable(manifest: Pick<RunManifest, 'snapshotAt' | 'window'>, entry: Pick<ManifestFeature, 'version' | 'snapshotAt'>): ExtractJob['asOf'] {
  const at = entry.snapshotAt ?? manifest.snapshotAt;
  return at && entry.version ? { at, version: entry.version, range: manifest.window } : undefined;
}

/**
 * A rerun reads the features it extracts again as their tables are now (a table fixed since the
 * run failed on it is the usual reason to rerun): those whose version moved are frozen again, at
 * this time, in the run's manifest, their fingerprint dropped (it named the old version: such a
 * checkpoint is not indexed for reuse). Refused where the run's other rows of those tables are of
 * the old version: a refresh's feature that reads only the new minutes, or a run sharing an
 * earlier dataset's shards; a new run reads them whole.
 */
export async function freezeAgain(deps: Pick<ChainDeps, 'warehouse' | 'staging' | 'manifests' | 'clock'>, run: RunRecord, manifest: RunManifest, features: readonly string[]): Promise<string[]> {
  if (!manifest.snapshotAt) return [];
  const named = new Set(features);
  const entries = manifest.features.filter((f) => named.has(f.feature) && f.version);
  const moved: { entry: ManifestFeature; now: string | null }[] = [];
  for (const dataset of [...new Set(entries.map((f) => f.dataset))]) {
    const mine = entries.filter((f) => f.dataset === dataset);
    const now = await deps.warehouse.dataVersions(dataset, mine.map((f) => f.feature), manifest.window);
    for (const entry of mine) if (now[entry.feature] !== entry.version) moved.push({ entry, now: now[entry.feature] ?? null });
  }
  if (moved.length === 0) return [];
  const names = moved.map((m) => `${m.entry.dataset}.${m.entry.feature}`);
  const shown = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  const partial = moved.filter((m) => m.entry.incremental);
  if (partial.length > 0 || run.sharing) {
    const holds = partial.length > 0 ? `reads only their minutes after run ${partial[0]!.entry.incremental!.from}'s` : `shares run ${run.sharing!.from}'s shards, which hold their earlier rows`;
    throw new ConflictError(`${shown} changed since run ${run.runId} began, and the run ${holds}: extracting them again would mix two versions in one dataset; start a new run instead (bqx run ${run.pair}${run.refresh ? ' --refresh' : ''})`);
  }
  const at = deps.clock.now().toISOString();
  for (const { entry, now } of moved) {
    if (now) entry.version = now;
    else delete entry.version;
    delete entry.fingerprint;
    entry.snapshotAt = at;
  }
  await deps.staging.write(run.manifestObject, JSON.stringify(manifest), { contentType: 'application/json' });
  deps.manifests?.set(run.runId, manifest);
  return names;
}

/**
 * The tables a run still has to read whose data version moved since it froze them: the features
 * without a landed checkpoint (one query per dataset), and the label table while the merge has
 * not finished (its rows in the window). Empty for a run whose manifest froze none (written before).
 */
export async function tablesMoved(deps: Pick<ChainDeps, 'store' | 'staging' | 'warehouse' | 'manifests'>, run: RunRecord): Promise<string[]> {
  const manifest = await loadManifest(deps, run);
  if (!manifest.snapshotAt) return [];
  const landed = new Set((await deps.store.listCheckpoints(run.runId)).map((c) => c.feature));
  const waiting = run.state === 'extracting' ? manifest.features.filter((f) => f.version && !landed.has(f.feature)) : [];
  const moved: string[] = [];
  for (const dataset of [...new Set(waiting.map((f) => f.dataset))]) {
    const mine = waiting.filter((f) => f.dataset === dataset);
    const now = await deps.warehouse.dataVersions(dataset, mine.map((f) => f.feature), manifest.window);
    moved.push(...mine.filter((f) => now[f.feature] !== f.version).map((f) => `${dataset}.${f.feature}`));
  }
  const labels = manifest.labels;
  if (labels.versions?.window) {
    const now = (await deps.warehouse.dataVersions(labels.dataset, [labels.table], manifest.window))[labels.table];
    if (now !== labels.versions.window) moved.push(`${labels.dataset}.${labels.table}`);
  }
  return moved;
}
