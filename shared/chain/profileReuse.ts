// What a run's profile can build on (shared/profile/reuseStats.ts): the raw column profile kept with
// an earlier succeeded dataset of the pair (shared/profile/storedProfile.ts), and what this run's
// columns are read from, to compare. Only datasets of runs started before this one count: a run
// sees checkpoints as they were when it started, so an earlier run's files are the ones this run
// reuses (a run re-merged after `bqx rerun` never takes numbers a later run measured). With
// `--no-reuse` (every feature's reason) nothing is taken: the profile is measured from scratch.

import type { RunManifest } from '../manifest.js';
import { paths } from '../naming.js';
import type { CheckpointRecord, MergedShard, RunRecord } from '../ports.js';
import type { ScanResume } from '../profile/columnScan.js';
import type { ResumeEnd } from '../profile/resumeByGroup.js';
import { reusableColumns, type EarlierColumns } from '../profile/reuseStats.js';
import { pickStates } from '../profile/scanState.js';
import { copyStoredProfile, readStoredColumns, readStoredEnd, readStoredSample, readStoredScan, unstorable, validCounts, validScreen, writeStoredProfile, type KeptScan, type StoredColumns, type StoredProfileObjects } from '../profile/storedProfile.js';
import type { MeasuredColumns, ProfileBasis, ProfileJob } from '../profile/types.js';
import type { ChainDeps } from './deps.js';
import { REASONS } from './reuse.js';
import { LABEL_LOOKAHEAD_MINUTES } from './shareShards.js';

/** Earlier datasets looked at, newest first: the kept ones (retention keeps 3 by default). */
const CANDIDATES = 3;

/** What this run's output columns are read from. */
export function profileBasis(manifest: RunManifest, run: RunRecord, checkpoints: readonly CheckpointRecord[], profiledWith: string, scanWith: string): ProfileBasis {
  const files = new Map(checkpoints.map((c) => [c.feature, c.files]));
  return {
    window: { start: run.window.start, end: run.window.end },
    key: manifest.key,
    rows: run.labelRows,
    profiledWith,
    scanWith,
    labels: { dataset: manifest.labels.dataset, table: manifest.labels.table, version: manifest.labels.versions?.window ?? null, columns: [...manifest.labels.columns] },
    features: manifest.features.map((f) => ({
      feature: f.feature,
      fingerprint: f.fingerprint ?? null,
      files: files.get(f.feature) ?? [],
      columns: f.columns.map((c) => ({ source: c.source, output: c.output, type: c.type })),
    })),
  };
}

/**
 * The earlier dataset whose stored columns this run can take the most of (`from`: that run
 * only), with those columns; or why there is none.
 */
export async function earlierColumns(
  deps: Pick<ChainDeps, 'store' | 'output'>,
  run: RunRecord,
  manifest: RunManifest,
  basis: ProfileBasis,
  from?: string,
): Promise<{ columns: EarlierColumns; reusable: string[] } | { why: string }> {
  if (manifest.features.every((f) => f.reason === REASONS.off)) return { why: 'reuse turned off' };
  const runs = (await deps.store.listRuns(run.pair))
    .filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all' && r.output && r.createdAt < run.createdAt && r.runId !== run.runId && (!from || r.runId === from))
    .filter((r) => r.window.start === run.window.start && r.window.end === run.window.end)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
    .slice(0, CANDIDATES);
  let best: { runId: string; head: StoredColumns; reusable: string[] } | undefined;
  let why = 'no earlier dataset of this window with a stored profile';
  for (const r of runs) {
    const head = await readStoredColumns(deps.output, paths.outputProfile(r.pair, r.runId));
    if (!head) continue;
    const plan = reusableColumns(head.basis, basis);
    if (plan.why) why = plan.why;
    if (plan.columns.length > (best?.reusable.length ?? 0)) best = { runId: r.runId, head, reusable: plan.columns };
  }
  if (!best) return { why };
  const objects = paths.outputProfile(run.pair, best.runId);
  // The sample's values (77 MB at 20,000 rows) are read while the column pass measures the other
  // columns, which needs only the stored statistics: read first, they held up the pass of a run
  // after 84 tables were touched about 0.3 s. Not the file described: every column is measured.
  const values = readStoredSample(deps.output, objects, best.head);
  values.catch(() => {}); // awaited where the stored columns are merged with the measured ones
  const scan = await readStoredScan(deps.output, objects, best.head);
  const end = await readStoredEnd(deps.output, objects, best.head);
  const compared = validCounts(best.head.compared) ? { compared: best.head.compared } : {};
  const leakage = validScreen(best.head.leakage) ? { leakage: best.head.leakage } : {};
  return { columns: { from: best.runId, basis: best.head.basis, columns: best.head.columns, sample: { rows: best.head.sampleRows, values }, ...(scan ? { scan } : {}), ...(end ? { end } : {}), ...compared, ...leakage }, reusable: best.reusable };
}

/**
 * The shard a dataset keeps its scan state before: the first that ends after its window's end less
 * LABEL_LOOKAHEAD_MINUTES. Labels look ahead, so a refresh after new minutes may find the label
 * table's tail filled in and rebuild from that shard (shareShards.ts `labelsUnchangedUntil`), and
 * otherwise rebuilds the last one or grows it by a part, carrying on from the state after the last
 * row: either way its column pass starts at a kept state. (It was always the last shard: a refresh
 * over a filled-in tail in day shards carried nothing on and measured every row again.) Where that
 * is the first shard (a window not much longer than the lookahead), the last shard, as before: a
 * state at the first row would carry nothing.
 */
export function scanPointShard(shards: readonly Pick<MergedShard, 'end'>[], windowEnd: string): number {
  const settled = new Date(Date.parse(windowEnd) - LABEL_LOOKAHEAD_MINUTES * 60_000).toISOString();
  const at = shards.findIndex((s) => s.end > settled);
  return at < 1 ? shards.length - 1 : at;
}

/**
 * Where a dataset's scan state is taken: its rows before its scan point shard (scanPointShard), and
 * per group the files holding them; none when that is the first shard (a later dataset could share
 * nothing before it).
 */
export function scanPoint(shards: readonly MergedShard[], windowEnd: string): { row: number; prefix: KeptScan['prefix'] } | undefined {
  const at = scanPointShard(shards, windowEnd);
  if (at < 1) return undefined;
  const before = shards.slice(0, at);
  const indexes = shards[0]!.groups.map((g) => g.index);
  return {
    row: before.reduce((n, s) => n + s.rows, 0),
    prefix: indexes.map((index) => ({ index, files: before.flatMap((s) => s.groups.find((g) => g.index === index)?.files ?? []) })),
  };
}

/** Whether two points where a scan state is taken are the same row of the same files, group by group. */
export const samePoint = (a: { row: number; prefix: KeptScan['prefix'] }, b: { row: number; prefix: KeptScan['prefix'] }) =>
  a.row === b.row && JSON.stringify(a.prefix) === JSON.stringify(b.prefix);

const startsWith = (files: readonly string[], prefix: readonly string[]) => prefix.length <= files.length && prefix.every((f, i) => files[i] === f);

/** Where a dataset's column pass carries on from an earlier one's (`from`) kept states: at least one of `resume` and `resumeEnd`. */
export interface EarlierScan {
  from: string;
  resume?: NonNullable<ProfileJob['resume']>;
  resumeEnd?: ResumeEnd;
  /** The earlier dataset's state at its scan point, read to carry on from (`resume`) or along with its end state's. */
  kept?: KeptScan;
}

/**
 * A dataset's kept state at its scan point lacking some columns (a refresh's groups carried on from
 * the earlier end started past that row), with those taken from the earlier dataset's state at the
 * same point (`earlier`: same row, same files before it): the same rows, so the same state. In
 * `order`, the dataset's columns. As it is where nothing is missing or nothing matches.
 */
export function completedKept(fresh: KeptScan | undefined, earlier: KeptScan | undefined, order: readonly string[]): KeptScan | undefined {
  if (!fresh || !earlier || fresh.state.columns.length === order.length) return fresh;
  const have = new Set(fresh.state.columns);
  const missing = new Set(order.filter((c) => !have.has(c)));
  const state = pickStates(order, missing, fresh.state, earlier.state);
  if (!state) return fresh;
  const tails = { ...Object.fromEntries(Object.entries(earlier.tails ?? {}).filter(([c]) => missing.has(c))), ...fresh.tails };
  return { ...fresh, state, ...(Object.keys(tails).length > 0 ? { tails } : {}) };
}

/** An earlier dataset's stored sample, found not whole once its column pass had started from its state. */
export class EarlierSampleMissing extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EarlierSampleMissing';
  }
}

/**
 * An earlier dataset's scan state this dataset's column pass can carry on from: one whose files
 * before the state's row are this dataset's first files, group by group (a refresh shares those
 * shards by reference: the same rows, the same values), scanned with the same settings and sample
 * layout, and holding every column this dataset has. Newest first; the refresh's own source first.
 * Of one dataset, its state after its last row first (a refresh that grew its last shard by a part
 * begins with all its files), else the one at its scan point (scanPoint); with the first, `kept`
 * is the second, which is this dataset's own at the same row when its last shard is the one grown
 * (its pass, starting further on, does not pass that row to take it). Where only some groups begin
 * with all its files (over a filled-in label tail, the others), those carry on from its state
 * after its last row (`resumeEnd`) and the rest from its scan point (`resume`), or from row 0 where
 * its state there does not hold them.
 */
export async function earlierScan(
  deps: Pick<ChainDeps, 'store' | 'output'>,
  run: RunRecord,
  manifest: RunManifest,
  groups: readonly { index: number; files: string[]; columns: string[] }[],
  basis: ProfileBasis,
): Promise<EarlierScan | { why: string }> {
  if (manifest.features.every((f) => f.reason === REASONS.off)) return { why: 'reuse turned off' };
  const runs = (await deps.store.listRuns(run.pair))
    .filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all' && r.output && r.createdAt < run.createdAt && r.runId !== run.runId && r.window.start === run.window.start)
    .sort((a, b) => (a.runId === run.refresh?.from ? -1 : b.runId === run.refresh?.from ? 1 : a.createdAt < b.createdAt ? 1 : -1))
    .slice(0, CANDIDATES);
  const wanted = groups.flatMap((g) => g.columns.filter((c) => c !== manifest.key));
  let why = 'no earlier dataset of this start with a kept scan state';
  for (const r of runs) {
    const objects = paths.outputProfile(r.pair, r.runId);
    const head = await readStoredColumns(deps.output, objects);
    if (!head?.scan && !head?.end) continue;
    if (head.basis.key !== basis.key || head.basis.scanWith === undefined || head.basis.scanWith !== basis.scanWith) {
      why = `${r.runId} was scanned with other settings or another sample layout`;
      continue;
    }
    // The files this dataset reads from the state's row on, group by group, where it begins with the state's prefix.
    const rest = (kept: { prefix: KeptScan['prefix'] }) => {
      const prefix = new Map(kept.prefix.map((p) => [p.index, p.files]));
      const suffix = groups.map((g) => ({ index: g.index, files: g.files.slice(prefix.get(g.index)?.length ?? 0) }));
      return groups.every((g) => prefix.has(g.index) && startsWith(g.files, prefix.get(g.index)!)) && suffix.every((g) => g.files.length > 0) ? suffix : undefined;
    };
    const endSuffix = head.end && rest(head.end);
    // Its state after its last row unreadable: every group carries on from its scan point instead.
    let endUnreadable = false;
    if (endSuffix && head.end && covers(head.end, wanted)) {
      const scan = await readStoredEnd(deps.output, objects, head);
      if (scan) {
        const kept = await readStoredScan(deps.output, objects, head);
        return { from: r.runId, resume: carryFrom(endSuffix, scan, sampleOf(deps, objects, head, r.runId)), ...(kept ? { kept } : {}) };
      }
      why = `the stored profile of ${r.runId} is incomplete`;
      endUnreadable = true;
    }
    // Some groups' earlier files changed (the label group's, over a filled-in tail): the others
    // carry on from the state after the earlier dataset's last row, these from its scan point, or
    // from row 0 where its state there does not hold them (resumeByGroup.ts).
    const late = head.end && !endUnreadable ? lateGroups(groups, head.end, manifest.key) : [];
    const early = groups.filter((g) => !late.some((l) => l.index === g.index));
    const earlyColumns = early.flatMap((g) => g.columns.filter((c) => c !== manifest.key));
    const scanSuffix = head.scan && rest(head.scan);
    const fromScan = scanSuffix && head.scan && covers(head.scan, earlyColumns) ? scanSuffix : undefined;
    if (!fromScan && late.length === 0) {
      // Where its end state was unreadable, that is the reason given.
      if (!endUnreadable) why = head.scan && !scanSuffix ? `this dataset does not begin with ${r.runId}'s files` : `${r.runId}'s scan state lacks some of this dataset's columns`;
      continue;
    }
    const [scan, atEnd] = await Promise.all([fromScan ? readStoredScan(deps.output, objects, head) : undefined, late.length > 0 ? readStoredEnd(deps.output, objects, head) : undefined]);
    // A scan-point state unreadable costs the early groups their carry-on (they are measured from
    // row 0), not the late groups theirs from a whole end state.
    if ((fromScan && !scan && late.length === 0) || (late.length > 0 && !atEnd)) {
      why = `the stored profile of ${r.runId} is incomplete`;
      continue;
    }
    const sample = sampleOf(deps, objects, head, r.runId);
    const endRows = new Map(head.end?.prefix.map((p) => [p.index, p.files.length]) ?? []);
    return {
      from: r.runId,
      // Its state at the scan point, for this dataset's where that is the same point (completedKept).
      ...(scan ? { kept: scan } : {}),
      ...(fromScan && scan ? { resume: carryFrom(fromScan, scan, sample) } : {}),
      ...(late.length > 0 && atEnd ? { resumeEnd: { groups: late.map((g) => ({ index: g.index, files: g.files.slice(endRows.get(g.index)!) })), from: { state: atEnd.state, sample }, ...(atEnd.tails ? { tails: atEnd.tails } : {}) } } : {}),
    };
  }
  return { why };
}

/** A carry-on from `kept` reading `groups`' files, with the pair counts and tails kept with it. */
function carryFrom(groups: { index: number; files: string[] }[], kept: KeptScan, sample: Promise<ScanResume['sample']>): NonNullable<ProfileJob['resume']> {
  return { groups, from: { state: kept.state, sample }, ...(kept.compared ? { compared: kept.compared } : {}), ...(kept.tails ? { tails: kept.tails } : {}) };
}

/** A kept state's columns as a set, made once per state (17,037 columns, asked once per group). */
const columnSets = new WeakMap<{ columns: readonly string[] }, Set<string>>();

/** Whether a kept state holds every one of `columns`. */
const covers = (kept: { columns: readonly string[] }, columns: readonly string[]): boolean => {
  let has = columnSets.get(kept);
  if (!has) columnSets.set(kept, (has = new Set(kept.columns)));
  return columns.every((c) => has.has(c));
};

/**
 * The groups that begin with every file of an earlier dataset kept with its state after its last
 * row, and go on past them, with that state holding their columns: they can carry on from there.
 */
function lateGroups<G extends { index: number; files: string[]; columns: string[] }>(groups: readonly G[], end: { prefix: KeptScan['prefix']; columns: readonly string[] }, key: string): G[] {
  const prefix = new Map(end.prefix.map((p) => [p.index, p.files]));
  return groups.filter((g) => {
    const before = prefix.get(g.index);
    return before !== undefined && startsWith(g.files, before) && g.files.length > before.length && covers(end, g.columns.filter((c) => c !== key));
  });
}

/**
 * An earlier dataset's sample (77 MB at 20,000 rows), read while the column pass runs, which needs
 * only the state: read first, it held up a refresh's profile 0.4-0.8 s. One found not to be the
 * file described fails the pass with EarlierSampleMissing, and the profile measures every row.
 */
function sampleOf(deps: Pick<ChainDeps, 'output'>, objects: StoredProfileObjects, head: StoredColumns, runId: string): Promise<ScanResume['sample']> {
  const sample = readStoredSample(deps.output, objects, head).then((values) => {
    if (!values) throw new EarlierSampleMissing(`the stored profile of ${runId} is incomplete`);
    return { rows: head.sampleRows, values };
  });
  sample.catch(() => {}); // handled where the pass awaits it
  return sample;
}

/** What a dataset keeps of its profile: its raw columns and scan states, or an earlier dataset's stored profile of the same files, copied. */
export type StoredProfile =
  | { basis: ProfileBasis; data: MeasuredColumns; scan?: KeptScan; end?: KeptScan }
  | { basis: ProfileBasis; copy: { from: StoredProfileObjects; head: StoredColumns } };

/**
 * The stored profile of `from`, whose every file this dataset shares (an unchanged run: its
 * profile is `from`'s), where it can be kept as this dataset's by copying its objects: every
 * column taken (reuseStats.ts `reusableColumns`, with this dataset's basis), and its kept states
 * at this dataset's rows and files (`point`: before the last shard; `end`: after the last row).
 * Undefined otherwise: the caller decodes what it can take instead.
 */
export async function sharedProfileCopy(
  deps: Pick<ChainDeps, 'output'>,
  run: RunRecord,
  from: string,
  basis: ProfileBasis,
  columns: number,
  point: { row: number; prefix: KeptScan['prefix'] } | undefined,
  end: { row: number; prefix: KeptScan['prefix'] },
): Promise<{ from: StoredProfileObjects; head: StoredColumns } | undefined> {
  const objects = paths.outputProfile(run.pair, from);
  const head = await readStoredColumns(deps.output, objects);
  if (!head || reusableColumns(head.basis, basis).columns.length !== columns) return undefined;
  const at = (described: StoredColumns['scan'], where: { row: number; prefix: KeptScan['prefix'] } | undefined) => !described || (where !== undefined && samePoint(described, where));
  return at(head.scan, point) && at(head.end, end) ? { from: objects, head } : undefined;
}

/**
 * Keeps the dataset's raw column profile beside its report.json, for the next run to build on; or,
 * without one (BQX_PROFILE=keys, or columns the warehouse gave no sample of), removes any older one
 * there, which would no longer describe the dataset. Only a later run's speed depends on it.
 */
export async function keepProfile(deps: Pick<ChainDeps, 'output' | 'logger'>, run: RunRecord, stored?: StoredProfile): Promise<void> {
  const objects = paths.outputProfile(run.pair, run.runId);
  if (stored && 'copy' in stored) {
    // An earlier object gone or unreadable since its head was read costs a later run its speed, never this run.
    const copied = await copyStoredProfile(deps.output, stored.copy.from, objects, stored.copy.head, stored.basis).then(() => undefined, (error: Error) => error.message);
    if (copied === undefined) return;
    deps.logger.warn(`the raw column profile is not kept (copying ${stored.copy.from.columns}: ${copied}): the next run measures every column`, { runId: run.runId, pair: run.pair, step: 'profile' });
    await deps.output.deletePrefix(objects.dir);
    return;
  }
  const problem = stored && unstorable(stored.data);
  if (stored && !problem) return writeStoredProfile(deps.output, objects, stored.basis, stored.data, stored.scan, stored.end);
  if (problem) deps.logger.warn(`the raw column profile is not kept (${problem}): the next run measures every column`, { runId: run.runId, pair: run.pair, step: 'profile' });
  await deps.output.deletePrefix(objects.dir);
}
