// The profile's column scan, paused: every accumulator of shared/profile/columnScan.ts for every
// column at one row. A dataset keeps its scan's state at a shard's first row (the first ending after
// its end less the labels' lookahead: shared/chain/profileReuse.ts `scanPointShard`); a refresh
// shares every shard before that one by reference (shared/chain/refresh.ts), so its rows up to
// there are the earlier dataset's, and its profile carries on from the state, reading only the
// rebuilt shards. The sums are then the same additions in the same order as a full pass: the
// statistics are equal to the last bit, not merely close (issue 9's refresh at a cost in
// proportion to what changed).

/** Accumulators per column: nonNull, warm-up, finite, min, max, shift, sum, sum of squares, inf, NaN, repeats, run, longest, last, previous value, previous valid. */
export const SCAN_FIELDS = 16;

/** Where each accumulator sits in a column's SCAN_FIELDS numbers (the order of columnScan.ts `fields`, then previous valid). */
export const FIELD = { nonNull: 0, warm: 1, finite: 2, min: 3, max: 4, shift: 5, sum: 6, sumSq: 7, inf: 8, nan: 9, repeats: 10, run: 11, longest: 12, last: 13, prev: 14, prevValid: 15 } as const;

export interface ScanState {
  /** Rows scanned before the state: the next row the scan reads. */
  row: number;
  columns: string[];
  /** Column after column, SCAN_FIELDS numbers each. */
  values: Float64Array;
}

/**
 * Position of each column in a scan state: built once per state, not once per batch (a profile
 * resumes every batch from the same state, and narrows it for every batch it sends to a thread).
 */
const positions = new WeakMap<ScanState, Map<string, number>>();

export function stateColumns(state: ScanState): Map<string, number> {
  let at = positions.get(state);
  if (!at) positions.set(state, (at = new Map(state.columns.map((c, j) => [c, j]))));
  return at;
}

/** One state of the states of several batches (each its own columns, all at the same row); undefined unless every one is there. */
export function joinStates(states: readonly (ScanState | undefined)[]): ScanState | undefined {
  if (states.length === 0 || states.some((s) => s === undefined)) return undefined;
  const all = states as ScanState[];
  const row = all[0]!.row;
  if (all.some((s) => s.row !== row)) return undefined;
  const values = new Float64Array(all.reduce((n, s) => n + s.values.length, 0));
  let at = 0;
  for (const s of all) {
    values.set(s.values, at);
    at += s.values.length;
  }
  return { row, columns: all.flatMap((s) => s.columns), values };
}

/**
 * The state of every column in `columns`: `fresh`'s for the ones measured now, `earlier`'s for the
 * `reused` ones (same values on the same rows, so the same state); undefined unless both are at
 * the same row and every column is found.
 */
export function pickStates(columns: readonly string[], reused: ReadonlySet<string>, fresh?: ScanState, earlier?: ScanState): ScanState | undefined {
  if (!fresh || (reused.size > 0 && (!earlier || earlier.row !== fresh.row))) return undefined;
  const [inFresh, inEarlier] = [stateColumns(fresh), earlier ? stateColumns(earlier) : new Map<string, number>()];
  const values = new Float64Array(columns.length * SCAN_FIELDS);
  for (const [j, column] of columns.entries()) {
    const source = reused.has(column) ? earlier : fresh;
    const k = (reused.has(column) ? inEarlier : inFresh).get(column);
    if (!source || k === undefined) return undefined;
    values.set(source.values.subarray(k * SCAN_FIELDS, (k + 1) * SCAN_FIELDS), j * SCAN_FIELDS);
  }
  return { row: fresh.row, columns: [...columns], values };
}
