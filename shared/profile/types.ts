// The dataset profile's shapes: what the warehouse measures (the port's `profile` and
// `compareColumns`), and what the core makes of it (report.json's `profile`). The warehouse does
// the scanning where the data is; the core turns numbers into findings (findings.ts, leakage.ts).

import type { ResumeFrom } from './columnScan.js';
import type { Tail } from './outlierTails.js';
import type { ScanState } from './scanState.js';

/** One dataset's output, as the profile reads it: column groups lined up row for row. */
export interface ProfileJob {
  runId: string;
  pair: string;
  key: string;
  /** Output groups: their objects in the output store (in key order) and columns (key first). */
  groups: { index: number; files: string[]; columns: string[] }[];
  labels: string[];
  rows: number;
  /** Rows at the start counted as warm-up. */
  warmupRows: number;
  /** The sample: `blockRows` consecutive rows from row `blockFrom`, and every `spreadStep`-th row. */
  blockFrom: number;
  blockRows: number;
  spreadStep: number;
  /** Times (ISO) whose row numbers are wanted: the time folds' boundaries. */
  cuts: string[];
  /**
   * Carry the column pass on from an earlier dataset's scan state (shared/profile/scanState.ts):
   * the columns are read only from `groups`' files (those holding rows from the state's row on);
   * the key, the gaps, the fold rows and the second pass still read the whole dataset. A
   * warehouse that cannot carry on measures every row, which gives the same numbers.
   */
  resume?: {
    groups: { index: number; files: string[] }[];
    from: ResumeFrom;
    /** The duplicate pairs' counts over the rows before the state's row, where the earlier dataset kept them (pairCounts.ts). */
    compared?: PairCounts[];
    /** The columns' tails before the state's row, where the earlier dataset kept them (outlierTails.ts). */
    tails?: Record<string, Tail>;
  };
  /** Another profile job follows at once (resumeByGroup.ts): a warehouse may keep what it started for this one (the embedded one its scan threads). */
  followed?: boolean;
  /** The row whose scan state to return (`scanState`): a shard's first row (shared/chain/profileReuse.ts `scanPoint`). */
  snapshotAt?: number;
  /**
   * The dataset's time shards in row order (those with rows): the first key time each may hold
   * and its rows. A warehouse that numbers rows with a window (BigQuery) numbers them shard by
   * shard, so no statement sorts more than one; its scan state is taken at a shard's first row.
   */
  shards?: { start: string; rows: number }[];
}

/** What the warehouse measures of one column, in one pass over its values. */
export interface ColumnStats {
  column: string;
  nonNull: number;
  /** Non-null values among the first `warmupRows` rows. */
  warmupNonNull: number;
  /** Over finite values; null when there are none. */
  min: number | null;
  max: number | null;
  mean: number | null;
  sd: number | null;
  inf: number;
  nan: number;
  /** Finite values further than 10 standard deviations from the mean. */
  beyond10sd: number;
  /** Rows whose (non-null) value equals the previous row's. */
  repeats: number;
  /**
   * Longest stretch of consecutive rows holding one non-null value (0 when all null, 1 when no
   * value repeats). Measured where the repeat share is at least 1 %; null below that (it is then
   * at most repeats + 1).
   */
  longestRun: number | null;
  /** Row number of the last non-null value (null when all null). */
  lastNonNullRow: number | null;
}

export interface KeyGap {
  /** First missing minute and the next key (the gap is [from, to)). */
  from: string;
  to: string;
  minutes: number;
}

export interface ProfileData {
  columns: ColumnStats[];
  /** Every place where consecutive keys are more than a minute apart. */
  gaps: KeyGap[];
  /** The sample's row numbers, ascending, and each column's values on them (NaN for missing: compact, never the whole table). */
  sample: { rows: number[]; values: Record<string, Float64Array> };
  /** Per cut, the rows whose key is before it. */
  cutRows: number[];
  /** The column scan's state at the job's `snapshotAt`, where the warehouse keeps one. */
  scanState?: ScanState;
  /** The columns' tails at `snapshotAt`, where the warehouse keeps them (outlierTails.ts). */
  scanTails?: Record<string, Tail>;
  /** The column scan's state after the dataset's last row, where the warehouse keeps one (the embedded one does), and the tails there. */
  endState?: ScanState;
  endTails?: Record<string, Tail>;
  /** On a carried-on scan: columns beyond 10 sd counted without their earlier rows, and those whose earlier rows were read again. */
  beyond?: { carried: number; reread: number };
  /** Bytes the profile's jobs billed, where the warehouse bills by them (BigQuery). */
  bytesBilled?: number;
}

/** Compare column `a` with column `b` shifted: a at row r against b at row r - shift. */
export interface ColumnPair {
  a: string;
  b: string;
  shift: number;
}

/**
 * The leakage screen's outcome over one sample (leakage.ts): the pairs each half let through, feature by feature in the
 * order screened. It is a function of the sample rows, the block, the labels' values and each
 * feature's own values, so it is kept with a dataset's stored profile (storedProfile.ts): a later
 * dataset of the same rows whose labels and some features are the earlier's (reuseStats.ts) screens
 * only its other features. At 16,988 features x 49 labels the screen took 0.4 s of the chain's
 * thread after the column pass of a 20,000-row run with 84 tables touched.
 */
export interface LeakageScreen {
  labels: string[];
  block: { from: number; rows: number };
  /** Pairs whose sample correlation passes the screen (shift 0). */
  correlated: ColumnPair[];
  /** Pairs whose sampled values are, mostly, the label's a fixed number of rows away. */
  shifted: ColumnPair[];
}

export interface ColumnComparison extends ColumnPair {
  /** Rows where both are non-null. */
  both: number;
  /** Of those, rows where they are equal. */
  equal: number;
  /** Rows where exactly one is null (0 for columns null on the same rows). */
  nullMismatch: number;
  correlation: number | null;
}

export interface CompareJob {
  runId: string;
  groups: ProfileJob['groups'];
  pairs: ColumnPair[];
  /** Deterministic sample: every `step`-th row (1 = all rows), at most 200,000 rows. */
  step: number;
  /**
   * Names the rows compared when `groups` hold only some of the dataset's files (the same shards
   * in every group: pairCounts.ts): a warehouse that stages the files keeps each part apart.
   */
  part?: string;
}

/**
 * A duplicate candidate pair's counts (ColumnComparison's, unshifted, on every row) over some of
 * the dataset's rows: counts over consecutive ranges add up to the counts over their union.
 */
export interface PairCounts {
  a: string;
  b: string;
  both: number;
  equal: number;
  nullMismatch: number;
}

export interface ProfileSettings {
  warmupRows: number;
  staleShare: number;
}

export interface ColumnProfile {
  column: string;
  nullShare: number;
  warmupNullShare: number;
  constant: boolean;
  repeatShare: number;
  longestRun: number | null;
  inf: number;
  nan: number;
  beyond10sd: number;
}

export interface LabelTail {
  label: string;
  horizonMinutes: number;
  /** Null rows at the end of the window, counted back from the last row. */
  tailNulls: number;
  expected: number;
}

export interface Leak {
  feature: string;
  label: string;
  correlation: number;
  /** 0: correlated as they stand; n: the feature at row r equals the label at row r - n. */
  shiftRows: number;
}

export interface DatasetProfile {
  settings: ProfileSettings & { sampleRows: number; leakageThreshold: number };
  columns: ColumnProfile[];
  constant: string[];
  duplicates: string[][];
  stale: string[];
  /** Columns null through most of the warm-up and (almost) complete after it. */
  warmup: string[];
  labels: LabelTail[];
  gaps: { weekend: number; unexpected: KeyGap[] };
  leakage: Leak[];
  /**
   * Labels with at least 3 values in the sample the leakage screen compares: 0 means it compared
   * nothing (a window inside the labels' lookahead), so `leakage` being empty says nothing.
   * Absent on profiles from before.
   */
  labelsSampled?: number;
  /** Findings beyond the lists: columns with inf/NaN or values beyond 10 sd. */
  outliers: { column: string; inf: number; nan: number; beyond10sd: number }[];
}

/**
 * What a dataset's column statistics were measured from (kept with them, shared/profile/storedProfile.ts):
 * a later dataset with the same rows takes the columns whose source is the very same instead of
 * measuring them again (shared/profile/reuseStats.ts).
 */
export interface ProfileBasis {
  window: { start: string; end: string };
  key: string;
  rows: number;
  /** Fold cuts, rows and profile settings (shared/chain/quality.ts). */
  profiledWith: string;
  /** What the column scan depends on besides the rows (warm-up rows, sample layout): a scan carries on only from a state taken with the same. */
  scanWith?: string;
  /** The label table's data version of the window's rows: the same version, the same keys and label values. */
  labels: { dataset: string; table: string; version: string | null; columns: string[] };
  /** Per feature, the checkpoint its columns were read from. */
  features: { feature: string; fingerprint: string | null; files: string[]; columns: { source: string; output: string; type: string }[] }[];
}

/** A dataset's raw per-column data: each column's statistics (output order) and its sample values. */
export type MeasuredColumns = Pick<ProfileData, 'columns' | 'sample'> & {
  /** The duplicate pairs' counts over every row (pairCounts.ts), for a later run over the same rows. */
  compared?: PairCounts[];
  /** The leakage screen over the sample (leakage.ts), for a later run over the same rows. */
  leakage?: LeakageScreen;
};

/** How a run's column statistics came about (report.json's `profileReuse`). */
export interface ProfileReuse {
  /** Columns the warehouse measured, and columns taken from an earlier dataset (`from`). */
  profiled: number;
  reused: number;
  from?: string;
  /** Why nothing was taken, when nothing was. */
  why?: string;
  /** The column pass carried on from `from`'s scan state at this row: only the rows after it were read. */
  carriedOnFrom?: number;
  /** Groups whose column pass carried on from `from`'s state after its last row (this row): their earlier files were all `from`'s (resumeByGroup.ts). */
  carriedOnFromEnd?: { row: number; groups: number };
  /**
   * The duplicate candidate pairs: compared row by row here (`carried` of them only from the
   * carried-on row), and `taken` whole from the earlier dataset of the same rows (pairCounts.ts).
   */
  pairs?: { compared: number; taken: number; carried: number };
  /** The leakage screen: features whose pairs were taken from the earlier dataset's screen of the same sample, and features screened here (leakage.ts). */
  screened?: { taken: number; screened: number };
  /** On a carried-on scan: columns beyond 10 sd counted from the kept state and tails, and those whose earlier rows were read again (outlierTails.ts). */
  beyond?: { carried: number; reread: number };
}
