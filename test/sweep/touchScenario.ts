// The sweep's run after a touch (laterVersion.ts): a first version of the pair, then two of its
// tables rewritten in place (same rows, new values, new data versions: `bqx demo --touch`), then a
// plain run. It reuses the other 16 checkpoints, extracts the two touched tables ("data changed"),
// rebuilds only the column groups that hold them (their unchanged features' columns copied from
// the first version's files), shares the other groups' files, carries the profile of the columns
// that did not change, and the retention after it (BQX_KEEP=1) trims the first version down to
// what the second points at. The touch is made once, on the base's warehouse, after the first
// world's first version: every later world starts from a copy of that version (memory stores only).

import { demoDatasets } from '../../shared/cli/demo.js';
import { touchTables } from '../../shared/demo/change.js';
import type { Scenario } from './sweep.js';
import { laterVersion } from './laterVersion.js';
import { COMPACT, type SweepShape } from './world.js';

/** COMPACT's 18 tables, keeping one dataset. */
export const TOUCH_SHAPE: SweepShape = { ...COMPACT, env: { ...COMPACT.env, BQX_KEEP: '1' } };

/** The tables touched: in two of the four column groups (0 and 3), each beside features that did not change. */
export const TOUCHED = ['mom_eurusd', 'var_der_idx_usd'];

export const TOUCH: Scenario = laterVersion({
  name: 'touch',
  first: (pair) => ({ pair }),
  async change(base, world) {
    await touchTables(base.shared.duckdb, demoDatasets(world.config), TOUCHED);
    base.shared.tablesChanged();
  },
  second: (pair) => ({ pair }),
  follows(run, first) {
    const problems: string[] = [];
    if (run.sharing?.from !== first.runId) problems.push(`run ${run.runId} shares nothing of the first version ${first.runId} (from ${run.sharing?.from})`);
    if (run.reuse?.extracted !== TOUCHED.length || run.reuse.reused !== run.expected - TOUCHED.length) problems.push(`extracted ${run.reuse?.extracted} and reused ${run.reuse?.reused}, expected ${TOUCHED.length} and ${run.expected - TOUCHED.length}`);
    return problems;
  },
});
