// reconcile through the Functions Framework, called as Cloud Scheduler calls it (POST, body {}).

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { startRun } from '../../shared/chain/startRun.js';
import { mergeRun } from '../../shared/chain/mergeRun.js';
import { FEATURES, type Fixture, fixtureHooks, runToMerging } from './fixtures.js';

describe('functions/reconcile (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  const call = () => request(getTestServer('reconcile')).post('/').send({});

  fixtureHooks(sandbox, (opened) => (fx = opened));

  it('leaves a run that is moving alone, and re-sends the extracts of one that stalled', async () => {
    assert.deepEqual((await call().expect(200)).body, { actions: [], retention: [] });
    const { run } = await startRun(fx.deps, { pair: 'eurusd' });
    assert.deepEqual((await call().expect(200)).body, { actions: [{ runId: run.runId, action: 'waiting' }], retention: [] });

    fx.bus.published.length = 0;
    const later = new Date(Date.now() + (fx.deps.config.stallSeconds + 60) * 1000);
    sandbox.stub(fx.deps.clock, 'now').returns(later);
    const { body } = await call().expect(200).expect('content-type', /json/);
    assert.deepEqual(body, { actions: [{ runId: run.runId, action: 'resent-extracts', features: FEATURES.length }], retention: [] });
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length);
    assert.equal((await fx.store.getRun(run.runId))?.reconcileAttempts, 1);
  });

  it('applies retention: the last BQX_KEEP (3) datasets stay, the oldest run goes, older kept ones lose their checkpoints', async () => {
    const runs: string[] = [];
    for (let i = 0; i < 4; i++) {
      const runId = await runToMerging(fx);
      assert.equal(await mergeRun(fx.deps, { runId, pair: 'eurusd' }), 'succeeded');
      runs.push(runId);
    }
    const [r1, r2, r3, r4] = runs as [string, string, string, string];
    const output = fx.deps.output;
    const { body } = await call().expect(200);
    assert.deepEqual(body.actions, []);
    assert.equal(body.retention.length, 1);
    assert.deepEqual({ ...body.retention[0], objects: undefined, bytes: undefined }, { pair: 'eurusd', keep: 3, kept: [r4, r3, r2], removed: [r1], trimmed: [r3, r2], cleared: [], objects: undefined, bytes: undefined });
    assert.ok(body.retention[0].objects > 0 && body.retention[0].bytes > 0);
    assert.deepEqual(await fx.staging.list(`runs/${r1}/`), []);
    assert.deepEqual(await output.list(`training/eurusd/${r1}/`), []);
    for (const kept of [r2, r3]) {
      assert.deepEqual((await fx.staging.list(`runs/${kept}/`)).map((o) => o.name), [`runs/${kept}/manifest.json`], 'a kept dataset keeps its run manifest only');
      assert.equal((await fx.store.getRun(kept))?.collected?.scope, 'checkpoints');
    }
    for (const kept of [r2, r3, r4]) assert.ok((await output.list(`training/eurusd/${kept}/`)).length >= 3, `${kept}'s dataset is there`);
    assert.equal((await fx.staging.list(`runs/${r4}/features/`)).length, 2 * FEATURES.length, 'the newest run keeps its checkpoints (a part and a marker each)');
    assert.equal((await fx.store.getRun(r1))?.collected?.scope, 'all');
    assert.equal(await fx.store.countCheckpoints(r1), 0);
    assert.deepEqual((await call().expect(200)).body.retention, [], 'nothing more to do on the next call');
  });

  it('clears what a failed merge wrote, and keeps that run\'s checkpoints for a rerun', async () => {
    const kept = await runToMerging(fx);
    assert.equal(await mergeRun(fx.deps, { runId: kept, pair: 'eurusd' }), 'succeeded');
    const failed = await runToMerging(fx);
    // The merge wrote its files, then failed (a bucket or quota refusing its last export).
    const merge = sandbox.stub(fx.deps.warehouse, 'merge').callsFake(async (...args) => {
      await merge.wrappedMethod.apply(fx.deps.warehouse, args);
      throw new Error('403 quota exceeded');
    });
    await assert.rejects(mergeRun(fx.deps, { runId: failed, pair: 'eurusd' }), /403 quota exceeded/);
    merge.restore();
    assert.equal((await fx.store.getRun(failed))?.state, 'failed');
    const left = await fx.deps.output.list(`training/eurusd/${failed}/`);
    assert.ok(left.length > 0, 'the failed merge left files');
    const checkpoints = (await fx.staging.list(`runs/${failed}/`)).map((o) => o.name);

    const { body } = await call().expect(200);
    assert.deepEqual(body.retention.map((r: { kept: string[]; removed: string[]; cleared: string[]; objects: number }) => [r.kept, r.removed, r.cleared, r.objects]), [[[kept], [], [failed], left.length]]);
    assert.deepEqual(await fx.deps.output.list(`training/eurusd/${failed}/`), []);
    assert.deepEqual((await fx.staging.list(`runs/${failed}/`)).map((o) => o.name), checkpoints);
    assert.ok((await fx.deps.output.list(`training/eurusd/${kept}/`)).length >= 3, 'the kept dataset is there');
    assert.deepEqual((await call().expect(200)).body.retention, [], 'nothing more to do on the next call');
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
