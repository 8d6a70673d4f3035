// Time as the FX market counts it: every week's closure, Friday 22:00 to Sunday 22:00 UTC (the
// demo's and the real key's weekend gaps; shared/profile/gaps.ts tells them from outages), left
// out. A plan of short spans placed on this clock holds rows in every span; placed on the calendar,
// a span of a few hours can fall on a Saturday and hold none.

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const WEEK = 7 * DAY;
/** A Friday 22:00 UTC (1970-01-02): every closure starts a whole number of weeks from it. */
const CLOSES = Date.UTC(1970, 0, 2, 22);
const CLOSED = 2 * DAY;
const OPEN = WEEK - CLOSED;

/** Open milliseconds from CLOSES to `t` (a time in the closure counts as its start). */
export function openSince(t: number): number {
  const weeks = Math.floor((t - CLOSES) / WEEK);
  const into = t - CLOSES - weeks * WEEK;
  return weeks * OPEN + Math.max(0, into - CLOSED);
}

/** The time `open` open milliseconds from CLOSES (openSince's inverse): never in a closure but at its end. */
export function openTime(open: number): number {
  const weeks = Math.floor(open / OPEN);
  return CLOSES + weeks * WEEK + CLOSED + (open - weeks * OPEN);
}
