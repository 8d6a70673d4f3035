// Every per-column statistic of the profile in ONE streaming pass over the values, in row order:
// non-null, warm-up non-null, finite min/max/mean/sd, inf, NaN, repeats of the previous row's
// value, the longest run of one value, the last non-null row, and the sample's values. The
// warehouse adapter feeds it decoded column chunks (a Float64Array and a validity bitmap), so the
// data is read once instead of once per statistic (a lag window, a sorted window, a row-number
// filter: each a pass of its own that DuckDB materialises over thousands of columns).
// Struct-of-arrays accumulators keep the per-value work to a few comparisons and additions.

import { SCAN_FIELDS, stateColumns, type ScanState } from './scanState.js';
import type { ColumnStats } from './types.js';

/** Repeat share from which a column's longest run is reported (below it: null, at most repeats + 1). */
export const LONGEST_RUN_FROM_SHARE = 0.01;

/** One column's values for rows [from, from + values.length): bit r of `valid` (little-endian 32-bit words) set when row from + r has a value; null = all valid. */
export interface ColumnChunk {
  values: Float64Array;
  valid: Uint32Array | null;
}

export interface ScanLayout {
  warmupRows: number;
  /** The sample: `blockRows` consecutive rows from `blockFrom`, and every `spreadStep`-th row. */
  blockFrom: number;
  blockRows: number;
  spreadStep: number;
}

/** Whether a row is in the sample (see ScanLayout). */
export function inSample(row: number, l: ScanLayout): boolean {
  return (row >= l.blockFrom && row < l.blockFrom + l.blockRows) || row % l.spreadStep === 0;
}

/** The sample's row numbers, ascending, for a table of `rows` rows. */
export function sampleRows(rows: number, l: ScanLayout): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (inSample(r, l)) out.push(r);
  return out;
}

/** Where a scan starts other than at row 0: an earlier scan's state at `state.row`, and the sample values it had read before that row. */
export interface ScanResume {
  state: ScanState;
  sample: { rows: readonly number[]; values: Readonly<Record<string, Float64Array>> };
}

/**
 * A resumed scan's start without the earlier sample: its sample rows before `state.row` are left
 * NaN, for the caller to fill (fillEarlierSample). The profile's threads are sent this: sent the
 * earlier values, a 20,000-row refresh sliced and copied 77 MB of them to its threads for nothing
 * they read.
 */
export type ScanStart = Pick<ScanResume, 'state'> & Partial<Pick<ScanResume, 'sample'>>;

/**
 * A profile job's start (ProfileJob `resume.from`): the sample may still be on its way (read while
 * the column pass runs, which needs only the state) and is awaited where its values are put in.
 */
export interface ResumeFrom {
  state: ScanState;
  sample: ScanResume['sample'] | Promise<ScanResume['sample']>;
}

/**
 * Position of each row in an earlier sample: built once per sample, not once per batch (a profile
 * resumes every batch from the same state; columns: scanState.ts `stateColumns`).
 */
const sampleRowIndex = new WeakMap<ScanResume['sample'], Map<number, number>>();

function rowsOf(sample: ScanResume['sample']): Map<number, number> {
  let at = sampleRowIndex.get(sample);
  if (!at) sampleRowIndex.set(sample, (at = new Map(sample.rows.map((r, i) => [r, i]))));
  return at;
}

/**
 * Copies into `sample` (the arrays of `columns` on the sample's `rows`) the values `earlier` holds
 * for the rows before `row`: those a scan resumed at `row` did not read (the same rows, the same
 * layout). Column by column: one look-up of a column's earlier values, not one per (row, column)
 * (17,037 columns x the sample rows took 1.8 s of a refresh's profile).
 */
export function fillEarlierSample(columns: readonly string[], rows: readonly number[], sample: readonly Float64Array[], row: number, earlier: ScanResume['sample']): void {
  const at = rowsOf(earlier);
  const pairs: [number, number][] = [];
  rows.forEach((r, i) => {
    if (r >= row) return;
    const e = at.get(r);
    if (e === undefined) throw new Error(`sample row ${r} is not in the earlier sample`);
    pairs.push([i, e]);
  });
  // The same layout puts the rows before `row` first in both samples, in the same order: then each
  // column's values are one block copied (17,037 columns of 540 values: 60 ms one value at a time,
  // about 20 ms a block, most of it the 73 MB copied).
  const [i0, e0] = pairs[0] ?? [0, 0];
  const block = pairs.every(([i, e], k) => i === i0 + k && e === e0 + k);
  columns.forEach((column, j) => {
    const from = earlier.values[column];
    if (!from) throw new Error(`the earlier sample has no column ${column}`);
    const to = sample[j]!;
    if (block) to.set(from.subarray(e0, e0 + pairs.length), i0);
    else for (const [i, e] of pairs) to[i] = from[e]!;
  });
}

export class ColumnScan {
  private readonly n: number;
  private readonly nonNull: Float64Array;
  private readonly warm: Float64Array;
  private readonly finite: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  /** Sums of (x - shift) and its square, shift = the first finite value: stable enough for sd. */
  private readonly shift: Float64Array;
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  private readonly inf: Float64Array;
  private readonly nan: Float64Array;
  private readonly repeats: Float64Array;
  private readonly run: Float64Array;
  private readonly longest: Float64Array;
  private readonly last: Float64Array;
  private readonly prev: Float64Array;
  private readonly prevValid: Uint8Array;
  /** Per column, its values on the sample rows (NaN where missing). */
  readonly sample: Float64Array[];
  /** The sample's row numbers, ascending. */
  readonly sampleRows: number[];
  private readonly sampleIndex = new Map<number, number>();
  private rows = 0;
  /** The state taken when the scan reached `snapshotAt` (a chunk starting exactly there), if it did. */
  private taken: ScanState | undefined;

  /**
   * `resume`: carry on from an earlier scan of the same first rows (every column here in it);
   * `snapshotAt`: the row whose state to keep (a shard's first row: profileReuse.ts `scanPoint`), for a later
   * dataset that shares the rows before it to carry on from (shared/profile/scanState.ts).
   */
  constructor(
    readonly columns: readonly string[],
    private readonly layout: ScanLayout,
    totalRows: number,
    resume?: ScanStart,
    private readonly snapshotAt?: number,
  ) {
    const n = (this.n = columns.length);
    const f = () => new Float64Array(n);
    this.nonNull = f();
    this.warm = f();
    this.finite = f();
    this.min = f().fill(Infinity);
    this.max = f().fill(-Infinity);
    this.shift = f();
    this.sum = f();
    this.sumSq = f();
    this.inf = f();
    this.nan = f();
    this.repeats = f();
    this.run = f();
    this.longest = f();
    this.last = f().fill(-1);
    this.prev = f();
    this.prevValid = new Uint8Array(n);
    const rows = (this.sampleRows = sampleRows(totalRows, layout));
    rows.forEach((r, k) => this.sampleIndex.set(r, k));
    this.sample = columns.map(() => new Float64Array(rows.length).fill(NaN));
    if (resume) this.resumeFrom(resume);
  }

  private fields(): Float64Array[] {
    return [this.nonNull, this.warm, this.finite, this.min, this.max, this.shift, this.sum, this.sumSq, this.inf, this.nan, this.repeats, this.run, this.longest, this.last, this.prev];
  }

  private resumeFrom({ state, sample }: ScanStart): void {
    const at = stateColumns(state);
    const fields = this.fields();
    this.columns.forEach((column, j) => {
      const k = at.get(column);
      if (k === undefined) throw new Error(`the scan state has no column ${column}`);
      const base = k * SCAN_FIELDS;
      fields.forEach((f, i) => (f[j] = state.values[base + i]!));
      this.prevValid[j] = state.values[base + fields.length]!;
    });
    this.rows = state.row;
    if (sample) fillEarlierSample(this.columns, this.sampleRows, this.sample, state.row, sample);
  }

  /** Every accumulator as it stands (the sample is kept apart, in the stored profile). */
  private capture(): ScanState {
    const fields = this.fields();
    const values = new Float64Array(this.n * SCAN_FIELDS);
    for (let j = 0; j < this.n; j++) {
      const base = j * SCAN_FIELDS;
      fields.forEach((f, i) => (values[base + i] = f[j]!));
      values[base + fields.length] = this.prevValid[j]!;
    }
    return { row: this.rows, columns: [...this.columns], values };
  }

  /** The state as the scan stands: after its last row, the dataset's end (a later dataset that grows its last shard carries on from there). */
  state(): ScanState {
    return this.capture();
  }

  /** The state at `snapshotAt`, when the scan passed it at a chunk's start. */
  snapshot(): ScanState | undefined {
    if (!this.taken && this.snapshotAt === this.rows) this.taken = this.capture();
    return this.taken;
  }

  /** The next `length` rows: chunk(j) gives column j's values on them. */
  add(length: number, chunk: (column: number) => ColumnChunk): void {
    const from = this.rows;
    if (from === this.snapshotAt && !this.taken) this.taken = this.capture();
    const warmEnd = Math.max(0, Math.min(length, this.layout.warmupRows - from));
    const sampled: [number, number][] = [];
    for (let r = 0; r < length; r++) {
      const k = this.sampleIndex.get(from + r);
      if (k !== undefined) sampled.push([r, k]);
    }
    for (let j = 0; j < this.n; j++) {
      const { values, valid } = chunk(j);
      let nonNull = 0, warm = 0, finite = 0, inf = 0, nan = 0, repeats = 0;
      let min = this.min[j]!, max = this.max[j]!, sum = this.sum[j]!, sumSq = this.sumSq[j]!, shift = this.shift[j]!;
      let run = this.run[j]!, longest = this.longest[j]!, last = this.last[j]!;
      let prev = this.prev[j]!, prevValid = this.prevValid[j] === 1;
      let hasShift = this.finite[j]! > 0;
      // Row by row within 32-row validity words; a word with every row valid (nearly all of
      // them) skips the per-row validity test.
      for (let base = 0; base < length; base += 32) {
        const mask = valid === null ? -1 : valid[base >>> 5]! | 0;
        const end = Math.min(32, length - base);
        for (let b = 0; b < end; b++) {
          if (mask !== -1 && ((mask >>> b) & 1) === 0) {
            prevValid = false;
            run = 0;
            continue;
          }
          const v = values[base + b]!;
          nonNull++;
          if (v - v === 0) {
            // finite (inf - inf and NaN - NaN are NaN)
            if (!hasShift) (shift = v), (hasShift = true);
            finite++;
            if (v < min) min = v;
            if (v > max) max = v;
            const d = v - shift;
            sum += d;
            sumSq += d * d;
          } else if (v !== v) nan++;
          else inf++;
          // Equal to the previous row's value (NaN equals NaN, as in SQL engines' comparisons).
          if (prevValid && (v === prev || (v !== v && prev !== prev))) {
            repeats++;
            if (++run > longest) longest = run;
          } else run = 1;
          prev = v;
          prevValid = true;
          last = base + b;
        }
      }
      if (nonNull > 0) last += from;
      // Warm-up rows with a value: only the chunks that reach into the warm-up count them.
      for (let r = 0; r < warmEnd; r++) if (valid === null || ((valid[r >>> 5]! >>> (r & 31)) & 1) === 1) warm++;
      this.nonNull[j]! += nonNull;
      this.warm[j]! += warm;
      this.finite[j]! += finite;
      this.inf[j]! += inf;
      this.nan[j]! += nan;
      this.repeats[j]! += repeats;
      this.min[j] = min;
      this.max[j] = max;
      this.sum[j] = sum;
      this.sumSq[j] = sumSq;
      this.shift[j] = shift;
      this.run[j] = run;
      this.longest[j] = longest;
      this.last[j] = last;
      this.prev[j] = prev;
      this.prevValid[j] = prevValid ? 1 : 0;
      const out = this.sample[j]!;
      for (const [r, k] of sampled) out[k] = valid !== null && ((valid[r >>> 5]! >>> (r & 31)) & 1) === 0 ? NaN : values[r]!;
    }
    this.rows += length;
  }

  /** The statistics so far; `labels` get their last non-null row (the others null, as before). */
  stats(labels: ReadonlySet<string>): ColumnStats[] {
    return this.columns.map((column, j) => {
      const nonNull = this.nonNull[j]!;
      const finite = this.finite[j]!;
      const mean = finite > 0 ? this.shift[j]! + this.sum[j]! / finite : null;
      const variance = finite > 0 ? Math.max(0, this.sumSq[j]! / finite - (this.sum[j]! / finite) ** 2) : null;
      const repeats = this.repeats[j]!;
      return {
        column,
        nonNull,
        warmupNonNull: this.warm[j]!,
        min: finite > 0 ? this.min[j]! : null,
        max: finite > 0 ? this.max[j]! : null,
        mean,
        sd: variance === null ? null : Math.sqrt(variance),
        inf: this.inf[j]!,
        nan: this.nan[j]!,
        beyond10sd: 0,
        repeats,
        longestRun: nonNull === 0 ? 0 : repeats === 0 ? 1 : repeats / nonNull >= LONGEST_RUN_FROM_SHARE ? this.longest[j]! : null,
        lastNonNullRow: labels.has(column) && this.last[j]! >= 0 ? this.last[j]! : null,
      };
    });
  }
}

/** Columns with finite values further than 10 sd from the mean (min or max beyond it): only these need a second pass. */
export function beyondCandidates(stats: readonly ColumnStats[]): ColumnStats[] {
  return stats.filter((s) => s.sd !== null && s.sd > 0 && s.mean !== null && s.min !== null && s.max !== null && (s.max - s.mean > 10 * s.sd || s.mean - s.min > 10 * s.sd));
}
