// Checkpoints reused across runs, by content. A checkpoint that landed valid is indexed in the
// staging store under its feature and fingerprint:
//   checkpoints/index/<feature>/<fingerprint>.json   where its files are, their sizes, its stats
// startRun lists the index once: a name in a feature's folder equal to the run's fingerprint is a
// checkpoint it can reuse without copying (the run's checkpoint record points at the earlier run's
// files); any other name tells which part of the fingerprint moved, hence why the feature is
// extracted again.
// Nothing is reused without a fingerprint, and a fingerprint has the table's data version in it.

import { keysOfEveryFile, type CheckpointMarker } from '../checkpoint.js';
import { mapLimit } from '../concurrency.js';
import { differingParts, featureFingerprint, isFingerprint, type FingerprintPart } from '../fingerprint.js';
import type { ManifestFeature, RunManifest } from '../manifest.js';
import { assertIdentifier } from '../naming.js';
import { sizesByName, type CatalogTable, type CheckpointRecord, type FileKeys, type ReuseCounts, type RunRecord, type Warehouse, type Window } from '../ports.js';
import type { ChainDeps } from './deps.js';

export const REASONS = {
  newTable: 'new table',
  noEarlier: 'no earlier checkpoint',
  schema: 'schema changed',
  data: 'data changed',
  window: 'window changed',
  settings: 'settings changed',
  unknownVersion: 'data version unknown',
  off: 'reuse turned off',
  /** A refresh extracting only the minutes after the previous version (shared/chain/incremental.ts). */
  newRange: 'new minutes only',
} as const;

const PART_REASON: Record<FingerprintPart, string> = { schema: REASONS.schema, data: REASONS.data, window: REASONS.window, settings: REASONS.settings };
/** Which changed part names the reason when several did. */
const REASON_ORDER: readonly FingerprintPart[] = ['schema', 'window', 'data', 'settings'];

export const reuseIndex = {
  /** Every entry lies below this (retention lists it whole). */
  root: 'checkpoints/index/',
  dir: (feature: string) => `${reuseIndex.root}${assertIdentifier(feature, 'feature')}/`,
  entry: (feature: string, fingerprint: string) => {
    if (!isFingerprint(fingerprint)) throw new Error(`${JSON.stringify(fingerprint)} is not a fingerprint`);
    return `${reuseIndex.dir(feature)}${fingerprint}.json`;
  },
};

/** One indexed checkpoint: enough to record it for another run without reading its files. */
export interface IndexEntry {
  fingerprint: string;
  feature: string;
  runId: string;
  files: string[];
  /** Sizes of the files when indexed: a file rewritten since is not reused. */
  sizes: number[];
  rows: number;
  sourceRows: number;
  duplicates: number;
  /** Null counts by source column (output names differ from run to run). */
  nullCounts: Record<string, number>;
  minKey: string | null;
  maxKey: string | null;
  /** The record's key range of each file, when it had them. */
  fileKeys?: FileKeys[];
  bytes: number;
  indexedAt: string;
}

/** The data version of each feature's rows in `range` (Warehouse.dataVersions): one question per dataset, in the features' order. */
export async function featureVersions(warehouse: Pick<Warehouse, 'dataVersions'>, features: readonly Pick<ManifestFeature, 'feature' | 'dataset'>[], range: Window): Promise<Record<string, string | null>> {
  const versions: Record<string, string | null> = {};
  for (const dataset of new Set(features.map((f) => f.dataset))) {
    Object.assign(versions, await warehouse.dataVersions(dataset, features.filter((f) => f.dataset === dataset).map((f) => f.feature), range));
  }
  return versions;
}

/** Fingerprints every feature of a fresh manifest from the catalog and the tables' data versions. */
export async function fingerprintFeatures(deps: Pick<ChainDeps, 'warehouse' | 'config'>, manifest: RunManifest, catalog: readonly CatalogTable[]): Promise<void> {
  const byName = new Map(catalog.map((t) => [t.table, t]));
  // The version of the rows in the window: rows appended after it do not make its checkpoints stale.
  const versions = await featureVersions(deps.warehouse, manifest.features, manifest.window);
  for (const f of manifest.features) {
    const fingerprint = featureFingerprint({
      dataset: f.dataset,
      table: byName.get(f.feature)!,
      version: versions[f.feature] ?? null,
      window: manifest.window,
      kept: f.columns.map((c) => c.source),
      dropped: f.dropped,
      // Month checkpoints in a day-shard merge were aligned shard by shard: 94 s against 2 s at 20,000 rows.
      ...(deps.warehouse.checkpointsFollowShards ? { shard: deps.config.shard } : {}),
    });
    if (fingerprint) f.fingerprint = fingerprint;
    const version = versions[f.feature];
    if (version) f.version = version;
  }
}

/**
 * Decides, per feature, reuse (an indexed checkpoint with the same fingerprint whose files are all
 * still there, unchanged) or extract with its reason; writes the decision into the manifest.
 * `previous` gives the features of the pair's last run, to tell a new table from a first run.
 */
export async function planReuse(
  deps: Pick<ChainDeps, 'staging'>,
  manifest: RunManifest,
  options: { enabled: boolean; previous: () => Promise<Set<string> | undefined> },
): Promise<ReuseCounts> {
  let previous: Promise<Set<string> | undefined> | undefined;
  for (const f of manifest.features) {
    delete f.reuse;
    delete f.reason;
    delete f.incremental;
  }
  if (!options.enabled) {
    for (const f of manifest.features) f.reason = REASONS.off;
    return counts(manifest);
  }
  // The index listed once, and the entries of this run's fingerprints read; then their files'
  // sizes asked together. A listing of each feature's folder, then of each checkpoint's, was two
  // requests a feature on Cloud Storage (1,334 before a run of 667 tables could start).
  const indexed = await indexedFingerprints(deps);
  const entries = new Map<string, IndexEntry>();
  await mapLimit(manifest.features, 16, async (f) => {
    if (!f.fingerprint || !indexed.get(f.feature)?.includes(f.fingerprint)) return;
    const entry = await readEntry(deps, reuseIndex.entry(f.feature, f.fingerprint));
    if (entry) entries.set(f.feature, entry);
  });
  const unchanged = await filesUnchangedOf(deps, [...entries.values()]);
  for (const f of manifest.features) {
    if (!f.fingerprint) {
      f.reason = REASONS.unknownVersion;
      continue;
    }
    const entry = entries.get(f.feature);
    if (entry && unchanged.has(entry)) {
      f.reuse = { runId: entry.runId, entry: reuseIndex.entry(f.feature, f.fingerprint) };
      continue;
    }
    const others = (indexed.get(f.feature) ?? []).filter((fp) => fp !== f.fingerprint);
    if (others.length === 0) {
      previous ??= options.previous();
      const known = await previous;
      f.reason = known && !known.has(f.feature) ? REASONS.newTable : REASONS.noEarlier;
      continue;
    }
    // The closest earlier checkpoint (fewest parts differing) names what changed. The data part is
    // the table's version over the window, so a window moved moves it too: "window changed" then,
    // not "data changed" (a run of another window after retention kept none of this one's said so).
    const closest = others.map((fp) => differingParts(f.fingerprint!, fp)).sort((a, b) => a.length - b.length)[0]!;
    f.reason = PART_REASON[REASON_ORDER.find((part) => closest.includes(part))!];
  }
  return counts(manifest);
}

/** Every feature's indexed fingerprints, from one listing of the index. */
async function indexedFingerprints(deps: Pick<ChainDeps, 'staging'>): Promise<Map<string, string[]>> {
  const byFeature = new Map<string, string[]>();
  for (const o of await deps.staging.list(reuseIndex.root)) {
    const m = /^([^/]+)\/([^/]+)\.json$/.exec(o.name.slice(reuseIndex.root.length));
    if (!m || !isFingerprint(m[2]!)) continue;
    byFeature.set(m[1]!, [...(byFeature.get(m[1]!) ?? []), m[2]!]);
  }
  return byFeature;
}

export function counts(manifest: RunManifest): ReuseCounts {
  const reasons: Record<string, number> = {};
  let reused = 0;
  for (const f of manifest.features) {
    if (f.reuse) reused++;
    else if (f.reason) reasons[f.reason] = (reasons[f.reason] ?? 0) + 1;
  }
  return { reused, extracted: manifest.features.length - reused, reasons };
}

/**
 * Records the reused checkpoints of `features` (default: all the manifest reuses) for the run,
 * create-if-absent like any landing. Returns the features that could not be recorded because
 * their earlier checkpoint has gone since (retention): those must be extracted.
 */
export async function recordReused(deps: ChainDeps, run: RunRecord, manifest: RunManifest, features?: readonly string[]): Promise<string[]> {
  const wanted = features ? new Set(features) : undefined;
  const gone: string[] = [];
  // For the CLI's progress only: counted once, then one more a record created here (a count of the
  // records after each, a listing of the run's records, was about 0.25 s of 667 reused at the start).
  let landed = deps.observe ? await deps.store.countCheckpoints(run.runId) : 0;
  const reused = manifest.features.filter((f) => f.reuse && (!wanted || wanted.has(f.feature)));
  // The entries read again, and their files' sizes asked together (planReuse).
  const entries = new Map<string, IndexEntry>();
  await mapLimit(reused, 16, async (f) => {
    const entry = await readEntry(deps, f.reuse!.entry);
    if (entry && entry.fingerprint === f.fingerprint) entries.set(f.feature, entry);
  });
  const unchanged = await filesUnchangedOf(deps, [...entries.values()]);
  await mapLimit(reused, 16, async (f) => {
    const entry = entries.get(f.feature);
    if (!entry || !unchanged.has(entry)) {
      gone.push(f.feature);
      return;
    }
    const created = await deps.store.recordCheckpoint(recordOf(run.runId, f, entry, deps.clock.now().toISOString()));
    if (created && deps.observe) deps.observe({ type: 'landed', runId: run.runId, feature: f.feature, landed: ++landed, expected: run.expected });
  });
  if (gone.length > 0) deps.logger.warn(`${gone.length} reusable checkpoint(s) were removed before they could be recorded: extracting them`, { runId: run.runId, pair: run.pair, step: 'reuse' });
  return gone;
}

function recordOf(runId: string, f: ManifestFeature, entry: IndexEntry, landedAt: string): CheckpointRecord {
  const nullCounts: Record<string, number> = {};
  for (const c of f.columns) nullCounts[c.output] = entry.nullCounts[c.source] ?? 0;
  const fileKeys = keysOfEveryFile(entry.files, entry.fileKeys);
  return {
    runId, feature: f.feature, landedAt, files: entry.files, rows: entry.rows, sourceRows: entry.sourceRows, duplicates: entry.duplicates,
    nullCounts, minKey: entry.minKey, maxKey: entry.maxKey, bytes: entry.bytes, reusedFrom: entry.runId, fingerprint: entry.fingerprint,
    ...(fileKeys ? { fileKeys } : {}),
  };
}

/** The fingerprint a landed checkpoint is indexed under: the manifest's, where it was extracted under it. */
export function indexedFingerprint(f: Pick<ManifestFeature, 'fingerprint'>, marker: Pick<CheckpointMarker, 'fingerprint'>): string | undefined {
  return f.fingerprint && marker.fingerprint === f.fingerprint ? f.fingerprint : undefined;
}

/** Indexes a checkpoint that landed valid, if it was extracted under the manifest's fingerprint. */
export async function indexCheckpoint(deps: Pick<ChainDeps, 'staging' | 'clock'>, f: ManifestFeature, marker: CheckpointMarker, record: CheckpointRecord): Promise<boolean> {
  const fingerprint = indexedFingerprint(f, marker);
  if (!fingerprint || record.reusedFrom) return false;
  // A refresh's checkpoint begins with the earlier run's files, whose sizes its plan read.
  const earlier = f.incremental;
  const planned = new Map(earlier?.sizes && earlier.sizes.length === earlier.files.length ? earlier.files.map((file, i) => [file, earlier.sizes![i]!]) : []);
  const looked = await sizesByName(deps.staging, record.files.filter((file) => !planned.has(file)));
  const sizes = record.files.map((file) => planned.get(file) ?? looked.get(file) ?? -1);
  const nullCounts: Record<string, number> = {};
  for (const c of f.columns) nullCounts[c.source] = record.nullCounts[c.output] ?? 0;
  const entry: IndexEntry = {
    fingerprint, feature: f.feature, runId: record.runId, files: record.files, sizes, rows: record.rows, sourceRows: record.sourceRows,
    duplicates: record.duplicates, nullCounts, minKey: record.minKey, maxKey: record.maxKey, bytes: record.bytes, indexedAt: deps.clock.now().toISOString(),
    ...(record.fileKeys ? { fileKeys: record.fileKeys } : {}),
  };
  // The latest landing of a fingerprint wins: the same content, in the files retention keeps.
  // Retention keeps one set of checkpoints, the newest run's, so an entry left pointing at an
  // earlier run's files (a `--no-reuse` build after a run of the same window) would point at files
  // about to be trimmed, and no later run could reuse that fingerprint again (it extracted
  // everything once more, reason "data changed"). A redelivery of this landing writes the same entry.
  const object = reuseIndex.entry(f.feature, fingerprint);
  const there = await readEntry(deps, object);
  if (there && there.runId === entry.runId && there.files.join() === entry.files.join() && (await filesUnchanged(deps, there))) return false;
  await deps.staging.write(object, JSON.stringify(entry), { contentType: 'application/json' });
  return true;
}

async function readEntry(deps: Pick<ChainDeps, 'staging'>, object: string): Promise<IndexEntry | undefined> {
  try {
    const value = JSON.parse(Buffer.from(await deps.staging.read(object)).toString('utf8')) as IndexEntry;
    const ok = Array.isArray(value.files) && Array.isArray(value.sizes) && value.files.length === value.sizes.length && typeof value.runId === 'string' && isFingerprint(value.fingerprint);
    return ok ? value : undefined;
  } catch {
    return undefined; // absent or unreadable: not reusable
  }
}

async function filesUnchanged(deps: Pick<ChainDeps, 'staging'>, entry: IndexEntry): Promise<boolean> {
  return (await filesUnchangedOf(deps, [entry])).has(entry);
}

/** Those of `entries` whose files are all there at the sizes indexed: every file's size asked in one call. */
async function filesUnchangedOf(deps: Pick<ChainDeps, 'staging'>, entries: readonly IndexEntry[]): Promise<Set<IndexEntry>> {
  const sizes = await sizesByName(deps.staging, [...new Set(entries.flatMap((e) => e.files))]);
  return new Set(entries.filter((e) => e.files.length > 0 && e.files.every((file, i) => sizes.get(file) !== undefined && sizes.get(file) === e.sizes[i])));
}

