// Leakage: a feature that knows a label. Two ways it shows (DATA.md: features correlated 1.0000
// with labels): |correlation| >= 0.99, or the feature equals a label shifted in time by less than
// the label's horizon (so it holds a future value). 16,988 features x 49 labels is 832k pairs:
// they are screened on the small sample the profile pass already took (dot products and a value
// lookup, in memory), and only the candidates are measured on the full sample in the warehouse.

import { labelHorizon } from './findings.js';
import type { ColumnComparison, ColumnPair, Leak } from './types.js';

export const LEAKAGE_CORRELATION = 0.99;
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
  rows.forEach((i, k) => {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      out[k] = v - mean;
      ss += out[k]! * out[k]!;
    }
  });
  if (!(ss > 1e-24)) return undefined;
  const norm = Math.sqrt(ss);
  for (let k = 0; k < out.length; k++) out[k]! /= norm;
  return out;
}

/**
 * Pairs to measure: features whose sample correlation with a label passes the screen (shift 0),
 * and features whose sampled values are, mostly, one label's values a fixed number of rows away.
 */
export function leakageCandidates(sample: Sample, features: readonly string[], labels: readonly string[], block: { from: number; rows: number }): ColumnPair[] {
  const pairs: ColumnPair[] = [];
  // Correlation screen on the spread rows (outside the block, so spread evenly over the window).
  const spread = sample.rows.flatMap((r, i) => (r < block.from || r >= block.from + block.rows ? [i] : []));
  const labelUnits = labels.map((l) => unit(sample.values[l] ?? EMPTY, spread));
  for (const f of features) {
    const u = unit(sample.values[f] ?? EMPTY, spread);
    if (!u) continue;
    labelUnits.forEach((lu, j) => {
      if (!lu) return;
      let dot = 0;
      for (let k = 0; k < u.length; k++) dot += u[k]! * lu[k]!;
      if (Math.abs(dot) >= SCREEN_CORRELATION) pairs.push({ a: f, b: labels[j]!, shift: 0 });
    });
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
  for (const f of features) {
    const v = sample.values[f] ?? EMPTY;
    const votes = new Map<string, number>();
    const seen = new Set<number>();
    let probed = 0;
    for (const i of probes) {
      const x = v[i];
      if (x === undefined || !Number.isFinite(x)) continue;
      probed++;
      seen.add(x);
      const hits = where.get(x);
      if (!hits) continue;
      const counted = new Set<string>();
      for (let h = 0; h < hits.length; h += 2) {
        const key = `${hits[h]}:${sample.rows[i]! - hits[h + 1]!}`;
        if (counted.has(key)) continue;
        counted.add(key);
        votes.set(key, (votes.get(key) ?? 0) + 1);
      }
    }
    if (seen.size < SHIFT_MIN_VOTES) continue; // a few repeated values say nothing
    for (const [key, n] of votes) {
      if (n < SHIFT_MIN_VOTES || n < probed * SHIFT_VOTE_SHARE) continue;
      const [j, shift] = key.split(':').map(Number) as [number, number];
      if (!pairs.some((p) => p.a === f && p.b === labels[j] && p.shift === shift)) pairs.push({ a: f, b: labels[j]!, shift });
    }
  }
  return pairs;
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
