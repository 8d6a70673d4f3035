// From the warehouse's numbers to findings: each column's profile, and the constant, stale and
// warm-up lists (DATA.md: the modellers dropped constant, almost-always-equal and warm-up-null
// columns by hand, after the fact). Pure functions; the warehouse measured, this only decides.

import type { ColumnProfile, ColumnStats, LabelTail, ProfileSettings } from './types.js';

/** Warm-up nulls: null on at least this share of the warm-up rows... */
export const WARMUP_NULL_SHARE = 0.5;
/** ...and on at most this share of the rows after it (else it is a late start or a sparse column). */
export const AFTER_WARMUP_NULL_SHARE = 0.05;

export function columnProfile(s: ColumnStats, rows: number, warmupRows: number): ColumnProfile {
  const warm = Math.min(warmupRows, rows);
  return {
    column: s.column,
    nullShare: rows > 0 ? 1 - s.nonNull / rows : 0,
    warmupNullShare: warm > 0 ? 1 - s.warmupNonNull / warm : 0,
    constant: isConstant(s),
    repeatShare: s.nonNull > 0 ? s.repeats / s.nonNull : 0,
    longestRun: s.longestRun,
    inf: s.inf,
    nan: s.nan,
    beyond10sd: s.beyond10sd,
  };
}

/** One distinct non-null value: finite, min equal to max, nothing else (no inf or NaN). */
export function isConstant(s: ColumnStats): boolean {
  return s.nonNull > 0 && s.min !== null && s.min === s.max && s.inf === 0 && s.nan === 0;
}

/** Columns whose values repeat the previous row's at least `staleShare` of the time; constant columns are listed as constant instead. */
export function staleColumns(stats: readonly ColumnStats[], settings: ProfileSettings): string[] {
  return stats.filter((s) => !isConstant(s) && s.nonNull > 1 && s.repeats / s.nonNull >= settings.staleShare).map((s) => s.column);
}

/** Columns null through the warm-up and (almost) complete after it. */
export function warmupColumns(stats: readonly ColumnStats[], rows: number, warmupRows: number): string[] {
  const warm = Math.min(warmupRows, rows);
  const after = rows - warm;
  if (warm === 0 || after === 0) return [];
  return stats
    .filter((s) => 1 - s.warmupNonNull / warm >= WARMUP_NULL_SHARE && 1 - (s.nonNull - s.warmupNonNull) / after <= AFTER_WARMUP_NULL_SHARE)
    .map((s) => s.column);
}

/** The horizon in minutes a label looks ahead, from its name (`target_bqx45_h30` -> 30). */
export function labelHorizon(label: string): number | undefined {
  const m = /_h(\d+)$/.exec(label);
  return m ? Number(m[1]) : undefined;
}

/**
 * The minutes at the end of any window where a label has no value yet, from its name
 * (`target_bqx2880_h30` -> 2,880): each label is a future value of `bqx_{w}` (DATA.md), so the last
 * w minutes of a window are null. 0 for a name without a window.
 */
export function labelTailMinutes(label: string): number {
  const m = /(\d+)_h\d+$/.exec(label);
  return m ? Number(m[1]) : 0;
}

/** Per label: null rows at the end of the window, against the horizon it looks ahead. */
export function labelTails(stats: readonly ColumnStats[], labels: readonly string[], rows: number): LabelTail[] {
  const byColumn = new Map(stats.map((s) => [s.column, s]));
  return labels.map((label) => {
    const s = byColumn.get(label);
    const last = s?.lastNonNullRow ?? null;
    const h = labelHorizon(label) ?? 0;
    return { label, horizonMinutes: h, tailNulls: last === null ? rows : rows - 1 - last, expected: h };
  });
}

/** Columns with inf, NaN or values beyond 10 sd: counted and shown, never removed. */
export function outlierColumns(stats: readonly ColumnStats[]) {
  return stats.filter((s) => s.inf > 0 || s.nan > 0 || s.beyond10sd > 0).map((s) => ({ column: s.column, inf: s.inf, nan: s.nan, beyond10sd: s.beyond10sd }));
}
