// The sweep's run again with nothing changed (laterVersion.ts): a first version of the pair, then
// the same request. startRun finds every checkpoint reusable by content, records all 18 as reused
// (pointing at the first version's files), shares the first version's shard by reference and claims
// the merge itself: nothing is extracted. The retention after it (BQX_KEEP=1) removes the first
// version's dataset and keeps the checkpoint files the second points at. On memory stores every
// world starts from a copy of the first version; on the emulators each case runs it.

import { laterVersion, type LaterScenario } from './laterVersion.js';
import { COMPACT, type SweepShape } from './world.js';

/** COMPACT's 18 tables, keeping one dataset: its own object, so its base (bases.ts) is its own too. */
export const RERUN_SHAPE: SweepShape = { ...COMPACT, env: { ...COMPACT.env, BQX_KEEP: '1' } };

export const RERUN: LaterScenario = laterVersion({
  name: 'rerun',
  first: (pair) => ({ pair }),
  second: (pair) => ({ pair }),
  follows(run, first) {
    const problems: string[] = [];
    if (run.reuse?.extracted !== 0 || run.reuse.reused !== run.expected) problems.push(`extracted ${run.reuse?.extracted} and reused ${run.reuse?.reused}, expected 0 and ${run.expected}`);
    if (run.sharing?.from !== first.runId || run.sharing.rebuilt.length > 0) problems.push(`run ${run.runId} shares ${JSON.stringify(run.sharing?.shared)} of ${run.sharing?.from}, rebuilds ${JSON.stringify(run.sharing?.rebuilt)}: expected every shard of the first version ${first.runId}`);
    return problems;
  },
});
