// Incremental refresh, the output side (issue 9, item 3): only output shards that changed are
// rebuilt; the others are the previous version's files, listed by reference in the new
// `_manifest.json` (retention keeps whatever a kept dataset lists, wherever it lives).
// A shard of the previous version is shared when all of these hold, else every shard is rebuilt:
//   - same shard unit and window start, same output columns in the same column groups;
//   - every feature's rows in the previous window are unchanged (reused by fingerprint, or
//     extracting only the new range: shared/chain/incremental.ts);
//   - the label rows up to the shard's end are unchanged: the label table's data version of the
//     previous window (or of the window less its last LABEL_LOOKAHEAD_MINUTES, since labels look
//     ahead and an append can fill in the tail) equals the one recorded when that version ran;
//   - the shard lies before that point, with the same bounds in the new grid (a partial last
//     shard grows, so it is rebuilt).
// A rebuilt shard between that point and the previous end, with the same bounds, changed in its
// label rows alone (the tail new minutes fill in): only its label group is built (`relabelled`).
// The partial last shard grows by a part all the same; where its earlier rows' labels changed too,
// their label group is built again and its other groups stay (GrownShard `relabelled`).
// A plain run of the same window shares the same way (startRun): with every checkpoint reused,
// all its shards, so nothing is built, and the profile in the last dataset's report.json
// (computed over the very same files, with the same fold cuts and settings) is taken as it is.
// With some features changed (`bqx demo --touch`, a table rewritten) and the labels not, only the
// column groups holding a changed feature are built, shard by shard; every shard's other groups
// are the previous version's files (`groups` in the plan): the label keys, and so the rows of
// every group, are the same, so the groups still line up row for row. In the groups built, the
// unchanged features' columns are the previous version's too (`changed` in the plan): a merge may
// copy them from its file of the same shard and group instead of aligning every checkpoint again
// (the embedded one does: 84 tables touched at 20,000 rows in day shards read 12,700 checkpoint
// footers and key chunks for every group's every feature). A run of the same window whose tables
// were added, removed or renamed (schema drift) or whose column groups were laid out otherwise
// (BQX_GROUP_COLUMNS) builds the groups that are not as before, and shares the rest the same way.

import { outputColumns, type RunManifest } from '../manifest.js';
import { checkpointFileKeys } from '../checkpoint.js';
import { mapLimit } from '../concurrency.js';
import { byGroup, shardFileSizes } from '../outputShards.js';
import { planMerge, type MergeGroup, type MergePlan } from '../planner.js';
import type { CheckpointRecord, MergedShard, MergeResult, RunRecord, Window } from '../ports.js';
import { MAX_SHARD_PARTS, type Shard } from '../shards.js';
import type { ChainDeps } from './deps.js';
import { paths } from '../naming.js';
import { errorMessage } from '../log.js';
import type { DatasetProfile } from '../profile/types.js';

/** How far labels look ahead: label rows this close to a version's end may change on an append. */
export const LABEL_LOOKAHEAD_MINUTES = 2880;

/** The label versions a run records in its manifest, for a later refresh to compare. */
export async function labelVersions(deps: Pick<ChainDeps, 'warehouse'>, manifest: RunManifest): Promise<NonNullable<RunManifest['labels']['versions']>> {
  const { dataset, table } = manifest.labels;
  const window = manifest.window;
  const settledEnd = new Date(Date.parse(window.end) - LABEL_LOOKAHEAD_MINUTES * 60_000).toISOString();
  const whole = (await deps.warehouse.dataVersions(dataset, [table], window))[table] ?? null;
  const settled = settledEnd > window.start ? { end: settledEnd, version: (await deps.warehouse.dataVersions(dataset, [table], { start: window.start, end: settledEnd }))[table] ?? null } : null;
  return { window: whole, settled };
}

/** A shard of the previous version's `_manifest.json`. */
interface ManifestShard {
  index: number;
  id: string;
  start: string;
  end: string;
  rows: number;
  groups: { index: number; objects: string[]; rows: number; bytes: number }[];
}

interface OutputManifest {
  shardUnit?: string;
  groups: { index: number; columns: string[] }[];
  shards?: ManifestShard[];
}

export interface SharePlan {
  /** Shard ids taken whole from the previous version, and those this run builds. */
  shared: string[];
  rebuilt: string[];
  /**
   * Set when the rebuilt shards build only these column groups: their other groups are the
   * previous version's files of the same shard.
   */
  groups?: number[];
  /**
   * Set with `groups`, where the previous version has one file per shard and group: the features
   * whose checkpoints changed. Every other feature's columns in the groups built are the same
   * values in the same rows as in the previous version's file of that shard and group.
   */
  changed?: string[];
  /**
   * Rebuilt shards whose label rows changed and nothing else (labels look ahead: new minutes fill
   * in the tail before the previous end): the merge builds only their label group (group 0), its
   * features copied from the previous version's file of the same shard, and takes their other
   * groups from the previous version. Never with `groups`.
   */
  relabelled?: string[];
  /** Why nothing is shared, when nothing is. */
  why?: string;
  /** Set when nothing is shared because the previous version's files are damaged: the first damage found. */
  damaged?: string;
  /** Set with `groups`: groups shared from another index of the previous version (new index -> previous index). */
  moved?: Record<number, number>;
  /**
   * Rebuilt shards that grow by a part: the previous version's files of the shard hold its rows
   * before `from` (that version's window end) and stay, listed first; this run builds the shard's
   * rows from `from` on as one more file per group (GrownShard).
   */
  grown?: GrownShard[];
}

/** A shard grown by a part: the previous version's partial last shard, whose rows before `from` are unchanged. */
export interface GrownShard {
  id: string;
  from: string;
  /**
   * The label rows before `from` changed (labels look ahead: new minutes fill in the tail), the
   * features' did not: the merge builds the label group of the rows before `from` again, with the
   * relabelled shards (its features copied from the previous version's file), and takes the
   * earlier part's other groups from the previous version. Built whole, the shard read its old
   * rows of every group again: at 20,000 rows in day shards, about half of a refresh's merge.
   */
  relabelled?: boolean;
}

/** Which of the new grid's shards (or of their column groups) a run takes from the previous version, and which it builds. */
export async function planSharing(
  deps: Pick<ChainDeps, 'warehouse' | 'output' | 'config'>,
  base: { run: RunRecord; manifest: RunManifest },
  manifest: RunManifest,
  grid: readonly Shard[],
): Promise<SharePlan> {
  const all = { shared: [], rebuilt: grid.map((s) => s.id) };
  const previous = await readOutputManifest(deps, base.run);
  if (!previous?.shards) return { ...all, why: 'the previous version lists no shards' };
  if (previous.shardUnit !== deps.config.shard) return { ...all, why: `the shard unit was ${previous.shardUnit}` };
  if (base.run.window.start !== manifest.window.start) return { ...all, why: 'the window starts elsewhere' };
  const columnsChanged = outputColumns(manifest).join() !== outputColumns(base.manifest).join();
  const groups = planMerge(manifest, deps.config).groups;
  // A group laid out as before has the same columns as one of the previous version's (at the same
  // index, or at another when a family before it grew or shrank by a group): its files can be shared.
  const byColumns = new Map(previous.groups.map((g) => [g.columns.join(), g.index]));
  const source = new Map(groups.map((g) => {
    const key = g.columns.join();
    return [g.index, previous.groups[g.index]?.columns.join() === key ? g.index : byColumns.get(key)] as const;
  }));
  const asBefore = (g: MergeGroup) => source.get(g.index) !== undefined;
  const regrouped = columnsChanged || groups.length !== previous.groups.length || !groups.every(asBefore);
  // Changed: extracted whole; over the same window also a checkpoint reused from another run than
  // the one this version's files came from (other settings, say): its fingerprint differs.
  const sameWindow = base.run.window.end === manifest.window.end;
  const was = new Map(base.manifest.features.map((f) => [f.feature, f.fingerprint]));
  const changed = new Set(manifest.features.filter((f) => (!f.reuse && !f.incremental) || (sameWindow && f.fingerprint !== was.get(f.feature))).map((f) => f.feature));
  if (regrouped && !sameWindow) return { ...all, why: columnsChanged ? 'the output columns changed' : 'the column groups changed' };
  if (changed.size > 0 && !sameWindow) return { ...all, why: `${changed.size} feature(s) changed inside the previous window` };

  const until = await labelsUnchangedUntil(deps, base, manifest.labels);
  if (!until) return { ...all, why: 'the label rows of the previous window changed' };

  // A previous shard with the same bounds in the new grid (a partial last shard grows).
  const sameBounds = sameBoundsIn(grid);
  if (changed.size > 0 || regrouped) {
    // Same window, same label rows: every shard keeps its keys, and the groups laid out as before
    // without a changed feature their files (a table added, removed or renamed changes its family's
    // groups only: shared/planner.ts).
    const what = regrouped ? 'the column groups changed' : `${changed.size} feature(s) changed`;
    if (until !== base.run.window.end) return { ...all, why: `${what} and the label rows of the window's tail changed` };
    const rebuilt = groups.filter((g) => !asBefore(g) || g.members.some((m) => changed.has(m.feature))).map((g) => g.index);
    // A group built can take its unchanged features' columns from the previous files where the
    // group's columns are the same (so, with every group as before).
    const copyable = !regrouped && previous.shards.every((s) => s.groups.every((g) => g.objects.length > 0));
    if (rebuilt.length === groups.length && !copyable) return { ...all, why: regrouped ? 'every column group changed' : `${changed.size} changed feature(s) are in every column group` };
    if (!previous.shards.every(sameBounds)) return { ...all, why: 'the previous version\'s shards are not this grid\'s' };
    // The shards the previous version lists are those with label rows, which are unchanged.
    const moved = Object.fromEntries(groups.filter((g) => !rebuilt.includes(g.index) && source.get(g.index) !== g.index).map((g) => [g.index, source.get(g.index)!]));
    return unlessDamaged({ shared: [], rebuilt: previous.shards.map((s) => s.id), groups: rebuilt, ...(copyable ? { changed: [...changed].sort() } : {}), ...(Object.keys(moved).length > 0 ? { moved } : {}) });
  }
  const shared = previous.shards.filter((s) => s.end <= until! && sameBounds(s)).map((s) => s.id);
  const taken = new Set(shared);
  // Shards before that point that the previous version did not list had no label rows, and still have none.
  const rebuilt = grid.filter((s) => !taken.has(s.id) && s.end > until!).map((s) => s.id);
  const grown = grownShard(previous.shards, grid, base.run.window.end, until);
  const relabelled = relabelledShards(previous.shards, grid, until);
  return unlessDamaged({ shared, rebuilt, ...(grown ? { grown: [grown] } : {}), ...(relabelled.length > 0 ? { relabelled } : {}) });

  /** The plan, unless a file it takes from the previous version is damaged: then every shard is built. */
  async function unlessDamaged(plan: SharePlan): Promise<SharePlan> {
    const damaged = await damagedTaken(deps, { from: base.run.runId, manifest: previous }, plan, groups.map((g) => g.index));
    return damaged ? { ...all, why: `the previous version's files are damaged (${damaged})`, damaged } : plan;
  }
}

/**
 * How far the label rows of the version a refresh follows are known unchanged: its whole window,
 * or all but its tail (labels look ahead: an append fills the tail in), or nowhere (undefined).
 * From the data versions of `labels` (the table the next version reads) now against those the
 * version recorded, which must be of the same table.
 */
export async function labelsUnchangedUntil(
  deps: Pick<ChainDeps, 'warehouse'>,
  base: { run: Pick<RunRecord, 'window'>; manifest: { labels: Pick<RunManifest['labels'], 'dataset' | 'table' | 'versions'> } },
  labels: Pick<RunManifest['labels'], 'dataset' | 'table'>,
): Promise<string | undefined> {
  const before = base.manifest.labels.versions;
  const { dataset, table } = labels;
  if (dataset !== base.manifest.labels.dataset || table !== base.manifest.labels.table) return undefined;
  const now = async (range: Window) => (await deps.warehouse.dataVersions(dataset, [table], range))[table] ?? null;
  if (before?.window && (await now(base.run.window)) === before.window) return base.run.window.end;
  if (before?.settled?.version && (await now({ start: base.run.window.start, end: before.settled.end })) === before.settled.version) return before.settled.end;
  return undefined;
}

/** What a refresh builds, for `bqx plan --refresh` (refreshBuilds). */
export interface RefreshBuilds {
  /** The label rows are known unchanged up to here: the shards ending after it are built, the rest shared. Undefined: every shard is built. */
  until?: string;
  /** The shard it grows by a part instead of building it whole. */
  grown?: GrownShard;
  /** The built shards whose label group alone is built (SharePlan `relabelled`). */
  relabelled?: string[];
}

/** The group that carries the label columns (planner.ts: group 0; the merge picks it by `labels`). */
const LABEL_GROUP = 0;

/**
 * The previous version's shards after `until` (where its label rows may have changed) with the same
 * bounds in the new grid: every row of theirs lies before the previous end, so their features'
 * rows are unchanged (a refresh extracts the new minutes only; a changed feature shares nothing)
 * and only their label group needs building (SharePlan `relabelled`). A partial last shard grows,
 * so it is built whole.
 */
function relabelledShards(shards: readonly ManifestShard[], grid: readonly Shard[], until: string): string[] {
  const sameBounds = sameBoundsIn(grid);
  return shards.filter((s) => s.end > until && sameBounds(s) && s.groups.every((g) => g.objects.length > 0)).map((s) => s.id);
}

/** Whether a previous version's shard has the same bounds in `grid` (a partial last shard grows, so it has not). */
function sameBoundsIn(grid: readonly Shard[]): (s: ManifestShard) => boolean {
  const bounds = new Map(grid.map((s) => [s.id, s]));
  return (s) => bounds.get(s.id)?.start === s.start && bounds.get(s.id)?.end === s.end;
}

/**
 * What a refresh of `base` over `grid` builds, as planSharing decides it, for `bqx plan --refresh`
 * to plan what the run will do: the shards ending after the point up to which the label rows are
 * unchanged (the previous end; where the label table filled in its tail, its end less
 * LABEL_LOOKAHEAD_MINUTES; nowhere when they changed, or the shard unit or start differs), and the
 * partial last shard grown by a part where it may be. The plan takes every feature's earlier rows
 * as unchanged, as it does for the extracts.
 */
export async function refreshBuilds(
  deps: Pick<ChainDeps, 'warehouse' | 'output' | 'config'>,
  base: { run: RunRecord; manifest: RunManifest },
  next: { labels: Pick<RunManifest['labels'], 'dataset' | 'table'>; grid: readonly Shard[] },
): Promise<RefreshBuilds> {
  const { grid } = next;
  const previous = await readOutputManifest(deps, base.run);
  if (!previous?.shards || previous.shardUnit !== deps.config.shard || grid[0]?.start !== base.run.window.start) return {};
  const until = await labelsUnchangedUntil(deps, base, next.labels);
  if (!until) return {};
  const grown = grownShard(previous.shards, grid, base.run.window.end, until);
  const relabelled = relabelledShards(previous.shards, grid, until);
  return { until, ...(grown ? { grown } : {}), ...(relabelled.length > 0 ? { relabelled } : {}) };
}

/**
 * Settles a refresh's grown shard with its extracts: the features' files of the previous partial
 * cell stay as they are (no carry: the part built reads the new rows' files only, and a file
 * holding the whole cell again would have to be aligned by a join), unless some feature's
 * checkpoint already holds that cell in MAX_SHARD_PARTS files: then the shard is built again whole
 * and the carry gathers them into one. In place, on the plan and the manifest's features.
 */
export function settleGrown(plan: SharePlan, manifest: RunManifest): void {
  if (!plan.grown) return;
  const carried = manifest.features.map((f) => f.incremental).filter((i) => i?.carry);
  if (carried.some((i) => i!.carry!.length >= MAX_SHARD_PARTS)) {
    delete plan.grown;
    return;
  }
  for (const i of carried) delete i!.carry;
}

/**
 * The previous version's last shard, when it ends at that version's window end inside its
 * calendar cell, the features' rows are unchanged up to there (or nothing would be shared), and it
 * holds fewer than MAX_SHARD_PARTS parts: the new grid's shard of that cell keeps its files and
 * grows by a part holding the rows from there on; where the label rows before there may have
 * changed (`until`, from the label versions, falls short of it), its earlier label group is built
 * again (`relabelled`). Rebuilt whole, a refresh's merge and profile read that shard's old rows
 * again: at 20,000 rows in day shards, 1,370 of the 2,810 rows it built; in month shards (the
 * default) up to a month of rows for each day appended.
 */
function grownShard(shards: readonly ManifestShard[], grid: readonly Shard[], previousEnd: string, until: string): GrownShard | undefined {
  const last = shards.at(-1);
  const next = last && grid.find((s) => s.id === last.id);
  if (!last || !next || last.end !== previousEnd) return undefined;
  if (next.start !== last.start || !(next.end > last.end)) return undefined;
  if (last.groups.some((g) => g.objects.length === 0 || g.objects.length >= MAX_SHARD_PARTS)) return undefined;
  return { id: last.id, from: last.end, ...(until < previousEnd ? { relabelled: true } : {}) };
}

/**
 * The shards a refresh's second merge builds the label group of (mergeRun `mergeRelabelled`):
 * the relabelled shards, and a relabelled grown shard's rows before its part. In time order.
 */
export function relabelTargets(grid: readonly Shard[], sharing: Pick<SharePlan, 'relabelled' | 'grown'>): Shard[] {
  const whole = new Set(sharing.relabelled ?? []);
  const parts = new Map((sharing.grown ?? []).filter((g) => g.relabelled).map((g) => [g.id, g.from]));
  return grid.filter((s) => whole.has(s.id) || parts.has(s.id)).map((s) => (parts.has(s.id) ? { ...s, end: parts.get(s.id)! } : s));
}

/** A dataset's `_manifest.json` (undefined when it is gone), read once for `sharedShards` and `previousGroupFiles`. */
export interface PreviousOutput {
  from: string;
  manifest: OutputManifest | undefined;
}

export async function previousOutput(deps: Pick<ChainDeps, 'output' | 'store'>, from: string): Promise<PreviousOutput> {
  const run = await deps.store.getRun(from);
  return { from, manifest: run ? await readOutputManifest(deps, run) : undefined };
}

/**
 * The previous version's shards, as the merge's result would give them (they were verified when
 * written); with `only`, just those column groups (the ones this run does not build), each taken
 * from the previous index `moved` gives, else from its own.
 */
function sharedShards(previous: PreviousOutput, ids: readonly string[], only?: readonly number[], moved: Readonly<Record<number, number>> = {}): MergedShard[] {
  const wanted = new Set(ids);
  const shards = (previous.manifest?.shards ?? []).filter((s) => wanted.has(s.id));
  if (shards.length !== wanted.size) throw new Error(`the dataset of run ${previous.from} no longer lists ${wanted.size - shards.length} shard(s) this run shares`);
  const columns = new Map(previous.manifest!.groups.map((g) => [g.index, g.columns]));
  return shards.map((s) => ({
    index: s.index,
    id: s.id,
    start: s.start,
    end: s.end,
    rows: s.rows,
    groups: (only ?? s.groups.map((g) => g.index)).map((index) => {
      const from = moved[index] ?? index;
      const g = s.groups.find((x) => x.index === from);
      if (!g) throw new Error(`the dataset of run ${previous.from} lists no column group ${from} in shard ${s.id}`);
      return { index, files: g.objects, rows: g.rows, columns: columns.get(from) ?? [], bytes: g.bytes, distinctKeys: g.rows, keysInOrder: true };
    }),
    keysInRange: true,
  }));
}

/** The previous version's files of each of `ids`' shards in each of `groups` (SharePlan `changed`, and the relabelled shards' label group). */
export function previousGroupFiles(previous: PreviousOutput, ids: readonly string[], groups: readonly number[]): Record<string, Record<number, string[]>> {
  const files: Record<string, Record<number, string[]>> = {};
  for (const s of previous.manifest?.shards ?? []) {
    if (!ids.includes(s.id)) continue;
    files[s.id] = Object.fromEntries(s.groups.filter((g) => groups.includes(g.index) && g.objects.length > 0).map((g) => [g.index, g.objects]));
  }
  return files;
}

/** The merge's result with the shared shards added: shards in time order, numbered again, groups over all of them. */
export function withShared(plan: MergePlan, built: Extract<MergeResult, { state: 'done' }>, shared: readonly MergedShard[]): Extract<MergeResult, { state: 'done' }> {
  const shards = [...built.shards, ...shared].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)).map((s, index) => ({ ...s, index }));
  return { ...built, shards, groups: byGroup(plan.groups, shards), rows: shards.reduce((n, s) => n + s.rows, 0) };
}

/**
 * The merge's result with each grown shard's earlier parts put first: the earlier dataset's files
 * of the shard (its rows before the part built) then the part's, group by group, the shard's
 * bounds the new grid's. A grown shard whose new minutes hold no label row is its earlier files
 * alone, with the new bounds.
 */
export function withGrown(built: Extract<MergeResult, { state: 'done' }>, earlier: readonly MergedShard[], grid: readonly Shard[]): Extract<MergeResult, { state: 'done' }> {
  const bounds = new Map(grid.map((s) => [s.id, s]));
  const parts = new Map(earlier.map((s) => [s.id, s]));
  const joined = built.shards.map((s) => {
    const before = parts.get(s.id);
    if (!before) return s;
    parts.delete(s.id);
    const groups = s.groups.map((g) => {
      const b = before.groups.find((x) => x.index === g.index);
      if (!b) throw new Error(`the dataset this run grows shard ${s.id} of lists no column group ${g.index} there`);
      return { ...g, files: [...b.files, ...g.files], rows: b.rows + g.rows, bytes: b.bytes + g.bytes, distinctKeys: b.distinctKeys + g.distinctKeys, keysInOrder: b.keysInOrder && g.keysInOrder };
    });
    return { ...s, start: before.start, end: bounds.get(s.id)?.end ?? s.end, rows: before.rows + s.rows, groups, keysInRange: before.keysInRange && s.keysInRange };
  });
  const alone = [...parts.values()].map((s) => ({ ...s, end: bounds.get(s.id)?.end ?? s.end }));
  const shards = [...joined, ...alone].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return { ...built, shards, rows: shards.reduce((n, s) => n + s.rows, 0) };
}

/**
 * The merge's result, which built some column groups of every shard, with each shard's other
 * groups added from the previous version. The two must list the same shards: the label rows
 * were unchanged when the run was planned, and a change since shows here (or in the row counts
 * the verification compares group by group).
 */
export function withSharedGroups(plan: MergePlan, built: Extract<MergeResult, { state: 'done' }>, shared: readonly MergedShard[]): Extract<MergeResult, { state: 'done' }> {
  const previous = new Map(shared.map((s) => [s.id, s]));
  const ids = (list: readonly MergedShard[]) => list.map((s) => s.id).join(', ') || 'none';
  if (built.shards.length !== shared.length || built.shards.some((s) => !previous.has(s.id))) {
    throw new Error(`the merge built shards ${ids(built.shards)}, the dataset it shares column groups with lists ${ids(shared)}: the label rows changed since the run started`);
  }
  const shards = built.shards.map((s) => {
    const other = previous.get(s.id)!;
    return { ...s, groups: [...s.groups, ...other.groups].sort((a, b) => a.index - b.index), keysInRange: s.keysInRange && other.keysInRange };
  });
  return { ...built, shards, groups: byGroup(plan.groups, shards) };
}

/**
 * What damagedShared finds in the files `sharing` takes from `earlier` (the groups of the merge's
 * plan being `planGroups`), or why its manifest cannot give them (a shard without one of its groups).
 */
export async function damagedTaken(deps: Pick<ChainDeps, 'output'>, earlier: PreviousOutput, sharing: Pick<SharePlan, 'shared' | 'rebuilt' | 'groups' | 'moved' | 'grown' | 'relabelled'>, planGroups: readonly number[]): Promise<string | undefined> {
  let taken: MergedShard[];
  try {
    const { whole, grownParts, relabelledOthers } = takenShards(earlier, sharing, planGroups);
    taken = [...whole, ...grownParts, ...relabelledOthers];
  } catch (error) {
    return errorMessage(error);
  }
  return damagedShared(deps, taken);
}

/**
 * What a run sharing with an earlier dataset takes from it (the merge, and the checks before it):
 * whole shards, or, where it builds some column groups, every shard's other groups; the grown
 * shards' earlier parts; and the relabelled shards' groups other than the label group. Throws where
 * the earlier manifest lacks a shard's group.
 */
export function takenShards(
  earlier: PreviousOutput,
  sharing: Pick<SharePlan, 'shared' | 'rebuilt' | 'groups' | 'moved' | 'grown' | 'relabelled'>,
  planGroups: readonly number[],
): { whole: MergedShard[]; grownParts: MergedShard[]; relabelledOthers: MergedShard[] } {
  const only = sharing.groups;
  const ids = only ? sharing.rebuilt : sharing.shared;
  const sharedGroups = only && planGroups.filter((i) => !only.includes(i));
  const grown = sharing.grown ?? [];
  const others = planGroups.filter((i) => i !== LABEL_GROUP);
  // A relabelled grown shard's earlier part: its groups but the label group (built again, with the relabelled shards).
  const part = (g: GrownShard) => sharedShards(earlier, [g.id], g.relabelled ? others : undefined);
  return {
    whole: ids.length > 0 ? sharedShards(earlier, ids, sharedGroups, sharing.moved) : [],
    grownParts: grown.flatMap(part),
    relabelledOthers: sharing.relabelled?.length ? sharedShards(earlier, sharing.relabelled, others) : [],
  };
}

/**
 * The first of the shared files found gone or not at the bytes their dataset recorded, as a
 * phrase; undefined when every one is as written. Shared, a damaged file failed the verification
 * of every later run, and of `bqx rerun --merge`, which shared it again: such a dataset is not
 * shared from. A listing per shard (shardFileSizes); the merge checks them again (verifyOutput),
 * for what changes in between.
 */
async function damagedShared(deps: Pick<ChainDeps, 'output'>, shards: readonly MergedShard[]): Promise<string | undefined> {
  const sizes = await shardFileSizes(deps.output, shards.flatMap((s) => s.groups.flatMap((g) => g.files)));
  for (const s of shards) {
    for (const g of s.groups) {
      const gone = g.files.find((f) => sizes.get(f) === undefined);
      if (gone) return `${gone} is gone`;
      const bytes = g.files.reduce((n, f) => n + sizes.get(f)!, 0);
      if (bytes !== g.bytes) return `shard ${s.id} group ${g.index}: its files hold ${bytes} bytes, the dataset recorded ${g.bytes}`;
    }
  }
  return undefined;
}

async function readOutputManifest(deps: Pick<ChainDeps, 'output'>, run: RunRecord): Promise<OutputManifest | undefined> {
  if (!run.output) return undefined;
  try {
    return JSON.parse(Buffer.from(await deps.output.read(run.output.manifest)).toString('utf8')) as OutputManifest;
  } catch {
    return undefined; // gone (retention): nothing to share
  }
}

/** The profile an earlier dataset's report.json holds, with the fold cut rows it found; undefined when it has none. */
export async function earlierProfile(deps: Pick<ChainDeps, 'output'>, pair: string, runId: string): Promise<{ profile: DatasetProfile; cutRows: number[]; profiledWith: string } | undefined> {
  try {
    const report = JSON.parse(Buffer.from(await deps.output.read(paths.outputReport(pair, runId))).toString('utf8')) as { profile?: DatasetProfile; cutRows?: unknown; profiledWith?: unknown };
    const { cutRows, profiledWith } = report;
    const ok = report.profile && typeof profiledWith === 'string' && Array.isArray(cutRows) && cutRows.every((n) => Number.isSafeInteger(n));
    return ok ? { profile: report.profile!, cutRows: cutRows as number[], profiledWith: profiledWith as string } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A merge that builds only some shards reads, of each checkpoint, only the files whose keys meet
 * its window: on BigQuery the loaded tables, and what the joins are billed for, are then the new
 * range's, not the whole window's. A file's keys are its record's (as the landing read them from
 * its footer), else its footer's; a file that cannot be summarised stays. The window is the run's
 * tail (from the first rebuilt shard) and a checkpoint's files are in key order (the landing
 * refuses others), so they are looked at from the last back, up to the first that ends before the
 * window. Reading those footers again took 0.25-0.38 s of a 20,000-row refresh here, and on Cloud
 * Storage is a request each.
 */
export async function filesMeeting(deps: Pick<ChainDeps, 'staging'>, checkpoints: readonly Pick<CheckpointRecord, 'feature' | 'files' | 'fileKeys'>[], window: Window): Promise<Record<string, string[]>> {
  const meeting = await mapLimit(checkpoints, 16, async (record) => {
    const { files } = record;
    const kept: string[] = [];
    for (let i = files.length - 1; i >= 0; i--) {
      const file = files[i]!;
      let meets = true;
      try {
        const s = await checkpointFileKeys(deps.staging, record, i);
        if (s.maxKey !== null && s.maxKey < window.start) break;
        meets = s.minKey !== null && s.maxKey !== null && s.minKey < window.end && s.maxKey >= window.start;
      } catch {
        meets = true;
      }
      if (meets) kept.unshift(file);
    }
    // A checkpoint keeps at least one file (an empty one: the feature has no rows there).
    return [record.feature, kept.length > 0 ? kept : files.slice(-1)] as const;
  });
  return Object.fromEntries(meeting);
}
