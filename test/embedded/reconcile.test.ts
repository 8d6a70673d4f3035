// The reconciler: a run that stopped moving gets what is missing re-sent, within bounded
// attempts; then it fails with its reason.

import assert from 'node:assert/strict';

import sinon from 'sinon';
import { reconcile } from '../../shared/chain/reconcile.js';
import { startRun } from '../../shared/chain/startRun.js';
import { InputError } from '../../shared/naming.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, testConfig } from '../helpers/embedded.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

describe('reconcile', function () {
  this.timeout(60_000);
  const sandbox = sinon.createSandbox();
  let e: Embedded;
  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('rec'), { BQX_MAX_ATTEMPTS: '2', BQX_STALL_SECONDS: '600' }));
    await buildMiniWarehouse(e.warehouse);
  });
  afterEach(async () => {
    sandbox.restore();
    await e.close();
  });

  it('leaves a run that moved recently alone, re-sends the missing extracts of a stalled one, and completes it', async () => {
    let failing = true;
    const extract = e.warehouse.extract.bind(e.warehouse);
    sandbox.stub(e.warehouse, 'extract').callsFake(async (job) => {
      if (job.feature === 'tri_agg_eur_usd_gbp' && failing) throw new InputError('source unavailable');
      return extract(job);
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    await e.bus.idle();
    assert.deepEqual(await reconcile(e.deps), [{ runId: started.runId, action: 'waiting' }]);
    failing = false;
    // Ten minutes later, the run has not moved: the reconciler re-sends the one missing extract.
    sandbox.stub(e.deps, 'clock').value({ now: () => new Date(Date.now() + 601_000) });
    const actions = await reconcile(e.deps);
    assert.deepEqual(actions, [{ runId: started.runId, action: 'resent-extracts', features: 1 }]);
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    assert.equal(run.reconcileAttempts, 1);
  });

  it('fails a run that stays stuck after the allowed attempts, naming what is missing', async () => {
    const extract = e.warehouse.extract.bind(e.warehouse);
    sandbox.stub(e.warehouse, 'extract').callsFake(async (job) => {
      if (job.feature === 'mkt_regime') throw new InputError('source unavailable');
      return extract(job);
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    await e.bus.idle();
    for (const expected of ['resent-extracts', 'resent-extracts', 'failed']) {
      const [action] = await reconcile(e.deps, { force: true });
      assert.equal(action!.action, expected);
      await e.bus.idle();
    }
    const run = (await e.store.getRun(started.runId))!;
    assert.equal(run.state, 'failed');
    assert.equal(run.error, 'stalled: 1 feature(s) never landed after 2 attempts: mkt_regime');
    const event = JSON.parse(e.bus.published.get(e.deps.config.topics.runEvents)!.at(-1)!.data);
    assert.equal(event.status, 'failed');
    assert.equal(event.landed, 4);
    assert.equal(await e.store.activeRun('eurusd'), undefined, 'the pair is free for a new run');
  });
});
