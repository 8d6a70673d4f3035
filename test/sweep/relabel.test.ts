// A refresh over a filled-in label tail under the fault sweep (relabelScenario.ts): a first version
// of eurusd, the label rows of its last hours written again, then `{"refresh": true}`, crashed just
// before and just after every one of its side effects (its two merges among them), and played under
// randomized schedules. Each recovers to the fault-free refresh's output, byte for byte, and once
// the next retention has run its world holds what the fault-free world holds then. `npm run sweep
// -- --scenario relabel` plays the same from the command line.

import assert from 'node:assert/strict';
import { RELABEL, RELABEL_SHAPE } from './relabelScenario.js';
import { faultFree, sweepTests, sweptFixture } from './scenarioTests.js';

const SCHEDULES = 50;

describe('fault sweep: a refresh whose earlier label rows changed, crashed', function () {
  this.timeout(600_000);
  const swept = sweptFixture(RELABEL_SHAPE, RELABEL);

  it('the fault-free refresh shares the first days, builds the label group alone of the whole days whose labels changed, and the last day whole', async () => {
    assert.equal(swept.reference.effects.filter((k) => k === 'warehouse.merge').length, 2, 'two merges: the relabelled days, then the rest');
    await faultFree(swept.base, RELABEL, async (_world, run) => {
      assert.equal(run.state, 'succeeded', run.error);
      assert.deepEqual({ shared: run.sharing?.shared, rebuilt: run.sharing?.rebuilt, relabelled: run.sharing?.relabelled }, { shared: ['20200106'], rebuilt: ['20200107', '20200108', '20200109'], relabelled: ['20200107', '20200108'] });
    });
  });

  sweepTests('the refresh', SCHEDULES, swept);
});
