// A scan state carried over stretches of rows (shared/profile/scanSegments.ts) against ColumnScan's
// own pass over the same rows: columns of runs, nulls, NaN and inf, cut into stretches at every
// kind of place (inside a run, on a null, on a NaN run, one-row stretches), each stretch measured
// here as the BigQuery statement measures it (renderScanSegments: counts, finite mean and M2,
// repeats and runs within the stretch, its first and last rows).

import assert from 'node:assert/strict';
import { ColumnScan } from '../../shared/profile/columnScan.js';
import { carrySegments, emptyState, type Segment } from '../../shared/profile/scanSegments.js';
import { FIELD, SCAN_FIELDS, type ScanState } from '../../shared/profile/scanState.js';

type Cell = number | null;
const WARMUP = 7;

/** A stretch's measures, as the statement computes them: within [start, end) alone. */
function measure(values: readonly Cell[], start: number, end: number): Segment {
  const rows = values.slice(start, end);
  const finite = rows.filter((v): v is number => v !== null && Number.isFinite(v));
  const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : null;
  const same = (a: Cell, b: Cell) => a !== null && b !== null && (a === b || (Number.isNaN(a) && Number.isNaN(b)));
  let repeats = 0;
  let runStart = start;
  let longest: number | null = null;
  let lead = 0;
  let leading = rows[0] !== null && rows[0] !== undefined;
  let lastRun = 0;
  rows.forEach((v, k) => {
    const r = start + k;
    const repeat = k > 0 && same(v, rows[k - 1]!);
    if (repeat) repeats++;
    else runStart = r;
    if (v !== null) longest = Math.max(longest ?? 0, r - runStart + 1);
    if (leading && (k === 0 || repeat)) lead++;
    else leading = false;
    lastRun = v === null ? 0 : r - runStart + 1;
  });
  const lastRow = rows.reduce<number | null>((l, v, k) => (v === null ? l : start + k), null);
  const first = rows[0] ?? null;
  const last = rows.at(-1) ?? null;
  return {
    start,
    end,
    nonNull: rows.filter((v) => v !== null).length,
    warm: rows.filter((v, k) => v !== null && start + k < WARMUP).length,
    finite: finite.length,
    min: finite.length ? Math.min(...finite) : null,
    max: finite.length ? Math.max(...finite) : null,
    mean,
    m2: mean === null ? null : finite.reduce((a, b) => a + (b - mean) ** 2, 0),
    inf: rows.filter((v) => v === Infinity || v === -Infinity).length,
    nan: rows.filter((v) => v !== null && Number.isNaN(v)).length,
    repeats,
    lead,
    longest,
    lastRow,
    first,
    firstValid: first !== null,
    last,
    lastValid: last !== null,
    lastRun,
  };
}

/** ColumnScan's state after `rows` rows of each column. */
function scanState(columns: Record<string, Cell[]>, rows: number): ScanState {
  const names = Object.keys(columns);
  const layout = { warmupRows: WARMUP, blockFrom: 0, blockRows: 0, spreadStep: 1_000_000 };
  const scan = new ColumnScan(names, layout, rows, undefined, rows);
  if (rows > 0)
    scan.add(rows, (j) => {
      const v = columns[names[j]!]!.slice(0, rows);
      const valid = new Uint32Array(Math.ceil(rows / 32));
      v.forEach((x, r) => x !== null && (valid[r >>> 5]! |= 1 << (r & 31)));
      return { values: Float64Array.from(v, (x) => x ?? 0), valid };
    });
  return scan.snapshot() ?? emptyState(names);
}

function carried(columns: Record<string, Cell[]>, cuts: readonly number[]): ScanState {
  let state = emptyState(Object.keys(columns));
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [start, end] = [cuts[k]!, cuts[k + 1]!];
    state = carrySegments(state, new Map(Object.entries(columns).map(([name, v]) => [name, measure(v, start, end)])));
  }
  return state;
}

const COLUMNS: Record<string, Cell[]> = {
  runs: [1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 4],
  holes: [5, null, 5, 5, null, null, 5, 5, 5, null, 6, 6, 6, 6, null, 6, 6, 6],
  nan: [NaN, NaN, 1, NaN, NaN, NaN, NaN, 2, 2, Infinity, Infinity, -Infinity, NaN, NaN, 3, 3, 3, 3],
  empty: Array<Cell>(18).fill(null),
  late: [null, null, null, null, null, null, null, null, null, null, 0.5, 0.25, 0.25, 0.125, 0.125, 0.125, 7, 7],
  constant: Array<Cell>(18).fill(3.25),
};
const ROWS = 18;

/** Equal states: every accumulator exactly, the shifted sums as the mean and variance they give. */
function assertSame(got: ScanState, want: ScanState, what: string): void {
  assert.equal(got.row, want.row, what);
  got.columns.forEach((column, j) => {
    const at = (s: ScanState, f: number) => s.values[j * SCAN_FIELDS + f]!;
    for (const [name, f] of Object.entries(FIELD)) {
      if (name === 'shift' || name === 'sum' || name === 'sumSq' || (name === 'prev' && at(want, FIELD.prevValid) === 0)) continue;
      assert.ok(Object.is(at(got, f), at(want, f)), `${what}: ${column}.${name} ${at(got, f)} vs ${at(want, f)}`);
    }
    const n = at(want, FIELD.finite);
    if (n === 0) return;
    const mean = (s: ScanState) => at(s, FIELD.shift) + at(s, FIELD.sum) / n;
    const variance = (s: ScanState) => at(s, FIELD.sumSq) / n - (at(s, FIELD.sum) / n) ** 2;
    assert.ok(Math.abs(mean(got) - mean(want)) < 1e-12, `${what}: ${column} mean`);
    assert.ok(Math.abs(variance(got) - variance(want)) < 1e-12, `${what}: ${column} variance`);
  });
}

describe('profile scan state carried over stretches (scanSegments.ts)', () => {
  it('gives ColumnScan\'s state, cut anywhere: inside runs, on nulls and NaN runs, in one-row stretches', () => {
    const cutsList = [[0, ROWS], [0, 6, ROWS], [0, 1, 2, 3, ROWS], [0, 5, 9, 13, 17, ROWS], [0, 12, 13, 14, ROWS], Array.from({ length: ROWS + 1 }, (_, r) => r)];
    const want = scanState(COLUMNS, ROWS);
    for (const cuts of cutsList) assertSame(carried(COLUMNS, cuts), want, `cuts ${cuts.join(',')}`);
  });

  it('takes a state part way, as ColumnScan does at that row, and refuses a stretch that starts elsewhere', () => {
    for (const at of [1, 4, 9, 16]) assertSame(carried(COLUMNS, at > 3 ? [0, 3, at] : [0, at]), scanState(COLUMNS, at), `at row ${at}`);
    const state = carried(COLUMNS, [0, 6]);
    assert.throws(() => carrySegments(state, new Map(Object.entries(COLUMNS).map(([n, v]) => [n, measure(v, 7, ROWS)]))), /starts at row 7, not at the state's row 6/);
    assert.throws(() => carrySegments(state, new Map([['runs', measure(COLUMNS.runs!, 6, ROWS)]])), /no measures of column holes/);
  });
});
