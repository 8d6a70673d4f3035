// Leakage: a feature that knows a label. Two ways it shows (DATA.md: features correlated 1.0000
// with labels): |correlation| >= 0.99, or the feature equals a label shifted in time by less than
// the label's horizon (so it holds a future value). 16,988 features x 49 labels is 832k pairs:
// they are screened on the small sample the profile pass already took (dot products and a value
// lookup, in memory), and only the candidates are measured on the full sample in the warehouse.

import { labelHorizon } from './findings.js';
import { sameList } from './reuseStats.js';
import type { ColumnComparison, ColumnPair, Leak, LeakageScreen } from './types.js';

export const LEAKAGE_CORRELATION = 0.99;
// A dataset's screen is stored and taken by later runs (LeakageScreen): a change to the screen's
// constants below changes what a stored screen means, so it bumps STORED_PROFILE_VERSION
// (storedProfile.ts) and older stored profiles are then ignored.
/** The screen lets through more than it flags; candidates are then measured exactly. */
const SCREEN_CORRELATION = 0.8;
/** Share of a feature's probed values that must point at one (label, shift) to be a candidate. */
const SHIFT_VOTE_SHARE = 0.5;
const SHIFT_MIN_VOTES = 8;
/** Share of rows equal to the shifted label, on the full sample, to call it a leak. */
export const SHIFT_EQUAL_SHARE = 0.99;

interface Sample {
  rows: number[];
  values: Record<string, Float64Array>;
}

const EMPTY = new Float64Array(0);

/** Centred values scaled to unit length over the non-null rows (nulls 0); undefined when flat. */
function unit(values: Float64Array, rows: readonly number[]): Float64Array | undefined {
  let n = 0;
  let sum = 0;
  for (const i of rows) if (Number.isFinite(values[i])) (sum += values[i]!), n++;
  if (n < 3) return undefined;
  const mean = sum / n;
  const out = new Float64Array(rows.length);
  let ss = 0;
  for (let k = 0; k < rows.length; k++) {
    const v = values[rows[k]!]!;
    if (Number.isFinite(v)) {
      out[k] = v - mean;
      ss += out[k]! * out[k]!;
    }
  }
  if (!(ss > 1e-24)) return undefined;
  const norm = Math.sqrt(ss);
  for (let k = 0; k < out.length; k++) out[k]! /= norm;
  return out;
}

/** The length of `v`'s values from `from` on. */
function restNorm(v: Float64Array, from: number): number {
  let ss = 0;
  for (let k = from; k < v.length; k++) ss += v[k]! * v[k]!;
  return Math.sqrt(ss);
}

/** Far above the rounding of a 256-term dot product of unit vectors (about 1e-14): a skip is never a rounding's doing. */
const BOUND_SLACK = 1e-9;

/** A (label, shift) vote as one number: label index times 2^32, plus the shift offset by 2^31. */
const SHIFT_SPAN = 2 ** 32;
const voteKey = (label: number, shift: number) => label * SHIFT_SPAN + shift + SHIFT_SPAN / 2;

/** An earlier screen over the same sample rows, and the features whose values are the same as then: theirs are taken from it. */
export interface KnownScreen {
  screen: LeakageScreen;
  features: ReadonlySet<string>;
}

/** Pairs to measure: both halves of a screen, correlated first. */
export const screenPairs = (screen: Pick<LeakageScreen, 'correlated' | 'shifted'>): ColumnPair[] => [...screen.correlated, ...screen.shifted];

/**
 * The screen of `features`: those `known` holds taken from its screen (when that screen is of the
 * same labels and block), the rest screened here; in `features`' order either way, so the outcome
 * is the one a screen of every feature gives. `taken`: how many features' pairs were taken.
 */
export function leakageScreen(sample: Sample, features: readonly string[], labels: readonly string[], block: { from: number; rows: number }, known?: KnownScreen): LeakageScreen & { taken: number } {
  const usable = known && sameList(known.screen.labels, labels) && known.screen.block.from === block.from && known.screen.block.rows === block.rows ? known : undefined;
  const fresh = usable ? features.filter((f) => !usable.features.has(f)) : features;
  const correlated: ColumnPair[] = [];
  const shifted: ColumnPair[] = [];
  // Correlation screen on the spread rows (outside the block, so spread evenly over the window).
  const spread = sample.rows.flatMap((r, i) => (r < block.from || r >= block.from + block.rows ? [i] : []));
  // The labels' unit vectors side by side in one array: 16,988 features x 49 labels of dot
  // products is the screen's cost, and a closure per pair was most of it.
  const m = spread.length;
  const withUnit: number[] = [];
  // Rows of zeros up to a multiple of four labels (a zero dot never passes the screen).
  const labelUnits = new Float64Array(Math.ceil(labels.length / 4) * 4 * m);
  labels.forEach((l, j) => {
    const lu = unit(sample.values[l] ?? EMPTY, spread);
    if (!lu) return;
    labelUnits.set(lu, withUnit.length * m);
    withUnit.push(j);
  });
  // The dots are summed over the first half of the rows, then over the rest only where the screen
  // can still pass: the rest adds at most |u's rest| x |label's rest| (Cauchy-Schwarz), and for most
  // pairs the first half plus that bound stays below it. The same sums, in the same row order, for
  // every pair that goes on; about half the multiplications of the screen skipped.
  const half = m >> 1;
  const labelRest = new Float64Array(labelUnits.length / m);
  for (let q = 0; q < labelRest.length; q++) labelRest[q] = restNorm(labelUnits.subarray(q * m, (q + 1) * m), half);
  for (const f of fresh) {
    const u = unit(sample.values[f] ?? EMPTY, spread);
    if (!u) continue;
    const rest = restNorm(u, half);
    // Four labels a pass over the feature's values; each sum still adds in row order.
    for (let h = 0; h < withUnit.length; h += 4) {
      const [a0, a1, a2, a3] = [h * m, (h + 1) * m, (h + 2) * m, (h + 3) * m];
      let [d0, d1, d2, d3] = [0, 0, 0, 0];
      for (let k = 0; k < half; k++) {
        const x = u[k]!;
        d0 += x * labelUnits[a0 + k]!;
        d1 += x * labelUnits[a1 + k]!;
        d2 += x * labelUnits[a2 + k]!;
        d3 += x * labelUnits[a3 + k]!;
      }
      const out = SCREEN_CORRELATION - BOUND_SLACK; // below it with the rest's bound: cannot pass
      if (Math.abs(d0) + rest * labelRest[h]! < out && Math.abs(d1) + rest * labelRest[h + 1]! < out && Math.abs(d2) + rest * labelRest[h + 2]! < out && Math.abs(d3) + rest * labelRest[h + 3]! < out) continue;
      for (let k = half; k < m; k++) {
        const x = u[k]!;
        d0 += x * labelUnits[a0 + k]!;
        d1 += x * labelUnits[a1 + k]!;
        d2 += x * labelUnits[a2 + k]!;
        d3 += x * labelUnits[a3 + k]!;
      }
      const dots = [d0, d1, d2, d3];
      for (let q = 0; q < 4 && h + q < withUnit.length; q++) if (Math.abs(dots[q]!) >= SCREEN_CORRELATION) correlated.push({ a: f, b: labels[withUnit[h + q]!]!, shift: 0 });
    }
  }
  // Shift screen: the block's label values by value, then each feature's block values looked up.
  const inBlock = sample.rows.flatMap((r, i) => (r >= block.from && r < block.from + block.rows ? [i] : []));
  const where = new Map<number, number[]>(); // value -> [label index, row, label index, row, ...]
  labels.forEach((l, j) => {
    const v = sample.values[l] ?? EMPTY;
    for (const i of inBlock) {
      const x = v[i];
      if (x === undefined || !Number.isFinite(x)) continue;
      const list = where.get(x);
      if (list) list.push(j, sample.rows[i]!);
      else where.set(x, [j, sample.rows[i]!]);
    }
  });
  const probes = inBlock.filter((_, k) => k % 8 === 0);
  // Numbers, not strings, as vote keys (voteKey): a value common to many label rows (0) made a
  // string per hit for every probe of every feature.
  const votes = new Map<number, number>();
  const seen = new Set<number>();
  const counted = new Set<number>();
  for (const f of fresh) {
    const v = sample.values[f] ?? EMPTY;
    votes.clear();
    seen.clear();
    let probed = 0;
    for (const i of probes) {
      const x = v[i];
      if (x === undefined || !Number.isFinite(x)) continue;
      probed++;
      seen.add(x);
      const hits = where.get(x);
      if (!hits) continue;
      counted.clear();
      for (let h = 0; h < hits.length; h += 2) {
        const key = voteKey(hits[h]!, sample.rows[i]! - hits[h + 1]!);
        if (counted.has(key)) continue;
        counted.add(key);
        votes.set(key, (votes.get(key) ?? 0) + 1);
      }
    }
    if (seen.size < SHIFT_MIN_VOTES) continue; // a few repeated values say nothing
    for (const [key, n] of votes) {
      if (n < SHIFT_MIN_VOTES || n < probed * SHIFT_VOTE_SHARE) continue;
      const j = Math.floor(key / SHIFT_SPAN);
      const shift = key - j * SHIFT_SPAN - SHIFT_SPAN / 2;
      const same = (p: ColumnPair) => p.a === f && p.b === labels[j] && p.shift === shift;
      if (!correlated.some(same) && !shifted.some(same)) shifted.push({ a: f, b: labels[j]!, shift });
    }
  }
  const screen = { labels: [...labels], block: { from: block.from, rows: block.rows } };
  if (!usable) return { ...screen, correlated, shifted, taken: 0 };
  // Each feature's pairs where they come from, in the features' order.
  const byFeature = (list: readonly ColumnPair[], from: (f: string) => boolean) => {
    const out = new Map<string, ColumnPair[]>();
    for (const p of list) {
      if (!from(p.a)) continue;
      const own = out.get(p.a);
      if (own) own.push(p);
      else out.set(p.a, [p]);
    }
    return out;
  };
  const taken = (f: string) => usable.features.has(f);
  const inOrder = (earlier: readonly ColumnPair[], now: readonly ColumnPair[]) => {
    const [was, is] = [byFeature(earlier, taken), byFeature(now, (f) => !taken(f))];
    return features.flatMap((f) => (taken(f) ? was.get(f) : is.get(f)) ?? []);
  };
  return { ...screen, correlated: inOrder(usable.screen.correlated, correlated), shifted: inOrder(usable.screen.shifted, shifted), taken: features.length - fresh.length };
}

/** The candidates that are leaks, measured on the full sample. */
export function confirmedLeaks(measured: readonly ColumnComparison[]): Leak[] {
  const leaks = new Map<string, Leak>();
  for (const m of measured) {
    const corr = m.correlation ?? 0;
    const equalShare = m.both > 0 ? m.equal / m.both : 0;
    const horizon = labelHorizon(m.b);
    // A shifted copy leaks when the row it copies lies less than the horizon back (or ahead).
    const future = horizon === undefined || m.shift < horizon;
    const isLeak = (m.shift === 0 && Math.abs(corr) >= LEAKAGE_CORRELATION) || (future && equalShare >= SHIFT_EQUAL_SHARE && m.both > 0);
    if (!isLeak) continue;
    const key = `${m.a}\u0000${m.b}`;
    const leak = { feature: m.a, label: m.b, correlation: round(corr), shiftRows: m.shift };
    const known = leaks.get(key);
    if (!known || Math.abs(leak.correlation) > Math.abs(known.correlation)) leaks.set(key, leak);
  }
  return [...leaks.values()].sort((a, b) => Math.abs(b.correlation) - Math.abs(a.correlation) || (a.feature < b.feature ? -1 : 1));
}

export const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;
