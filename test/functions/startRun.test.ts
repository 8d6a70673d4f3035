// startRun through the Functions Framework, fed as the run-requests push subscription feeds it.

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { failRun } from '../../shared/chain/runs.js';
import { paths, requestRunId } from '../../shared/naming.js';
import { ceHeaders, errors, FEATURES, push, pushBody, pushPath, storageData, storageSource, FINALIZED, STAGING_BUCKET, type Fixture, fixtureHooks } from './fixtures.js';

const TOPIC = 'bqx-run-requests';

describe('functions/startRun (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;

  fixtureHooks(sandbox, (opened) => (fx = opened));

  it('starts a run from a bare pair: 204, the run claimed, one extract request per feature', async () => {
    await push('startRun', TOPIC, 'eurusd', { attributes: { pair: 'eurusd' } }).expect(204);
    const run = await fx.store.activeRun('eurusd');
    assert.ok(run, 'the pair has an active run');
    assert.equal(run.state, 'extracting');
    assert.equal(run.expected, FEATURES.length);
    const extracts = fx.bus.on(fx.deps.config.topics.extractRequests);
    assert.deepEqual(extracts.map((m) => (m.data as { feature: string }).feature).sort(), FEATURES);
    assert.ok(extracts.every((m) => m.attributes.runId === run.runId && m.attributes.pair === 'eurusd'));
  });

  it('takes a JSON request with a window, delivered as a binary CloudEvent (as Eventarc sends it)', async () => {
    await request(getTestServer('startRun'))
      .post('/')
      .set(ceHeaders('google.cloud.pubsub.topic.v1.messagePublished', `//pubsub.googleapis.com/projects/demo-bqx/topics/${TOPIC}`))
      .send(pushBody({ pair: 'EURUSD', start: '2021-03-01T00:10:00Z', end: '2021-03-01T00:40:00Z' }))
      .expect(204);
    const run = await fx.store.activeRun('eurusd');
    assert.deepEqual(run?.window, { start: '2021-03-01T00:10:00.000Z', end: '2021-03-01T00:40:00.000Z' });
    assert.equal(run?.labelRows, 30);
  });

  it('leaves a pair with an active run alone: the same run, no second fan-out', async () => {
    await push('startRun', TOPIC, 'eurusd').expect(204);
    await push('startRun', TOPIC, 'eurusd').expect(204);
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length);
    assert.ok(fx.logs.some((l) => /already has an active run/.test(l.message)));
  });

  it('starts nothing for a request redelivered after the run it started has ended (same message id); a new request starts a run', async () => {
    const body = pushBody('eurusd');
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    const first = (await fx.store.activeRun('eurusd'))!;
    await failRun(fx.deps, first.runId, 'ended for the test');
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    assert.equal((await fx.store.lastRun('eurusd'))?.runId, first.runId);
    assert.equal(await fx.store.activeRun('eurusd'), undefined);
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length, 'one fan-out only');
    await push('startRun', TOPIC, 'eurusd').expect(204);
    const second = await fx.store.activeRun('eurusd');
    assert.ok(second && second.runId !== first.runId);
  });

  /** The next createRun throws, as if the instance died after writing the run's manifest. */
  function dieOnceAfterTheManifest(): void {
    const createRun = fx.store.createRun.bind(fx.store);
    let died = false;
    sandbox.replace(fx.store, 'createRun', async (run) => {
      if (!died) {
        died = true;
        throw new Error('instance died after writing the manifest');
      }
      return createRun(run);
    });
    sandbox.stub(console, 'error');
  }

  it('starts a run for a message whose id an earlier message had, published at another time (the emulator numbers messages from 1 each start)', async () => {
    const body = pushBody('eurusd');
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    const first = (await fx.store.activeRun('eurusd'))!;
    await failRun(fx.deps, first.runId, 'ended for the test');
    const later = pushBody('eurusd');
    later.message.messageId = body.message.messageId;
    later.message.publishTime = new Date(Date.parse(body.message.publishTime) + 60_000).toISOString();
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(later).expect(204);
    const second = (await fx.store.activeRun('eurusd'))!;
    assert.ok(second, 'a new run, not the first one returned');
    assert.equal(second.runId, requestRunId('eurusd', later.message.messageId, new Date(later.message.publishTime)));
    assert.notEqual(second.runId, first.runId);
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, 2 * FEATURES.length);
  });

  it('resumes the same run when the request is delivered again after startRun died between writing the manifest and creating the run', async () => {
    const body = pushBody('eurusd');
    dieOnceAfterTheManifest();
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(500);
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    const run = (await fx.store.activeRun('eurusd'))!;
    // The id is the request's (its message id and publish time): the first delivery's manifest is this run's.
    assert.equal(run.runId, requestRunId('eurusd', body.message.messageId, new Date(body.message.publishTime)));
    assert.equal(run.requestId, body.message.messageId);
    assert.deepEqual((await fx.staging.list('runs/')).map((o) => o.name), [paths.manifest(run.runId)]);
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length);
  });

  it('keeps the run manifest when two copies of one request race: one run, its manifest in place, one fan-out', async () => {
    const body = pushBody('eurusd');
    await Promise.all([1, 2].map(() => request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204)));
    const run = (await fx.store.activeRun('eurusd'))!;
    assert.equal((await fx.store.listRuns('eurusd')).length, 1);
    assert.notEqual(await fx.staging.size(paths.manifest(run.runId)), undefined, 'the manifest is still there');
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, FEATURES.length);
  });

  it('names the run after the publish time Pub/Sub gives (to the nanosecond), or the CloudEvent time without one', async () => {
    const body = pushBody('eurusd');
    body.message.publishTime = '2026-01-02T03:04:05.123456789Z';
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    const run = (await fx.store.activeRun('eurusd'))!;
    assert.equal(run.runId, requestRunId('eurusd', body.message.messageId, new Date('2026-01-02T03:04:05.123Z')));
    await failRun(fx.deps, run.runId, 'ended for the test');
    const bare = pushBody('eurusd');
    const { publishTime: _dropped, ...message } = bare.message;
    await request(getTestServer('startRun'))
      .post('/')
      .set({ ...ceHeaders('google.cloud.pubsub.topic.v1.messagePublished', `//pubsub.googleapis.com/projects/demo-bqx/topics/${TOPIC}`), 'ce-time': '2026-02-03T04:05:06Z' })
      .send({ ...bare, message })
      .expect(204);
    assert.equal((await fx.store.activeRun('eurusd'))?.runId, requestRunId('eurusd', message.messageId, new Date('2026-02-03T04:05:06Z')));
  });

  it('removes the manifest a died delivery left when, by its redelivery, another request\'s run holds the pair', async () => {
    const body = pushBody('eurusd');
    dieOnceAfterTheManifest();
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(500);
    const orphan = paths.manifest(requestRunId('eurusd', body.message.messageId, new Date(body.message.publishTime)));
    assert.notEqual(await fx.staging.size(orphan), undefined);
    await push('startRun', TOPIC, 'eurusd').expect(204);
    const other = (await fx.store.activeRun('eurusd'))!;
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    assert.equal((await fx.store.activeRun('eurusd'))?.runId, other.runId);
    assert.deepEqual((await fx.staging.list('runs/')).map((o) => o.name), [paths.manifest(other.runId)]);
  });

  const rejected: [string, () => request.Test, RegExp][] = [
    ['data that is not base64', () => push('startRun', TOPIC, '', { rawBase64: 'ZXVy%%%' }), /not valid base64/],
    ['data that is not UTF-8', () => push('startRun', TOPIC, '', { rawBase64: '/w==' }), /not UTF-8 text/],
    ['JSON that does not parse', () => push('startRun', TOPIC, '{"pair": eurusd'), /run request is not valid JSON/],
    ['a path for a pair', () => push('startRun', TOPIC, '../x'), /pair "\.\.\/x" must be six lower-case letters/],
    ['a pair in the wrong order', () => push('startRun', TOPIC, 'usdeur'), /unknown pair "usdeur" \(did you mean eurusd\?\)/],
    ['SQL in a field', () => push('startRun', TOPIC, { pair: 'eurusd', sql: 'DROP TABLE x' }), /unknown field\(s\): sql/],
    ['a window that ends before it starts', () => push('startRun', TOPIC, { pair: 'eurusd', start: '2021-03-02', end: '2021-03-01' }), /must be before end/],
    ['a start after the label rows end', () => push('startRun', TOPIC, { pair: 'eurusd', start: '2099-01-01' }), /start 2099-01-01T00:00:00\.000Z is after the label table's last minute \(bqx_ml_v3_analytics_v2\.targets_eurusd holds \S+Z to \S+Z\)/],
    ['an end before the label rows begin', () => push('startRun', TOPIC, { pair: 'eurusd', end: '2000-01-01' }), /end 2000-01-01T00:00:00\.000Z is at or before the label table's first minute \(bqx_ml_v3_analytics_v2\.targets_eurusd holds \S+Z to \S+Z\)/],
    ['a pair without a label table', () => push('startRun', TOPIC, 'gbpjpy'), /label table bqx_ml_v3_analytics_v2\.targets_gbpjpy not found/],
    ['a storage event', () => request(getTestServer('startRun')).post('/').set(ceHeaders(FINALIZED, storageSource(STAGING_BUCKET))).send(storageData({ bucket: STAGING_BUCKET, name: 'x', size: 1 })), /event type "google\.cloud\.storage\.object\.v1\.finalized" is not google\.cloud\.pubsub\.topic\.v1\.messagePublished/],
    ['a body that is no event at all', () => request(getTestServer('startRun')).post('/').send({ hello: 'world' }), /event type undefined is not/],
  ];
  for (const [what, send, problem] of rejected) {
    it(`acknowledges ${what} (204) with an ERROR naming the problem, and starts nothing`, async () => {
      await send().expect(204);
      const logged = errors(fx.logs, problem);
      assert.equal(logged.length, 1, `one ERROR matching ${problem}; logs: ${JSON.stringify(fx.logs)}`);
      assert.match(logged[0]!.message, /^start: event .* can never succeed: /);
      assert.equal(logged[0]!.step, 'start');
      assert.equal(await fx.store.lastRun('eurusd'), undefined);
      assert.equal(fx.bus.published.length, 0);
    });
  }

  it('keeps why it refused a request by the request\'s message id, for the CLI that published it', async () => {
    const body = pushBody('gbpjpy');
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(body).expect(204);
    const refusal = await fx.store.getRefusal(body.message.messageId);
    assert.equal(refusal?.pair, 'gbpjpy');
    assert.equal(refusal?.reason, 'label table bqx_ml_v3_analytics_v2.targets_gbpjpy not found');
    // A request that starts a run leaves none.
    const started = pushBody('eurusd');
    await request(getTestServer('startRun')).post(pushPath(TOPIC)).send(started).expect(204);
    assert.ok(await fx.store.activeRun('eurusd'));
    assert.equal(await fx.store.getRefusal(started.message.messageId), undefined);
  });

  it('answers 500 when the run store fails, so Pub/Sub delivers the request again', async () => {
    sandbox.stub(fx.store, 'activeRun').rejects(new Error('firestore unavailable'));
    const crash = sandbox.stub(console, 'error');
    await push('startRun', TOPIC, 'eurusd').expect(500);
    assert.ok(crash.calledWithMatch(sinon.match(/firestore unavailable/)), 'the framework logs the error');
    assert.equal(errors(fx.logs, /can never succeed/).length, 0);
    sandbox.restore();
    await push('startRun', TOPIC, 'eurusd').expect(204);
    assert.equal((await fx.store.activeRun('eurusd'))?.state, 'extracting');
  });
});
