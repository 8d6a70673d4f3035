// Gaps in the key: a weekend closure is expected (FX trades from Sunday evening to Friday evening,
// UTC); any other missing minute inside the window is an outage someone should know about.

import type { KeyGap } from './types.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * True when every missing minute [from, to) lies within one weekend: from Friday 20:00 UTC to
 * Monday 00:00 UTC (closures move between 21:00 and 22:00 with daylight saving time).
 */
export function isWeekendClosure(gap: KeyGap): boolean {
  const from = Date.parse(gap.from);
  const to = Date.parse(gap.to);
  const day = new Date(from).getUTCDay();
  // The Friday 00:00 of the gap's week (for a gap starting Friday, Saturday or Sunday).
  const back = day === 5 ? 0 : day === 6 ? 1 : day === 0 ? 2 : -1;
  if (back < 0) return false;
  const friday = Math.floor(from / DAY) * DAY - back * DAY;
  return from >= friday + 20 * 60 * MINUTE && to <= friday + 3 * DAY;
}

export function classifyGaps(gaps: readonly KeyGap[]): { weekend: number; unexpected: KeyGap[] } {
  const unexpected = gaps.filter((g) => !isWeekendClosure(g));
  return {
    weekend: gaps.length - unexpected.length,
    unexpected: [...unexpected].sort((a, b) => b.minutes - a.minutes || (a.from < b.from ? -1 : 1)),
  };
}

/**
 * Every place where consecutive keys (epoch microseconds, ascending) are more than a minute apart:
 * [first missing minute, next key), and the whole minutes missing between them.
 */
export function keyGaps(keys: Float64Array): KeyGap[] {
  const gaps: KeyGap[] = [];
  for (let i = 1; i < keys.length; i++) {
    const [prev, key] = [keys[i - 1]!, keys[i]!];
    if (key - prev <= MINUTE_MICROS) continue;
    gaps.push({ from: isoSeconds(prev + MINUTE_MICROS), to: isoSeconds(key), minutes: Math.round((key - prev) / MINUTE_MICROS) - 1 });
  }
  return gaps;
}

/** For each cut (an ISO time), the number of keys (epoch microseconds) before it. */
export function rowsBefore(keys: Float64Array, cuts: readonly string[]): number[] {
  return cuts.map((cut) => {
    const at = Date.parse(cut) * 1000;
    let n = 0;
    for (const key of keys) if (key < at) n++;
    return n;
  });
}

const MINUTE_MICROS = MINUTE * 1000;

/** A time to the second, as the warehouses' SQL formats it ('%Y-%m-%dT%H:%M:%SZ'). */
const isoSeconds = (micros: number): string => new Date(Math.floor(micros / 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
