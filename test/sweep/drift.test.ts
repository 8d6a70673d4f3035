// A refresh after schema drift under the fault sweep (driftScenario.ts): a first version of
// eurusd, a table added that the table rules take, then `{"refresh": true}`, crashed just before
// and just after every one of its side effects, and played under randomized schedules. Each
// recovers to the fault-free refresh's output, byte for byte, and once the next retention has run
// its world holds what the fault-free world holds then. `npm run sweep -- --scenario drift` plays
// the same from the command line.

import assert from 'node:assert/strict';
import { ADDED, DRIFT, DRIFT_SHAPE } from './driftScenario.js';
import { faultFree, sweepTests, sweptFixture } from './scenarioTests.js';

const SCHEDULES = 100;

describe('fault sweep: a refresh after a table was added, crashed', function () {
  this.timeout(600_000);
  const swept = sweptFixture(DRIFT_SHAPE, DRIFT);

  it('the fault-free refresh reports the table added, extracts it whole and the others\' new minutes, and rebuilds every shard', async () => {
    assert.equal(swept.reference.effects.filter((k) => k === 'warehouse.extract').length, 19);
    await faultFree(swept.base, DRIFT, async (_world, run) => {
      assert.equal(run.state, 'succeeded', run.error);
      assert.deepEqual(run.refresh?.drift?.tablesAdded, [ADDED]);
      assert.deepEqual(run.reuse?.reasons, { 'new minutes only': 18, 'new table': 1 });
      // The added table's group needs every row: the first day's shard is rebuilt, not shared.
      assert.equal(run.refresh?.sharedShards, 0);
    });
    assert.ok(!swept.reference.after!.some((n) => n.startsWith('output/training/eurusd/<first>/')), 'a file of the first version\'s output was kept, though nothing shares it');
  });

  sweepTests('the refresh', SCHEDULES, swept);
});
