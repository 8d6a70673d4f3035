// The profile's count of values beyond 10 sd, carried on a refresh without reading the dataset's
// history again. The count needs the final mean and sd, so it is a second pass over the columns
// whose minimum or maximum lies that far (columnScan.ts `beyondCandidates`); on a refresh those
// are mostly columns whose extremes are old (a flash crash years ago), and the pass read every
// row of them again, every day. Instead each dataset keeps, with its scan state, every column's
// "tail": the values of the rows before its last shard that lie outside a band (mean ± 8 sd when
// the tail was first kept; the band stays with the tail). A refresh carrying its scan on from that
// state then knows the count of those rows exactly when
//   - their minimum and maximum (in the state) lie within its own 10-sd band: none is beyond; or
//   - the kept band lies within its own 10-sd band: only tail values can be beyond, and are counted;
// and reads only its new rows. Otherwise it reads every row, as before. The test is the one the
// full pass applies (`Math.abs(v - mean) > 10 * sd` on finite values), so the counts are equal.

import { FIELD, SCAN_FIELDS, stateColumns, type ScanState } from './scanState.js';
import type { ProfileJob } from './types.js';

/** Values of the rows before a scan state's row outside [lo, hi] (finite values only). */
export interface Tail {
  lo: number;
  hi: number;
  values: Float64Array;
}

/** The band a tail leaves out, in sd around the mean. */
export const TAIL_SD = 8;
/** A column with more tail values than this keeps none (a later refresh reads its rows again). */
export const MAX_TAIL_VALUES = 10_000;

/** A column's finite count, minimum and maximum in a scan state; undefined when the state lacks it. */
export function stateRange(state: ScanState, column: string): { finite: number; min: number; max: number } | undefined {
  const k = stateColumns(state).get(column);
  if (k === undefined) return undefined;
  const v = state.values;
  return { finite: v[k * SCAN_FIELDS + FIELD.finite]!, min: v[k * SCAN_FIELDS + FIELD.min]!, max: v[k * SCAN_FIELDS + FIELD.max]! };
}

/** Whether a finite value counts as beyond 10 sd (the full pass's test, parquetScan.ts `countBeyond`). */
export const beyond = (v: number, mean: number, limit: number): boolean => v - v === 0 && Math.abs(v - mean) > limit;

/**
 * Values beyond 10 sd among the rows before `state`'s row, from the state and the column's kept
 * tail alone; undefined when they cannot be told without reading those rows.
 */
export function beyondBefore(state: ScanState, column: string, mean: number, sd: number, tail?: Tail): number | undefined {
  const range = stateRange(state, column);
  if (!range) return undefined;
  const limit = 10 * sd;
  if (range.finite === 0) return 0;
  // v - mean is monotone in v, so every value between two within the band is within it too.
  if (!beyond(range.min, mean, limit) && !beyond(range.max, mean, limit)) return 0;
  if (!tail || beyond(tail.lo, mean, limit) || beyond(tail.hi, mean, limit)) return undefined;
  let n = 0;
  for (const v of tail.values) if (beyond(v, mean, limit)) n++;
  return n;
}

/** The band a new tail leaves out: mean ± TAIL_SD sd. */
export function tailBand(mean: number, sd: number): { lo: number; hi: number } {
  return { lo: mean - TAIL_SD * sd, hi: mean + TAIL_SD * sd };
}

/** Whether every finite value between `min` and `max` lies in [lo, hi]. */
export const inside = (range: { finite: number; min: number; max: number }, band: { lo: number; hi: number }): boolean =>
  range.finite === 0 || (range.min >= band.lo && range.max <= band.hi);

/**
 * How a column's tail at the snapshot is made, or undefined when it needs none (every value before
 * the snapshot within the band): a carried tail goes on in its own band with the rows from the
 * resumed row; without one, a new band (mean ± TAIL_SD sd) starts there when no value before the
 * resumed row reaches past it, else at row 0. `from` is the first row to read.
 */
export function tailPlan(
  atSnapshot: { finite: number; min: number; max: number },
  mean: number,
  sd: number,
  resumed?: { row: number; range?: { finite: number; min: number; max: number }; tail?: Tail },
): { lo: number; hi: number; kept?: Float64Array; from: number } | undefined {
  const band = tailBand(mean, sd);
  if (inside(atSnapshot, band)) return undefined;
  if (resumed?.tail) return { lo: resumed.tail.lo, hi: resumed.tail.hi, kept: resumed.tail.values, from: resumed.row };
  return { ...band, from: resumed?.range && inside(resumed.range, band) ? resumed.row : 0 };
}

/** A carried-on profile job's state and the tails kept with it, as the tail plans and the beyond counts take them (either adapter). */
export const resumedTails = (job: Pick<ProfileJob, 'resume'>): { state: ScanState; tails?: Readonly<Record<string, Tail>> } | undefined =>
  job.resume && { state: job.resume.from.state, ...(job.resume.tails ? { tails: job.resume.tails } : {}) };

/** The tails to make at the snapshot row for a batch's columns (`tailPlan`), without the files to read. */
export function columnTailPlans(
  stats: readonly { column: string; mean: number | null; sd: number | null }[],
  snapshot: ScanState,
  resumed?: { state: ScanState; tails?: Readonly<Record<string, Tail>> },
): { column: string; plan: NonNullable<ReturnType<typeof tailPlan>> }[] {
  const out: { column: string; plan: NonNullable<ReturnType<typeof tailPlan>> }[] = [];
  for (const s of stats) {
    const range = stateRange(snapshot, s.column);
    if (!range || s.mean === null || s.sd === null || !(s.sd > 0)) continue;
    const plan = tailPlan(range, s.mean, s.sd, resumed && { row: resumed.state.row, range: stateRange(resumed.state, s.column), tail: resumed.tails?.[s.column] });
    if (plan) out.push({ column: s.column, plan });
  }
  return out;
}

/**
 * The tails to make at the snapshot row for a batch's columns (`columnTailPlans`), each with the
 * files to read for it: `files` are a group's files in row order, `rows` gives a file's row count.
 */
export function tailPlans(
  stats: readonly { column: string; mean: number | null; sd: number | null }[],
  snapshot: ScanState,
  snapshotAt: number,
  files: readonly string[],
  rows: (file: string) => number,
  resumed?: { state: ScanState; tails?: Readonly<Record<string, Tail>> },
): { column: string; plan: NonNullable<ReturnType<typeof tailPlan>>; files: string[] }[] {
  return columnTailPlans(stats, snapshot, resumed).map((p) => ({ ...p, files: filesBetween(files, rows, p.plan.from, snapshotAt) }));
}

/**
 * The tails to make after the last row (`rows`), for a later dataset that grows the last shard by
 * a part to carry on from: `tailPlans` at the end, except that a column's tail at the snapshot in
 * the same band already holds the rows before the snapshot, so only the rows after it are read.
 */
export function endTailPlans(
  stats: readonly { column: string; mean: number | null; sd: number | null }[],
  end: ScanState,
  files: readonly string[],
  rows: (file: string) => number,
  resumed?: { state: ScanState; tails?: Readonly<Record<string, Tail>> },
  atSnapshot?: { row: number; tails: Readonly<Record<string, Tail>> },
): { column: string; plan: NonNullable<ReturnType<typeof tailPlan>>; files: string[] }[] {
  return columnTailPlans(stats, end, resumed).map(({ column, plan }) => {
    const s = atSnapshot?.tails[column];
    const p = s && s.lo === plan.lo && s.hi === plan.hi ? { lo: plan.lo, hi: plan.hi, kept: s.values, from: atSnapshot!.row } : plan;
    return { column, plan: p, files: filesBetween(files, rows, p.from, end.row) };
  });
}

/** The files (each a whole shard, in row order) holding exactly rows [from, to) of a dataset whose files start at row 0. */
export function filesBetween(files: readonly string[], rows: (file: string) => number, from: number, to: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (const file of files) {
    const n = rows(file);
    if (start >= from && start + n <= to) out.push(file);
    start += n;
  }
  return out;
}
