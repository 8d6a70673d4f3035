// The sweep's refresh (laterVersion.ts): a first version of the pair over its first day and two
// hours, then `{"refresh": true}`. The base's tables hold 1,700 minutes, so the rows after the
// first version's end stand for the minutes appended since. On day shards with BQX_KEEP=1 the
// refresh shares the first day's shard by reference, grows the partial second day by a part,
// extracts only the new minutes, and the retention after it trims the first version down to what
// the refresh points at.

import type { Scenario } from './sweep.js';
import { laterVersion, refreshOfFirst } from './laterVersion.js';
import { COMPACT, type SweepShape } from './world.js';

/** COMPACT's 18 tables over 1,700 minutes, on day shards, keeping one dataset. */
export const REFRESH_SHAPE: SweepShape = { ...COMPACT, rows: 1_700, env: { ...COMPACT.env, BQX_SHARD: 'day', BQX_KEEP: '1' } };

/** Where the first version ends: its second day's shard holds two hours, the rest is new to the refresh. */
export const FIRST_END = '2020-01-07T02:00:00Z';

export const REFRESH: Scenario = laterVersion({
  name: 'refresh',
  first: (pair) => ({ pair, end: FIRST_END }),
  second: (pair) => ({ pair, refresh: true }),
  follows: refreshOfFirst,
});
