// The dataset profile of one output (report.json's `profile`): one pass of the warehouse over
// every column (shared/ports.ts `profile`), or over the columns an earlier dataset with the same
// rows cannot give (reuseStats.ts), then the findings over all columns, then the few column pairs
// worth comparing row by row (`compareColumns`) to confirm duplicates and leaks.

import type { Warehouse } from '../ports.js';
import { confirmedDuplicates, duplicateCandidates, duplicatePairs } from './duplicates.js';
import { columnProfile, isConstant, labelTails, outlierColumns, staleColumns, warmupColumns } from './findings.js';
import { classifyGaps } from './gaps.js';
import { LEAKAGE_CORRELATION, confirmedLeaks, leakageScreen, screenPairs } from './leakage.js';
import { countPairs, pairKey, type KnownCounts } from './pairCounts.js';
import { measureColumns, type EarlierColumns } from './reuseStats.js';
import type { ResumeEnd } from './resumeByGroup.js';
import type { DatasetProfile, MeasuredColumns, PairCounts, ProfileData, ProfileJob, ProfileReuse, ProfileSettings } from './types.js';

/** The leakage check's sample: every n-th row, at most this many rows (issue 10). */
export const LEAKAGE_SAMPLE_ROWS = 200_000;
/** Rows screened for correlation, spread over the window. */
const SPREAD_ROWS = 256;
/** Consecutive rows screened for shifted copies. */
const BLOCK_ROWS = 256;

export interface ProfileInput {
  runId: string;
  pair: string;
  key: string;
  groups: ProfileJob['groups'];
  labels: string[];
  rows: number;
  /** Times whose row numbers the folds need. */
  cuts: string[];
  /** Carry on from an earlier scan state, keep one at this row (ProfileJob). */
  resume?: ProfileJob['resume'];
  /** Groups carried on from an earlier dataset's state after its last row instead (resumeByGroup.ts). */
  resumeEnd?: ResumeEnd;
  snapshotAt?: number;
  /** The files before `snapshotAt`, per group: the duplicate pairs' counts before it are kept too (pairCounts.ts). */
  snapshotPrefix?: { index: number; files: string[] }[];
}

/**
 * Where the sample lies: a block past the warm-up and before the labels' null tail, and rows
 * spread evenly. Both are placed by the row count rounded to a power of two, so the layout stays
 * the same while a dataset grows by appends (within a factor of 1.41 either side of that power):
 * a refresh's profile can then carry on from where the earlier dataset's scan stood (its rows are
 * the earlier's on the same sample rows) instead of reading every row again (shared/profile/scanState.ts).
 * The block starts 25 % to 49 % of the way in; the spread takes 181 to 362 rows.
 */
export function sampleLayout(rows: number): Pick<ProfileJob, 'blockFrom' | 'blockRows' | 'spreadStep'> {
  const scale = rows > 0 ? 2 ** Math.round(Math.log2(rows)) : 0;
  const blockFrom = Math.floor(scale * 0.35);
  return { blockFrom, blockRows: Math.max(0, Math.min(BLOCK_ROWS, rows - blockFrom)), spreadStep: Math.max(1, 2 ** Math.round(Math.log2(Math.max(1, rows / SPREAD_ROWS)))) };
}

/** Key gaps and fold rows only (BQX_PROFILE=keys): no column is read but the key. */
export async function profileKeys(warehouse: Pick<Warehouse, 'profile'>, input: ProfileInput, settings: ProfileSettings): Promise<{ gaps: DatasetProfile['gaps']; cutRows: number[] }> {
  const keyOnly = input.groups.slice(0, 1).map((g) => ({ ...g, columns: [input.key] }));
  const data = await warehouse.profile({ ...input, groups: keyOnly, labels: [], warmupRows: settings.warmupRows, ...sampleLayout(input.rows) });
  return { gaps: classifyGaps(data.gaps), cutRows: data.cutRows };
}

function finiteCount(values: Float64Array | undefined): number {
  let n = 0;
  for (const v of values ?? []) if (Number.isFinite(v)) n++;
  return n;
}

/**
 * `earlier`: an earlier dataset's stored columns and those of them this dataset may take
 * (reuseStats.ts `reusableColumns`). Returns, besides the profile, the raw columns it was computed
 * from (to keep with the dataset) and how many columns were measured and taken.
 */
export async function profileDataset(
  warehouse: Pick<Warehouse, 'profile' | 'compareColumns'>,
  input: ProfileInput,
  settings: ProfileSettings,
  earlier?: { columns: EarlierColumns; reusable: readonly string[] },
): Promise<{ profile: DatasetProfile; cutRows: number[]; data: MeasuredColumns & Pick<ProfileData, 'scanState' | 'scanTails' | 'endState' | 'endTails'> & { comparedBefore?: PairCounts[] }; reuse: ProfileReuse }> {
  const layout = sampleLayout(input.rows);
  const { data, reuse, taken } = await measureColumns(warehouse, { ...input, warmupRows: settings.warmupRows, ...layout }, earlier);
  const labels = new Set(input.labels);
  const stats = data.columns;
  const features = stats.filter((s) => !labels.has(s.column) && !isConstant(s) && s.nonNull > 0).map((s) => s.column);

  const candidates = duplicateCandidates(stats, data.sample.values);
  // Features taken from the earlier dataset keep its screen's pairs, where its labels' values are this sample's too.
  const known = earlier?.columns.leakage && taken && input.labels.every((l) => taken.has(l)) ? { screen: earlier.columns.leakage, features: taken } : undefined;
  const { taken: screenTaken, ...screen } = leakageScreen(data.sample, features, input.labels, { from: layout.blockFrom, rows: layout.blockRows }, known);
  const leakPairs = screenPairs(screen);
  const step = Math.max(1, Math.ceil(input.rows / LEAKAGE_SAMPLE_ROWS));
  const dupPairs = duplicatePairs(candidates);
  // Duplicates must hold on every row, counted where no kept count covers the rows; leaks are
  // measured on the deterministic sample. One after the other: a warehouse may stage the columns
  // of one comparison at a time (DuckDB's fallback, one table).
  const compare = (job: Parameters<typeof warehouse.compareColumns>[0]) => warehouse.compareColumns(job);
  const dup = await countPairs(compare, input.runId, input.groups, dupPairs, knownCounts(input, earlier), input.snapshotPrefix);
  const leakMeasured = await warehouse.compareColumns({ runId: input.runId, groups: input.groups, pairs: leakPairs, step });

  const profile: DatasetProfile = {
    settings: { ...settings, sampleRows: Math.ceil(input.rows / step), leakageThreshold: LEAKAGE_CORRELATION },
    columns: stats.map((s) => columnProfile(s, input.rows, settings.warmupRows)),
    constant: stats.filter(isConstant).map((s) => s.column),
    duplicates: confirmedDuplicates(candidates, dup.measured),
    stale: staleColumns(stats, settings),
    warmup: warmupColumns(stats, input.rows, settings.warmupRows),
    labels: labelTails(stats, input.labels, input.rows),
    gaps: classifyGaps(data.gaps),
    leakage: confirmedLeaks(leakMeasured),
    labelsSampled: input.labels.filter((l) => finiteCount(data.sample.values[l]) >= 3).length,
    outliers: outlierColumns(stats),
  };
  return {
    profile,
    cutRows: data.cutRows,
    data: { columns: data.columns, sample: data.sample, compared: dup.whole, leakage: screen, ...(dup.prefix ? { comparedBefore: dup.prefix } : {}), ...(data.scanState ? { scanState: data.scanState, ...(data.scanTails ? { scanTails: data.scanTails } : {}) } : {}), ...(data.endState ? { endState: data.endState, ...(data.endTails ? { endTails: data.endTails } : {}) } : {}) },
    reuse: { ...reuse, ...(dupPairs.length > 0 ? { pairs: { compared: dupPairs.length - dup.taken, taken: dup.taken, carried: dup.carried } } : {}), ...(screenTaken > 0 ? { screened: { taken: screenTaken, screened: features.length - screenTaken } } : {}), ...(data.beyond ? { beyond: data.beyond } : {}) },
  };
}

/**
 * The duplicate pairs' counts this dataset need not compare again: an earlier dataset's of the
 * same rows for pairs of two columns taken from it, and a carried-on scan's before its row.
 */
function knownCounts(input: ProfileInput, earlier?: { columns: EarlierColumns; reusable: readonly string[] }): KnownCounts {
  const byPair = (list: readonly PairCounts[]) => new Map(list.map((c) => [pairKey(c), c]));
  const known: KnownCounts = {};
  if (earlier?.columns.compared) {
    const unchanged = new Set(earlier.reusable);
    known.whole = byPair(earlier.columns.compared.filter((c) => unchanged.has(c.a) && unchanged.has(c.b)));
    const scan = earlier.columns.scan;
    if (scan?.compared && scan.state.row === input.snapshotAt) known.wholePrefix = byPair(scan.compared);
  }
  if (input.resume?.compared) known.carried = { counts: byPair(input.resume.compared), from: input.resume.groups };
  return known;
}
