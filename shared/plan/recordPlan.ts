// Every statement one run of a pair would send to BigQuery, in run order, rendered by the BigQuery
// warehouse adapter itself: the steps a run takes (startRun's catalog, label and data-version queries, one
// extract per feature, the merge, the dataset profile after it) are called on a real
// BigQueryWarehouse whose client only records
// (RecordingBigQuery). The catalog comes from `source`: the embedded warehouse offline, or BigQuery
// itself with `--target gcp`. Nothing runs and nothing is written outside memory.

import type { Config } from '../config.js';
import { BigQueryWarehouse } from '../adapters/gcp/bigQueryWarehouse.js';
import { RecordingBigQuery, type RecordedStatement } from '../adapters/gcp/recordingBigQuery.js';
import { attemptDir } from '../adapters/gcp/bigQueryJobs.js';
import { loadPartitions } from '../adapters/gcp/bigQueryMergeSteps.js';
import { labelledWindow } from '../chain/startRun.js';
import { buildManifest, type RunManifest } from '../manifest.js';
import { InputError, newRunId, paths } from '../naming.js';
import { planMerge, type MergePlan } from '../planner.js';
import { cellStart, shardGrid, type Shard } from '../shards.js';
import { LABEL_LOOKAHEAD_MINUTES, labelVersions, labelsUnchangedUntil, relabelTargets, type RefreshBuilds } from '../chain/shareShards.js';
import { featureVersions, fingerprintFeatures } from '../chain/reuse.js';
import { frozenTable } from '../chain/frozenTables.js';
import type { CatalogTable, LabelStats, Warehouse, Window } from '../ports.js';
import { firstFile, plannedOutput, type PlannedOutput } from './planOutput.js';
import { plannedProfile, recordProfile, type PlannedProfile } from './planProfile.js';
import { PlanStore } from './planStore.js';

/** Where the catalog and label statistics come from. */
export type CatalogSource = Pick<Warehouse, 'listTables' | 'labelStats'>;

export interface PlanInput {
  config: Config;
  pair: string;
  source: CatalogSource;
  window?: Partial<Window>;
  /** Stamp of the run id the plan is rendered for. */
  now?: Date;
  /** Buckets named in the URIs; the configured ones, else placeholders. */
  buckets?: { staging: string; output: string };
  /**
   * Plan a refresh of a version whose window ended at `since` (shared/chain/refresh.ts), in the
   * case it is built for: every table's old rows unchanged, so each extract reads [since, end) and
   * the merge builds only the shards from the one holding `since` on. `from`: the run id of the
   * version it follows, where known (the shards the refresh shares are its files; else a placeholder).
   * `builds`: what the run would build, asked of the version it follows as the run asks it
   * (shareShards.ts `refreshBuilds`): the shards ending after the point up to which the label rows
   * are unchanged, and the shard holding `since` grown by a part (its rows before `since` then stay
   * that version's files and only the part is exported). Without it: the shards from the one
   * holding `since` on, that one built whole (what a run does where the label table changed after
   * `since` only).
   */
  refresh?: { since: string; from?: string; builds?: (next: { labels: { dataset: string; table: string }; grid: readonly Shard[] }) => Promise<RefreshBuilds> };
}

export interface RecordedPlan {
  pair: string;
  runId: string;
  window: Window;
  manifest: RunManifest;
  mergePlan: MergePlan;
  /** A refresh's plan: what its extracts read, and the shards its merge builds (the rest are the previous version's). */
  refresh?: {
    since: string;
    extractRange: Window;
    mergeWindow: Window;
    /** The rows the merge's joins read of each checkpoint: the extract range's, or the merge window's partitions where the previous version's export is loaded too. */
    loadedWindow: Window;
    shards: number;
    sharedShards: number;
    grownShard?: string;
    /** The grown shard's rows before its part changed in their label rows: their label group is exported again (GrownShard `relabelled`). */
    grownRelabelled?: true;
    /** Of `shards`, the whole ones whose label rows alone changed: only their label group is exported (SharePlan `relabelled`). */
    relabelledShards?: number;
  };
  /** Label rows in the window (a refresh: in the shards it builds): the rows of every merge table. */
  labelRows: number;
  /** Rows of the label table as startRun's label statistics saw it: what they read, whatever the merge builds. */
  labelTableRows: number;
  /** The datasets listed, and what they hold. */
  datasets: { features: string; labels: string };
  featureCatalog: CatalogTable[];
  labelCatalog: CatalogTable[];
  statements: RecordedStatement[];
  /** The dataset the merge leaves (a refresh: with the shards it shares), as the profile reads it. */
  dataset: PlannedOutput;
  /** The profile mergeRun takes after the merge, as recorded: its mode and job. */
  profile: PlannedProfile;
}

/** The job id a plan names the previous version's extract attempt folder after (a placeholder: that run's real one is in its checkpoint records). */
const EARLIER_EXPORT_JOB = 'bqx_previous_000000000000';

/** Bucket names used in the URIs when none is configured (`--target bigquery` without a project). */
export const PLACEHOLDER_BUCKETS = { staging: 'bqx-staging-bucket', output: 'bqx-output-bucket' };

export async function recordPlan(input: PlanInput): Promise<RecordedPlan> {
  const { config, pair, source } = input;
  const labelTableName = `${config.labelTablePrefix}${pair}`;
  const featureCatalog = await source.listTables(config.featuresDataset);
  const labelCatalog = await source.listTables(config.labelsDataset);
  const labelTable = labelCatalog.find((t) => t.table === labelTableName);
  if (!labelTable) throw new InputError(`label table ${config.labelsDataset}.${labelTableName} not found`);

  const buckets = input.buckets ?? PLACEHOLDER_BUCKETS;
  const staging = new PlanStore(buckets.staging);
  const output = new PlanStore(buckets.output);
  const outputExports: string[] = [];
  const catalogs = new Map([
    [config.featuresDataset, featureCatalog],
    [config.labelsDataset, labelCatalog],
  ]);
  // The label table's rows, as startRun's label statistics answer them: the whole table's where it
  // asks without a window (the default window), else the most any window holds (no query more).
  let labelTableRows = 0;
  const recorder = new RecordingBigQuery(
    async (s) => {
      const rows = await answer(s, catalogs, source, labelTableName, config.labelsDataset);
      if (s.step === 'label_stats') labelTableRows = Math.max(labelTableRows, Number((rows[0] as { row_count: number }).row_count));
      return rows;
    },
    // A checkpoint's export leaves one file, as BigQuery names it; the merge loads that file. The
    // merge's exports leave none (the merge would read their keys back): their wildcards are kept
    // for the profile, which loads the files they name (planOutput.ts).
    async (uri) => {
      const name = staging.nameOf(uri);
      if (name === undefined) {
        const exported = output.nameOf(uri);
        if (exported !== undefined) outputExports.push(exported);
        return 0;
      }
      await staging.write(firstFile(name), 'placeholder');
      return 1;
    },
  );
  const now = input.now ?? new Date();
  const warehouse = new BigQueryWarehouse({
    bigquery: recorder.asClient(),
    config,
    staging,
    output,
    clock: { now: () => now },
    sleep: async () => {},
    // One job at a time: the recording is in the order the steps list their statements.
    maxRunningJobs: 1,
  });

  // startRun: the catalog, the label table's range, then its rows in the window.
  await warehouse.listTables(config.featuresDataset);
  await warehouse.listTables(config.labelsDataset);
  const { window, labels } = await labelledWindow({ config, warehouse }, labelTableName, input.window ?? {});

  const runId = newRunId(pair, now);
  const manifest = buildManifest({ runId, pair, createdAt: now.toISOString(), window, labelRows: labels.rows, featureCatalog, labelTable, config });
  const since = input.refresh?.since;
  // Nothing new since the version it follows (the label table ends where that version ended): the
  // run reuses every checkpoint (the same window, the same data versions) and extracts nothing; it
  // shares every shard the label rows leave unchanged (all, unless the table changed its tail in
  // place), and where it shares them all its dataset's profile is that version's (mergeRun
  // `earlierProfile`): no merge, no profile statement.
  const nothingNew = since !== undefined && since === window.end;
  if (since !== undefined && !nothingNew && !(since > window.start && since < window.end)) throw new InputError(`refresh since ${since} must fall inside the window [${window.start}, ${window.end}]`);
  // startRun's data versions: of every feature's rows in the window (its checkpoints' fingerprints),
  // and of the label rows, whole and all but the last 2,880 minutes (for a later refresh).
  await fingerprintFeatures({ warehouse, config }, manifest, featureCatalog);
  manifest.labels.versions = await labelVersions({ warehouse }, manifest);
  // startRun's snapshot: every extract, and the merge's label rows, read the tables as of it.
  manifest.snapshotAt = now.toISOString();
  const mergePlan = planMerge(manifest, config);

  // The window's time shards (BQX_SHARD), as extractFeature and mergeRun give them.
  const grid = shardGrid(window, config.shard);
  // A refresh's extracts read only the new range; its merge builds the shards that grew or are new.
  const range = since ? { start: since, end: window.end } : window;
  const ask = input.refresh?.builds;
  const builds: RefreshBuilds | undefined = since ? (ask ? await ask({ labels: { dataset: config.labelsDataset, table: labelTableName }, grid }) : { until: since }) : undefined;
  if (since !== undefined) await refreshVersions(warehouse, manifest, { start: window.start, end: since }, { features: !nothingNew, labelsUnchanged: builds?.until === since });
  const grown = builds?.grown;
  if (grown && grown.from !== since) throw new Error(`plan: the shard a refresh grows starts its part at ${grown.from}, not at ${since}`);
  // The shards ending after `until` (every one without it); a grown shard from `since` on (mergeRun's `build`), its earlier rows staying the previous version's files.
  const until = builds?.until;
  const shards = builds ? grid.filter((s) => until === undefined || s.end > until).map((s) => (s.id === grown?.id ? { ...s, start: grown.from } : s)) : grid;
  // The shards whose label rows alone changed are merged apart, their label group only, with a
  // relabelled grown shard's rows before its part (mergeRun).
  const relabelled = new Set(builds?.relabelled ?? []);
  const whole = shards.filter((s) => !relabelled.has(s.id));
  const relabelledShards = builds ? relabelTargets(grid, { ...(builds.relabelled ? { relabelled: builds.relabelled } : {}), ...(grown ? { grown: [grown] } : {}) }) : [];
  // Both merges' rows: from the first shard built, or the first relabelled (a grown shard's rows before its part).
  const firstBuilt = [shards[0]?.start, relabelledShards[0]?.start].filter((t): t is string => t !== undefined).sort()[0];
  const mergeWindow = shards.length === 0 ? range : since ? { start: firstBuilt!, end: window.end } : window;

  // extractFeature, once per feature (a run sends them in parallel, in no set order).
  const checkpoints: Record<string, string[]> = {};
  for (const f of nothingNew ? [] : manifest.features) {
    const asOf = frozenTable(manifest, f);
    const result = await warehouse.extract({
      runId,
      pair,
      feature: f.feature,
      dataset: f.dataset,
      columns: f.columns.map((c) => c.source),
      window: range,
      prefix: paths.featureDir(runId, f.feature),
      shards: shardGrid(range, config.shard),
      ...(asOf ? { asOf } : {}),
    });
    if (result.state !== 'done') throw new Error(`plan: extract of ${f.feature} did not finish (${result.detail})`);
    checkpoints[f.feature] = result.files;
  }
  // The merge loads each checkpoint's files that meet its window (mergeRun's filesMeeting), whole.
  // Where it builds rows before `since` (a shard built whole), that is the previous version's
  // export of the feature too, which holds its whole window (BigQuery exports a feature in one
  // file; beyond 1 GB, a few): the merge loads it partitioned by day or month and its joins read
  // the merge window's partitions (bigQueryMergeSteps.ts `loadPartitions`), the rows `loadedWindow` counts.
  const previous = since ? { pair, runId: input.refresh?.from ?? newRunId(pair, new Date(since), () => 0) } : undefined;
  const partitions = loadPartitions(config.shard, window) === 'DAY' ? 'day' : 'month';
  const loadsEarlier = since !== undefined && mergeWindow.start < since;
  const loadedWindow = loadsEarlier ? { start: cellStart(new Date(mergeWindow.start), partitions).toISOString(), end: window.end } : range;
  // Each merge loads the files meeting its window (mergeRun's filesMeeting): the previous export where it builds rows before `since`.
  const withEarlier: Record<string, string[]> = { ...checkpoints };
  if (previous && loadsEarlier) {
    for (const f of manifest.features) {
      const earlier = `${paths.featureDir(previous.runId, f.feature)}${attemptDir(EARLIER_EXPORT_JOB)}/part-000000000000.parquet`;
      await staging.write(earlier, 'placeholder');
      withEarlier[f.feature] = [earlier, ...(checkpoints[f.feature] ?? [])];
    }
  }
  const inputs = (w: Window) => (since !== undefined && w.start >= since ? checkpoints : withEarlier);

  // mergeRun (nothing to build: none).
  if (whole.length > 0) {
    const mainWindow = relabelledShards.length === 0 ? mergeWindow : { start: whole[0]!.start, end: window.end };
    const merged = await warehouse.merge({ runId, pair, window: mainWindow, manifest, plan: mergePlan, checkpoints: inputs(mainWindow), outputPrefix: paths.outputDir(pair, runId), shards: whole });
    if (merged.state !== 'done') throw new Error(`plan: the merge did not finish (${merged.detail})`);
  }
  if (relabelledShards.length > 0) {
    const labelGroups = { ...mergePlan, groups: mergePlan.groups.filter((g) => g.labels) };
    const relabelWindow = { start: relabelledShards[0]!.start, end: relabelledShards.at(-1)!.end };
    const merged = await warehouse.merge({ runId, pair, window: relabelWindow, manifest, plan: labelGroups, checkpoints: inputs(relabelWindow), outputPrefix: paths.outputRelabelledDir(pair, runId), shards: relabelledShards });
    if (merged.state !== 'done') throw new Error(`plan: the merge of the relabelled shards did not finish (${merged.detail})`);
  }

  // The profile after the merge (quality.ts), over the whole dataset: a refresh's shared shards are
  // the previous version's files (named after a placeholder run id where the caller gives none).
  const counted = new Map([[`${window.start}/${window.end}`, labels.rows]]);
  const rowsIn = async (w: Window) => counted.get(`${w.start}/${w.end}`) ?? (await source.labelStats(config.labelsDataset, labelTableName, w)).rows;
  const dataset = await plannedOutput({ groups: mergePlan.groups, grid, exported: outputExports, ...(previous ? { previous } : {}), ...(grown ? { grown } : {}), rowsIn, uri: (name) => output.uri(name) });
  const planned = plannedProfile(config, manifest, { runId, pair, window, labelRows: labels.rows }, dataset, since ? { rebuilt: new Set(shards.map((s) => s.id)), since, relabelled } : undefined);
  // Nothing built: the dataset is the previous version's, file for file, and so is its profile (mergeRun's rule).
  const profile = shards.length === 0 && previous ? { ...planned, takenFrom: previous.runId } : planned;
  await recordProfile(warehouse, profile);

  return {
    pair,
    runId,
    window,
    ...(since ? { refresh: { since, extractRange: range, mergeWindow, loadedWindow, shards: shards.length, sharedShards: grid.length - shards.length, ...(grown ? { grownShard: grown.id, ...(grown.relabelled ? { grownRelabelled: true as const } : {}) } : {}), ...(relabelled.size > 0 ? { relabelledShards: relabelled.size } : {}) } } : {}),
    manifest,
    mergePlan,
    // A refresh's merge reads the label rows of the shards it builds only.
    labelRows: shards.length === 0 ? 0 : since ? (await source.labelStats(config.labelsDataset, labelTableName, mergeWindow)).rows : labels.rows,
    labelTableRows,
    datasets: { features: config.featuresDataset, labels: config.labelsDataset },
    featureCatalog,
    labelCatalog,
    statements: recorder.statements,
    dataset,
    profile,
  };
}

/**
 * The data versions a refresh asks for after startRun's: where the window grew (`features`), of
 * every feature's rows in the previous window (planIncremental: their old rows unchanged, each
 * extracts the new range only); then of the label rows in it (planSharing's
 * labelsUnchangedUntil), and where those changed, of all but their last 2,880 minutes
 * (`labelsUnchanged`: whether the run finds them unchanged, as the plan's `builds` said).
 */
async function refreshVersions(warehouse: BigQueryWarehouse, manifest: RunManifest, previous: Window, asked: { features: boolean; labelsUnchanged: boolean }): Promise<void> {
  const { labelsUnchanged } = asked;
  if (asked.features) await featureVersions(warehouse, manifest.features, previous);
  const settledEnd = new Date(Date.parse(previous.end) - LABEL_LOOKAHEAD_MINUTES * 60_000).toISOString();
  // The versions the previous version recorded: placeholders, which no recorded answer matches, so
  // the questions are asked as the run asks them.
  const versions = { window: 'recorded', settled: !labelsUnchanged && settledEnd > previous.start ? { end: settledEnd, version: 'recorded' } : null };
  await labelsUnchangedUntil({ warehouse }, { run: { window: previous }, manifest: { labels: { ...manifest.labels, versions } } }, manifest.labels);
}

/** The data version the plan answers for every table: what BigQuery answers is known at the run only. */
const PLANNED_VERSION = 'as the run finds it';

/** Rows a read query would return, from the source's catalog and statistics. */
async function answer(s: RecordedStatement, catalogs: Map<string, CatalogTable[]>, source: CatalogSource, labelTable: string, labelsDataset: string): Promise<unknown[]> {
  if (s.step === 'list_tables') {
    const tables = catalogs.get(String(s.params.dataset)) ?? [];
    return tables.flatMap((t) => t.columns.map((c) => ({ table_name: t.table, column_name: c.name, data_type: c.type })));
  }
  if (s.step === 'label_stats') {
    const { start, end } = s.params;
    const window = start instanceof Date && end instanceof Date ? { start: start.toISOString(), end: end.toISOString() } : undefined;
    const stats: LabelStats = await source.labelStats(labelsDataset, labelTable, window);
    return [{ row_count: stats.rows, min_key: stats.minKey, max_key: stats.maxKey }];
  }
  if (s.step === 'extract_counts') return [{ source_rows: 0, key_count: 0 }];
  // Every table has a data version (a view would have none): so the run reads each as of its
  // snapshot, and so does the plan. No earlier version recorded anywhere is this one.
  if (s.step === 'data_versions') return (s.params.tables as string[]).map((table) => ({ table_name: table, version: PLANNED_VERSION }));
  return [];
}
