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
