// Exact duplicates: groups of columns equal on every row (DATA.md: 11,337 columns were 1,064
// unique ones). Columns that agree on every statistic the profile pass measured and on every
// sampled value are candidates; the warehouse then compares each candidate with its group's first
// column on every row. Entirely null columns are left out (the report lists them already).

import type { ColumnComparison, ColumnPair, ColumnStats } from './types.js';

/** Sample values a signature takes, after the statistics and the sample's sum. */
const SIGNATURE_VALUES = 16;
/** The statistics, the sample's sum, its length and its first values: equal columns agree on all of it. */
const SIGNATURE_LENGTH = 8 + SIGNATURE_VALUES;

/**
 * A number as the signature holds it: every value JSON would write as null (null, NaN, ±Infinity)
 * is one NaN, and -0 is 0. Two signatures are then equal exactly where their JSON texts would be
 * (the shortest round-trip text of a finite double is unique to it).
 */
const canon = (v: number | null | undefined): number => (v === null || v === undefined || !Number.isFinite(v) ? NaN : v === 0 ? 0 : v);

/** Writes column `s`'s signature into `out` (SIGNATURE_LENGTH numbers, unused sample places NaN after the length). */
function signature(s: ColumnStats, sample: Float64Array | undefined, out: Float64Array): void {
  let sum = 0;
  const n = sample?.length ?? 0;
  for (let i = 0; i < n; i++) if (Number.isFinite(sample![i]!)) sum += sample![i]!;
  out[0] = canon(s.nonNull);
  out[1] = canon(s.min);
  out[2] = canon(s.max);
  out[3] = canon(s.repeats);
  out[4] = canon(s.inf);
  out[5] = canon(s.nan);
  out[6] = canon(sum);
  out[7] = Math.min(n, SIGNATURE_VALUES);
  for (let i = 0; i < SIGNATURE_VALUES; i++) out[8 + i] = i < n ? canon(sample![i]) : NaN;
}

const sameNumber = (a: number, b: number) => a === b || (a !== a && b !== b);

/**
 * Candidate groups (two columns or more), in output order. Columns are bucketed by a hash of their
 * signature's bits and compared exactly within a bucket: a text key per column (JSON of 23 numbers)
 * and its lookup were about 0.2 s of every 17,038-column profile.
 */
export function duplicateCandidates(stats: readonly ColumnStats[], values: Record<string, Float64Array>): string[][] {
  const signatures = new Float64Array(stats.length * SIGNATURE_LENGTH);
  const bits = new Uint32Array(signatures.buffer);
  const groups: { at: number; columns: string[] }[] = [];
  const buckets = new Map<number, number[]>(); // hash -> indexes into groups
  for (let c = 0; c < stats.length; c++) {
    const s = stats[c]!;
    if (s.nonNull === 0) continue;
    const at = c * SIGNATURE_LENGTH;
    signature(s, values[s.column], signatures.subarray(at, at + SIGNATURE_LENGTH));
    // FNV-1a over the words; every NaN here is written from the one constant, so equal signatures hash alike.
    let h = 0x811c9dc5;
    for (let w = at * 2; w < (at + SIGNATURE_LENGTH) * 2; w++) h = Math.imul(h ^ bits[w]!, 0x01000193);
    const bucket = buckets.get(h);
    const same = bucket?.find((g) => {
      const other = groups[g]!.at;
      for (let i = 0; i < SIGNATURE_LENGTH; i++) if (!sameNumber(signatures[at + i]!, signatures[other + i]!)) return false;
      return true;
    });
    if (same !== undefined) groups[same]!.columns.push(s.column);
    else {
      if (bucket) bucket.push(groups.length);
      else buckets.set(h, [groups.length]);
      groups.push({ at, columns: [s.column] });
    }
  }
  return groups.filter((g) => g.columns.length > 1).map((g) => g.columns);
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
