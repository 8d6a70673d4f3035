// A run after a touch under the fault sweep (touchScenario.ts): a first version of eurusd, two of
// its tables rewritten in place, then a run that reuses the other 16 checkpoints and rebuilds only
// the two column groups that hold the touched tables, crashed just before and just after every one
// of its side effects, and played under randomized schedules. Each recovers to the fault-free
// run's output, byte for byte, and once the next retention has run its world holds what the
// fault-free world holds then. `npm run sweep -- --scenario touch` plays the same from the command line.

import assert from 'node:assert/strict';
import { baseline } from './sweep.js';
import { faultFree, sweepTests, sweptFixture } from './scenarioTests.js';
import { TOUCH, TOUCH_SHAPE, TOUCHED } from './touchScenario.js';
import { onStores } from './world.js';

const SCHEDULES = 100;

describe('fault sweep: a run after a touch, crashed', function () {
  this.timeout(600_000);
  const swept = sweptFixture(TOUCH_SHAPE, TOUCH);

  it('the fault-free run extracts the touched tables, reuses the rest, rebuilds only their column groups; retention keeps what it points at', async () => {
    const count = (kind: string) => swept.reference.effects.filter((k) => k === kind).length;
    assert.equal(count('warehouse.extract'), TOUCHED.length);
    assert.equal(count('checkpoint.record'), 18);
    const after = swept.reference.after!;
    // Of the first version's output, the groups the second shares (1 and 2); of its checkpoints, the 16 reused.
    const firstOutput = after.filter((n) => n.startsWith('output/training/eurusd/<first>/'));
    assert.deepEqual(firstOutput.map((n) => n.replace(/^.*\/(group-\d+)\/.*$/, '$1')), ['group-001', 'group-002'], firstOutput.join(', '));
    const firstParts = after.filter((n) => n.startsWith('staging/runs/<first>/features/') && n.endsWith('.parquet'));
    assert.equal(firstParts.length, 16);
    assert.ok(!firstParts.some((n) => TOUCHED.some((t) => n.includes(`/${t}/`))), 'a touched table\'s old checkpoint was kept');

    await faultFree(swept.base, TOUCH, async (_world, run) => {
      assert.deepEqual(run.reuse?.reasons, { 'data changed': 2 });
      assert.deepEqual(run.sharing?.groups, [0, 3]);
      assert.deepEqual([...(run.sharing?.changed ?? [])].sort(), [...TOUCHED].sort());
    });
  });

  sweepTests('the run', SCHEDULES, swept);

  it('says it runs on memory stores only (its warehouse changed after the first version)', async () => {
    await assert.rejects(baseline(onStores(swept.base, 'files'), TOUCH), /the touch scenario changes its warehouse after the first version: it runs on memory stores only/);
  });
});
