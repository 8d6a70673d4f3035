// reconcile through the Functions Framework, called as Cloud Scheduler calls it (POST, body {}).

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { startRun } from '../../shared/chain/startRun.js';
import { FEATURES, type Fixture, fixtureHooks } from './fixtures.js';

describe('functions/reconcile (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  const call = () => request(getTestServer('reconcile')).post('/').send({});

  fixtureHooks(sandbox, (opened) => (fx = opened));

  it('leaves a run that is moving alone, and re-sends the extracts of one that stalled', async () => {
    assert.deepEqual((await call().expect(200)).body, { actions: [] });
    const { run } = await startRun(fx.deps, { pair: 'eurusd' });
    assert.deepEqual((await call().expect(200)).body, { actions: [{ runId: run.runId, action: 'waiting' }] });

    fx.bus.published.length = 0;
    const later = new Date(Date.now() + (fx.deps.config.stallSeconds + 60) * 1000);
    sandbox.stub(fx.deps.clock, 'now').returns(later);
    const { body } = await call().expect(200).expect('content-type', /json/);
    assert.deepEqual(body, { actions: [{ runId: run.runId, action: 'resent-extracts', features: FEATURES.length }] });
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length);
    assert.equal((await fx.store.getRun(run.runId))?.reconcileAttempts, 1);
  });

  it('answers 405 to anything but POST', async () => {
    const response = await request(getTestServer('reconcile')).get('/').expect(405);
    assert.equal(response.headers.allow, 'POST');
  });

  it('answers 500 {error} when the run store fails (the next scheduled call is the retry)', async () => {
    sandbox.stub(fx.store, 'listActiveRuns').rejects(new Error('UNAVAILABLE'));
    assert.deepEqual((await call().expect(500)).body, { error: 'UNAVAILABLE' });
  });
});
