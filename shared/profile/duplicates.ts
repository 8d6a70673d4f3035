// Exact duplicates: groups of columns equal on every row (DATA.md: 11,337 columns were 1,064
// unique ones). Columns that agree on every statistic the profile pass measured and on every
// sampled value are candidates; the warehouse then compares each candidate with its group's first
// column on every row. Entirely null columns are left out (the report lists them already).

import type { ColumnComparison, ColumnPair, ColumnStats } from './types.js';

/** Statistics plus the sample's sum and first values: equal columns agree on all of it. */
function signature(s: ColumnStats, sample: Float64Array | undefined): string {
  let sum = 0;
  for (const v of sample ?? []) if (Number.isFinite(v)) sum += v;
  return JSON.stringify([s.nonNull, s.min, s.max, s.repeats, s.inf, s.nan, sum, Array.from((sample ?? []).slice(0, 16), (v) => (Number.isNaN(v) ? null : v))]);
}

/** Candidate groups (two columns or more), in output order. */
export function duplicateCandidates(stats: readonly ColumnStats[], values: Record<string, Float64Array>): string[][] {
  const groups = new Map<string, string[]>();
  for (const s of stats) {
    if (s.nonNull === 0) continue;
    const key = signature(s, values[s.column]);
    const g = groups.get(key);
    if (g) g.push(s.column);
    else groups.set(key, [s.column]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** Each candidate against its group's first column, unshifted. */
export function duplicatePairs(groups: readonly string[][]): ColumnPair[] {
  return groups.flatMap((g) => g.slice(1).map((b) => ({ a: g[0]!, b, shift: 0 })));
}

/** The groups that hold up on every row: equal wherever both have a value, and null on the same rows. */
export function confirmedDuplicates(groups: readonly string[][], measured: readonly ColumnComparison[]): string[][] {
  const same = new Set(measured.filter((m) => m.shift === 0 && m.nullMismatch === 0 && m.equal === m.both).map((m) => `${m.a}\u0000${m.b}`));
  return groups
    .map((g) => [g[0]!, ...g.slice(1).filter((b) => same.has(`${g[0]}\u0000${b}`))])
    .filter((g) => g.length > 1);
}
