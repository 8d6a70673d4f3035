// What the merge checks after the output is verified and before it is published: the dataset
// profile (shared/profile), the time folds' row ranges, and the quality gates. The warehouse does
// the scanning (its `profile` and `compareColumns`), so on BigQuery it runs where the data is.

import type { Config } from '../config.js';
import { billedBytes, estimateCost } from '../cost.js';
import { foldCuts, labelledFolds, planFolds, type FoldPlan } from '../folds.js';
import type { RunManifest } from '../manifest.js';
import type { CheckpointRecord, MergeProgress, MergedGroup, MergedShard, RunRecord } from '../ports.js';
import { labelHorizon, labelTailMinutes } from '../profile/findings.js';
import { evaluateGates, gateMessage, type GateMetric, type GateResult } from '../profile/gates.js';
import { profileDataset, profileKeys, sampleLayout, type ProfileInput } from '../profile/profile.js';
import { mergeMeasured, withSample } from '../profile/reuseStats.js';
import type { CompareJob, DatasetProfile, MeasuredColumns, PairCounts, ProfileBasis, ProfileJob, ProfileReuse, ProfileSettings } from '../profile/types.js';
import type { ScanState } from '../profile/scanState.js';
import type { KeptScan } from '../profile/storedProfile.js';
import type { RunReport } from '../report.js';
import type { ChainDeps } from './deps.js';
import { carriedOnText } from '../profile/resumeByGroup.js';
import { EarlierSampleMissing, completedKept, earlierColumns, earlierScan, profileBasis, samePoint, scanPoint, sharedProfileCopy, type EarlierScan, type StoredProfile } from './profileReuse.js';

export interface Quality {
  /** Absent with BQX_PROFILE=keys. */
  profile?: DatasetProfile;
  gates: GateResult[];
  /** `fail` gates that did not pass: the run fails with these. */
  failed: GateResult[];
  /** `warn` gates that did not pass, as summary warnings. */
  warnings: string[];
  folds: FoldPlan;
  cutRows: number[];
  /** What the profile was computed with (fold cuts, settings): a later identical dataset may reuse it only with the same. */
  profiledWith: string;
  /**
   * The rows before the labels' null tail (the last row any label has a value, plus one), from the
   * profile (absent with BQX_PROFILE=keys): folds.json leaves out the folds past it (labelledFolds).
   * `folds` and `cutRows` stay the plan's as profiled, which a later run may take with the profile.
   */
  labelledRows?: number;
  /** Columns measured and taken from an earlier dataset (absent with BQX_PROFILE=keys). */
  profileReuse?: ProfileReuse;
  /** The raw columns the profile was computed from, and its scan state, to keep with the dataset, or the earlier stored profile to copy (shared/chain/profileReuse.ts). */
  stored?: StoredProfile;
  profileMs: number;
  /** What the run cost (the `cost_usd` gate's value) and the bytes its jobs billed, profile included (RunCost). */
  costUsd?: number;
  bytesBilled?: number;
}

/**
 * A run's BigQuery spend before its profile: the merge's dry-run estimate of its staged joins, and
 * the bytes its extracts and merge billed. Where any job reported billed bytes, the `cost_usd` gate
 * prices those, the profile's added; else the estimate (0 embedded).
 */
export interface RunCost {
  estimateUsd?: number;
  billedBytes?: number;
}

/** Gate metrics that need the column profile: with BQX_PROFILE=keys they are not checked, and the run says so. */
const PROFILE_METRICS: readonly GateMetric[] = ['label_null_share', 'leakage', 'constant', 'duplicates', 'stale'];

/**
 * `measured`: the profile of a dataset with exactly these files (an unchanged run sharing every
 * shard of the last one, shared/chain/shareShards.ts), used instead of profiling again.
 * Otherwise columns read from the same checkpoints as in an earlier dataset with the same rows
 * are taken from its stored profile, and only the rest are measured (shared/profile/reuseStats.ts).
 */
export async function checkQuality(
  deps: ChainDeps,
  manifest: RunManifest,
  run: RunRecord,
  groups: MergedGroup[],
  cost: RunCost,
  report: RunReport,
  measured?: { profile: DatasetProfile; cutRows: number[]; profiledWith: string },
  checkpoints: readonly CheckpointRecord[] = [],
  shards: readonly MergedShard[] = [],
): Promise<Quality> {
  const began = Date.now();
  const settings = deps.config.profile;
  const { folds, input, settings: profileSettings } = profileInput(settings, manifest, run, groups);
  const profiledWith = JSON.stringify({ cuts: input.cuts, rows: input.rows, ...profileSettings });
  let profile: DatasetProfile | undefined;
  let profileReuse: ProfileReuse | undefined;
  let stored: Quality['stored'];
  let cutRows: number[];
  let metrics: Record<GateMetric, number>;
  // The run's own gates (recorded at its start, added to by reruns), else this process's.
  let gateList = run.gates ?? settings.gates;
  const notes: string[] = [];
  let profileBilled: number | undefined;
  const bill = (bytes: number | undefined) => (profileBilled = billedBytes([profileBilled, bytes]));
  // The profile's passes and comparisons, counting what their jobs billed.
  const counted = async (job: ProfileJob, progress?: (p: MergeProgress) => void) => {
    const data = await deps.warehouse.profile(job, progress);
    bill(data.bytesBilled);
    return data;
  };
  // Priced when the gates are checked, after the profile's own jobs have billed.
  const spent = () => {
    const billed = billedBytes([cost.billedBytes, profileBilled]);
    return { costUsd: billed !== undefined ? estimateCost(billed, deps.config.gcp.costPerTbUsd) : cost.estimateUsd, bytesBilled: billed };
  };
  if (settings.mode === 'full') {
    const layout = { ...input, warmupRows: settings.warmupRows, ...sampleLayout(input.rows) };
    const scanWith = JSON.stringify({ warmupRows: layout.warmupRows, blockFrom: layout.blockFrom, blockRows: layout.blockRows, spreadStep: layout.spreadStep });
    const basis = profileBasis(manifest, run, checkpoints, profiledWith, scanWith);
    // The scan's state at its scan point shard's first row is kept, for a refresh to carry on from.
    const point = scanPoint(shards, run.window.end);
    // And its state after the last row, for a refresh that grows the last shard by a part: every file before it.
    const end = { row: input.rows, prefix: input.groups.map((g) => ({ index: g.index, files: g.files })) };
    const keptAt = (at: { row: number; prefix: KeptScan['prefix'] } | undefined, state: ScanState | undefined, compared?: PairCounts[], tails?: KeptScan['tails']): KeptScan | undefined =>
      at && state && state.row === at.row ? { state, prefix: at.prefix, ...(compared ? { compared } : {}), ...(tails ? { tails } : {}) } : undefined;
    // An earlier dataset's kept state of the same files before the same row is this dataset's.
    const sameKept = (kept: KeptScan | undefined, at: { row: number; prefix: KeptScan['prefix'] } | undefined): KeptScan | undefined =>
      kept && at && samePoint({ row: kept.state.row, prefix: kept.prefix }, at) ? kept : undefined;
    if (measured?.profiledWith === profiledWith && run.sharing) {
      ({ profile, cutRows } = measured);
      const total = input.groups.reduce((n, g) => n + g.columns.length - 1, 0);
      profileReuse = { profiled: 0, reused: total, from: run.sharing.from };
      // The raw columns go with this dataset too, copied, when every one of them is the earlier's:
      // its objects as they are where they describe these files, else decoded and written again.
      const copy = await sharedProfileCopy(deps, run, run.sharing.from, basis, total, point, end);
      if (copy) stored = { basis, copy };
      else {
        const earlier = await earlierColumns(deps, run, manifest, basis, run.sharing.from);
        const all = 'columns' in earlier && earlier.reusable.length === total ? new Set(earlier.reusable) : undefined;
        const taken = all && 'columns' in earlier ? await withSample(earlier.columns) : undefined;
        const merged = all && taken ? mergeMeasured(layout, taken, all) : undefined;
        const data = merged && 'columns' in earlier ? { ...merged, ...definedOnly({ compared: earlier.columns.compared, leakage: earlier.columns.leakage }) } : merged;
        // The same files, so the same scan state (and pair counts) at the same row.
        const scan = 'columns' in earlier ? keptAt(point, earlier.columns.scan?.state, earlier.columns.scan?.compared, earlier.columns.scan?.tails) : undefined;
        const atEnd = 'columns' in earlier ? sameKept(earlier.columns.end, end) : undefined;
        if (data) stored = { basis, data, ...(scan ? { scan } : {}), ...(atEnd ? { end: atEnd } : {}) };
      }
    } else {
      const earlier = await earlierColumns(deps, run, manifest, basis);
      // The column pass is long on big datasets: its batches go to the observer (the CLI's bar).
      const progress = (p: MergeProgress) => deps.observe?.({ type: 'profile', runId: run.runId, progress: p });
      const measuring = {
        profile: (job: ProfileJob) => counted(job, progress),
        compareColumns: (job: CompareJob) => deps.warehouse.compareColumns(job, bill),
      };
      // Other rows (a refresh): the column pass may carry on from an earlier dataset's scan state.
      let carry = 'columns' in earlier ? undefined : await earlierScan(deps, run, manifest, input.groups, basis);
      const measure = () => profileDataset(measuring, scanJob(input, shards, run.window.end, carry && 'from' in carry ? carry : undefined), profileSettings, 'columns' in earlier ? earlier : undefined);
      let done: Awaited<ReturnType<typeof measure>>;
      try {
        done = await measure();
      } catch (error) {
        // The earlier sample, read while the pass ran, was not whole: every row is measured instead.
        if (!(error instanceof EarlierSampleMissing)) throw error;
        carry = { why: error.message };
        done = await measure();
      }
      ({ profile, cutRows } = done);
      profileReuse =
        carry && 'from' in carry
          ? { ...done.reuse, from: carry.from, ...carriedOn(carry) }
          : 'why' in earlier
            ? { ...done.reuse, why: carry && 'why' in carry && carry.why !== earlier.why ? `${earlier.why}; ${carry.why}` : earlier.why }
            : done.reuse;
      // Carried on from an earlier dataset's end past this one's scan point (its last shard
      // grown), the pass took no state there: the earlier dataset's is it, where it is the same point.
      // With some groups carried on from the earlier end (past this point), their columns' state there is the earlier one's where it is the same point.
      const earlierKept = sameKept(carry && 'from' in carry ? carry.kept : undefined, point);
      const order = input.groups.flatMap((g) => g.columns.filter((c) => c !== input.key));
      const scan = completedKept(keptAt(point, done.data.scanState, done.data.comparedBefore, done.data.scanTails), earlierKept, order) ?? earlierKept;
      const atEnd = keptAt(end, done.data.endState, done.data.compared, done.data.endTails);
      stored = { basis, data: { columns: done.data.columns, sample: done.data.sample, ...definedOnly({ compared: done.data.compared, leakage: done.data.leakage }) }, ...(scan ? { scan } : {}), ...(atEnd ? { end: atEnd } : {}) };
      if (profileReuse.carriedOnFrom !== undefined || profileReuse.carriedOnFromEnd) deps.logger.info(`profile: ${profileReuse.profiled} column(s) ${carriedOnText(profileReuse)}`, { runId: run.runId, pair: run.pair, step: 'profile' });
      else deps.logger.info(`profile: ${profileReuse.profiled} column(s) measured, ${profileReuse.reused} taken${profileReuse.from ? ` from ${profileReuse.from}` : ''}${profileReuse.why ? ` (${profileReuse.why})` : ''}`, { runId: run.runId, pair: run.pair, step: 'profile' });
    }
    metrics = gateMetrics(profile, manifest, run, spent().costUsd);
    // A leakage gate that compared nothing would pass by default: left out, and said.
    if (profile.labelsSampled === 0) {
      const unmeasured = gateList.filter((g) => g.metric === 'leakage');
      gateList = gateList.filter((g) => g.metric !== 'leakage');
      if (unmeasured.length > 0) notes.push(`leakage not measured: no label has a value in the profile's sample (the window is within the labels' lookahead, or nearly), so ${unmeasured.map((g) => g.gate).join(', ')} was not checked`);
    }
  } else {
    const keys = await profileKeys({ profile: (job) => counted(job) }, input, profileSettings);
    cutRows = keys.cutRows;
    metrics = { rows: run.labelRows, columns: manifest.columnCount, feature_null_share: Math.round(report.totals.nullRate * 1e6) / 1e6, label_null_share: 0, leakage: 0, constant: 0, duplicates: 0, stale: 0, unexpected_gaps: keys.gaps.unexpected.length, cost_usd: spent().costUsd ?? 0 };
    const skipped = gateList.filter((g) => PROFILE_METRICS.includes(g.metric));
    gateList = gateList.filter((g) => !PROFILE_METRICS.includes(g.metric));
    if (skipped.length > 0) notes.push(`BQX_PROFILE=keys: columns not profiled, gates not checked: ${skipped.map((g) => g.gate).join(', ')}`);
  }
  const gates = evaluateGates(gateList, metrics);
  const labelledRows = profile ? labelledEnd(profile, run.labelRows) : undefined;
  const { dropped } = labelledFolds(folds, cutRows, labelledRows);
  // A modeller takes folds.json for granted: a dataset without one says so in the run's summary,
  // with the plan's reason (most often a window within the labels' lookahead).
  if (folds.bounds.length === 0) notes.push(`folds.json holds no fold: ${folds.file.note}`);
  if (dropped > 0) notes.push(`folds.json: ${dropped} of ${folds.bounds.length} planned fold(s) left out, their validation or test segment without a row with a label value (the labels' last value is at row ${labelledRows!.toLocaleString('en-US')} of ${run.labelRows.toLocaleString('en-US')})`);
  return {
    ...(profile ? { profile } : {}),
    gates,
    failed: gates.filter((g) => !g.passed && g.level === 'fail'),
    warnings: [...notes, ...gates.filter((g) => !g.passed && g.level === 'warn').map(gateMessage)],
    folds,
    cutRows,
    ...(labelledRows !== undefined ? { labelledRows } : {}),
    profiledWith,
    ...(profileReuse ? { profileReuse } : {}),
    ...(stored ? { stored } : {}),
    profileMs: Date.now() - began,
    ...definedOnly(spent()),
  };
}

/**
 * What the profile is asked of a dataset: its groups (files in shard order, columns key first), its
 * labels and rows, and the times of the folds' boundaries; with the folds and the settings. `bqx
 * plan` builds a run's profile job with this too (shared/plan/planProfile.ts), so what it records
 * is this job's statements.
 */
export function profileInput(
  settings: Config['profile'],
  manifest: RunManifest,
  run: Pick<RunRecord, 'runId' | 'pair' | 'window' | 'labelRows'>,
  groups: readonly Pick<MergedGroup, 'index' | 'files' | 'columns'>[],
): { folds: FoldPlan; input: ProfileInput; settings: ProfileSettings } {
  const longest = Math.max(0, ...manifest.labels.columns.map((l) => labelHorizon(l) ?? 0));
  const folds = planFolds(run, run.window.start, lastKey(run), settings.folds, longest, Math.max(0, ...manifest.labels.columns.map(labelTailMinutes)));
  const input = {
    runId: run.runId,
    pair: run.pair,
    key: manifest.key,
    groups: groups.map((g) => ({ index: g.index, files: g.files, columns: g.columns })),
    labels: manifest.labels.columns,
    rows: run.labelRows,
    cuts: foldCuts(folds),
  };
  return { folds, input, settings: { warmupRows: settings.warmupRows, staleShare: settings.staleShare } };
}

/**
 * The column pass's job over a dataset in `shards` ending at `windowEnd`: each shard's start and
 * rows (none when the merge gave none), the scan state kept at its scan point (scanPoint), and
 * `resume`, where the pass carries on from an earlier dataset's state. `bqx plan` builds it so too.
 */
export function scanJob(input: ProfileInput, shards: readonly MergedShard[], windowEnd: string, carry?: Pick<ProfileInput, 'resume' | 'resumeEnd'>): ProfileInput & Pick<ProfileJob, 'shards'> {
  const point = scanPoint(shards, windowEnd);
  return {
    ...input,
    ...(shards.length > 0 ? { shards: shards.map((s) => ({ start: s.start, rows: s.rows })) } : {}),
    ...(point ? { snapshotAt: point.row, snapshotPrefix: point.prefix } : {}),
    ...(carry?.resume ? { resume: carry.resume } : {}),
    ...(carry?.resumeEnd ? { resumeEnd: carry.resumeEnd } : {}),
  };
}

/** Where a column pass carried on from (ProfileReuse): the scan point's row, and the groups carried on from the end state's. */
function carriedOn(carry: EarlierScan): Pick<ProfileReuse, 'carriedOnFrom' | 'carriedOnFromEnd'> {
  return {
    ...(carry.resume ? { carriedOnFrom: carry.resume.from.state.row } : {}),
    ...(carry.resumeEnd ? { carriedOnFromEnd: { row: carry.resumeEnd.from.state.row, groups: carry.resumeEnd.groups.length } } : {}),
  };
}

/** The rows before the labels' null tail: up to the last row where any label has a value (0 when none has one; every row with no label). */
export function labelledEnd(profile: Pick<DatasetProfile, 'labels'>, rows: number): number {
  return profile.labels.length === 0 ? rows : Math.max(0, ...profile.labels.map((t) => rows - t.tailNulls));
}

/** The last minute of the window [start, end). */
function lastKey(run: Pick<RunRecord, 'window'>): string {
  return new Date(Date.parse(run.window.end) - 60_000).toISOString();
}

/** The measured values the gates compare; shares are of cells. */
export function gateMetrics(profile: DatasetProfile, manifest: RunManifest, run: RunRecord, costUsd: number | undefined): Record<GateMetric, number> {
  const labels = new Set(manifest.labels.columns);
  const features = profile.columns.filter((c) => !labels.has(c.column));
  const share = (values: number[]) => (values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  // Label nulls before each label's tail: the tail is expected (labels look ahead) and is
  // reported per label in profile.labels against its horizon. A label with no value at all has no
  // tail, only nulls: every row counts (passed over as a tail, a window of labels all null, one
  // before the label table's values begin, measured 0 and passed).
  const tails = new Map(profile.labels.map((t) => [t.label, t.tailNulls < run.labelRows ? t.tailNulls : 0]));
  let labelNulls = 0;
  let labelCells = 0;
  for (const c of profile.columns) {
    if (!labels.has(c.column)) continue;
    const body = run.labelRows - (tails.get(c.column) ?? 0);
    labelNulls += Math.max(0, c.nullShare * run.labelRows - (tails.get(c.column) ?? 0));
    labelCells += Math.max(0, body);
  }
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    rows: run.labelRows,
    columns: manifest.columnCount,
    feature_null_share: round(share(features.map((c) => c.nullShare))),
    label_null_share: round(labelCells > 0 ? labelNulls / labelCells : 0),
    leakage: profile.leakage.length,
    constant: profile.constant.length,
    duplicates: profile.duplicates.reduce((n, g) => n + g.length - 1, 0),
    stale: profile.stale.length,
    unexpected_gaps: profile.gaps.unexpected.length,
    cost_usd: costUsd ?? 0,
  };
}

/** The fields of `o` that are not undefined (a record keeps no undefined field: Firestore refuses them). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
