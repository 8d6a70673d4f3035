// The column scan's state (scanState.ts) carried over a stretch of rows by a warehouse that has no
// streaming pass over them (BigQuery): a query measures, per column, what the stretch holds on its
// own (counts, finite min/max/mean/M2, repeats and runs within it, its first and last rows), and
// `carrySegment` joins that to the state at the stretch's first row, as ColumnScan.add would have
// left it. So a BigQuery profile keeps a state at a shard's first row (`snapshotAt`), and a refresh
// measures only the rows from there on. Counts, min, max, repeats, runs and rows are ColumnScan's
// exactly; mean and sd to rounding (the sums are the warehouse's, in its order).

import { FIELD, SCAN_FIELDS, type ScanState } from './scanState.js';

/** One column's measures over rows [start, end), each counted within the stretch alone. */
export interface Segment {
  start: number;
  end: number;
  nonNull: number;
  /** Non-null values on rows before the warm-up's end. */
  warm: number;
  finite: number;
  /** Over finite values; null when there are none. */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Sum of squared deviations from `mean` (the population variance times `finite`). */
  m2: number | null;
  inf: number;
  nan: number;
  /** Rows equal to the row before, within the stretch. */
  repeats: number;
  /** Rows of the run of one value the stretch begins with (0 when its first row is null). */
  lead: number;
  /** Longest run of one value within the stretch (null when every row is null). */
  longest: number | null;
  /** Last row (absolute) with a value; null when none. */
  lastRow: number | null;
  /** The first row's value, and whether it has one. */
  first: number | null;
  firstValid: boolean;
  /** The last row's value, whether it has one, and the run it ends (0 when null). */
  last: number | null;
  lastValid: boolean;
  lastRun: number;
}

/** A state at row 0: nothing scanned. */
export function emptyState(columns: readonly string[]): ScanState {
  const values = new Float64Array(columns.length * SCAN_FIELDS);
  for (let j = 0; j < columns.length; j++) {
    values[j * SCAN_FIELDS + FIELD.min] = Infinity;
    values[j * SCAN_FIELDS + FIELD.max] = -Infinity;
    values[j * SCAN_FIELDS + FIELD.last] = -1;
  }
  return { row: 0, columns: [...columns], values };
}

/** Equal as ColumnScan compares a row with the one before (NaN equals NaN, as in SQL engines). */
const same = (a: number, b: number) => a === b || (a !== a && b !== b);

/** Column `j`'s accumulators in `values` (at row seg.start) carried over `seg`, in place. */
export function carryColumn(values: Float64Array, j: number, seg: Segment): void {
  const at = j * SCAN_FIELDS;
  const get = (f: number) => values[at + f]!;
  const set = (f: number, v: number) => (values[at + f] = v);
  // The stretch's first row repeats the state's last one: one more repeat, and the run goes on.
  const joins = get(FIELD.prevValid) === 1 && seg.firstValid && same(seg.first!, get(FIELD.prev));
  const run = get(FIELD.run);
  set(FIELD.nonNull, get(FIELD.nonNull) + seg.nonNull);
  set(FIELD.warm, get(FIELD.warm) + seg.warm);
  set(FIELD.inf, get(FIELD.inf) + seg.inf);
  set(FIELD.nan, get(FIELD.nan) + seg.nan);
  set(FIELD.repeats, get(FIELD.repeats) + seg.repeats + (joins ? 1 : 0));
  if (seg.finite > 0) {
    // Chan et al.'s pairwise update of (count, mean, M2), kept as ColumnScan's shifted sums.
    const nA = get(FIELD.finite);
    const nB = seg.finite;
    const shift = nA > 0 ? get(FIELD.shift) : seg.min!;
    const meanA = nA > 0 ? shift + get(FIELD.sum) / nA : 0;
    const m2A = nA > 0 ? Math.max(0, get(FIELD.sumSq) - get(FIELD.sum) ** 2 / nA) : 0;
    const n = nA + nB;
    const delta = seg.mean! - meanA;
    const mean = nA > 0 ? meanA + (delta * nB) / n : seg.mean!;
    const m2 = m2A + seg.m2! + (nA > 0 ? (delta * delta * nA * nB) / n : 0);
    const sum = n * (mean - shift);
    set(FIELD.finite, n);
    set(FIELD.shift, shift);
    set(FIELD.sum, sum);
    set(FIELD.sumSq, m2 + (sum * sum) / n);
    set(FIELD.min, Math.min(get(FIELD.min), seg.min!));
    set(FIELD.max, Math.max(get(FIELD.max), seg.max!));
  }
  // ColumnScan's longest counts runs of two rows or more (a lone value leaves it at 0).
  const longest = Math.max(get(FIELD.longest), (seg.longest ?? 0) >= 2 ? seg.longest! : 0, joins ? run + seg.lead : 0);
  set(FIELD.longest, longest);
  const rows = seg.end - seg.start;
  if (rows > 0) {
    // The run the stretch ends with goes back into the state's when it spans the whole stretch.
    set(FIELD.run, seg.lastValid ? seg.lastRun + (joins && seg.lastRun === rows ? run : 0) : 0);
    if (seg.lastValid) set(FIELD.prev, seg.last!);
    set(FIELD.prevValid, seg.lastValid ? 1 : 0);
  }
  if (seg.lastRow !== null) set(FIELD.last, seg.lastRow);
}

/** `state` carried over its columns' segments (all over the same rows, from the state's row). */
export function carrySegments(state: ScanState, segments: ReadonlyMap<string, Segment>): ScanState {
  const values = Float64Array.from(state.values);
  let row = state.row;
  state.columns.forEach((column, j) => {
    const seg = segments.get(column);
    if (!seg) throw new Error(`no measures of column ${column} over the stretch from row ${state.row}`);
    if (seg.start !== state.row) throw new Error(`column ${column}'s stretch starts at row ${seg.start}, not at the state's row ${state.row}`);
    carryColumn(values, j, seg);
    row = seg.end;
  });
  return { row, columns: [...state.columns], values };
}
