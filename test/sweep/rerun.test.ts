// The reuse path under crashes (rerunScenario.ts): a second run of a pair whose data did not
// change reuses every checkpoint of the first (startRun records them and claims the merge itself,
// nothing to extract), shares the first version's shard, and retention then removes the first
// version's dataset while the second points at its checkpoint files. Crashed just before and just
// after every side effect of the second run, and played under randomized schedules, it still
// succeeds with the first run's output, byte for byte, one merge, a record per feature whose files
// are all there, and after the next retention the world holds what the fault-free world holds.
// `npm run sweep -- --scenario rerun` plays the same from the command line.

import assert from 'node:assert/strict';
import { RERUN, RERUN_SHAPE } from './rerunScenario.js';
import { faultFree, sweepTests, sweptFixture } from './scenarioTests.js';

const SCHEDULES = 20;

describe('fault sweep: a rerun reusing every checkpoint, crashed', function () {
  this.timeout(600_000);
  const swept = sweptFixture(RERUN_SHAPE, RERUN);

  it('the fault-free rerun extracts nothing, records every checkpoint as the first version\'s, shares its shard; retention keeps the files it points at, nothing else of the first', async () => {
    assert.equal(swept.reference.effects.includes('warehouse.extract'), false, 'the rerun extracted something');
    assert.equal(swept.reference.effects.filter((k) => k === 'checkpoint.record').length, 18);
    const after = swept.reference.after!;
    // The rerun built nothing: it repeats the first version's dataset and counts with it (BQX_KEEP=1
    // keeps that one dataset), so the first, whose folder holds the files, stays whole beside it.
    assert.deepEqual(after.filter((n) => n.startsWith('output/training/eurusd/<first>/')), [
      ...['_manifest.json', 'folds.json', 'profile/columns.json', 'profile/end.f64', 'profile/sample.f64', 'report.html', 'report.json'],
      ...[0, 1, 2, 3].map((g) => `shard-20200101/group-00${g}/part-00000.parquet`),
    ].map((f) => `output/training/eurusd/<first>/${f}`));
    assert.ok(!after.some((n) => n.startsWith('output/training/eurusd/<second>/shard-')), 'the rerun wrote a shard again');
    assert.ok(after.includes('staging/runs/<first>/features/mom_eurusd/part-00000.parquet'), 'the checkpoint files the rerun points at stay');
    await faultFree(swept.base, RERUN, async (world, run) => {
      const first = (await world.store.listRuns('eurusd')).find((r) => r.runId !== run.runId)!;
      const records = await world.store.listCheckpoints(run.runId);
      assert.deepEqual([...new Set(records.map((r) => r.reusedFrom))], [first.runId]);
      assert.deepEqual(RERUN.spec.follows(run, first), []);
      // The scenario's own check, shown failing: a second version that extracted a table is not this rerun.
      assert.deepEqual(RERUN.spec.follows({ ...run, reuse: { ...run.reuse!, extracted: 1, reused: 17 } }, first), ['extracted 1 and reused 17, expected 0 and 18']);
    });
  });

  sweepTests('the rerun', SCHEDULES, swept);
});
