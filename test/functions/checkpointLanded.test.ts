// checkpointLanded through the Functions Framework, fed Cloud Storage finalized events as Eventarc
// delivers them (binary ce-* headers, or structured JSON): markers and hand uploads are counted
// once each, the last landing asks for exactly one merge, and every other object is ignored.

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { setDeps } from '../../functions/deps.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import { startRun } from '../../shared/chain/startRun.js';
import { HAND_UPLOAD_NAME, paths } from '../../shared/naming.js';
import { ceHeaders, errors, FEATURES, FINALIZED, finalized, openFixture, STAGING_BUCKET, storageData, storageSource, type Fixture } from './fixtures.js';

describe('functions/checkpointLanded (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  let runId: string;
  const landed = (name: string) => finalized({ bucket: STAGING_BUCKET, name, size: 100 });

  beforeEach(async () => {
    fx = await openFixture();
    setDeps(fx.deps);
    ({ run: { runId } } = await startRun(fx.deps, { pair: 'eurusd' }));
    for (const feature of FEATURES) await extractFeature(fx.deps, { runId, pair: 'eurusd', feature });
  });

  afterEach(async () => {
    sandbox.restore();
    setDeps(undefined);
    await fx.close();
  });

  it('records each checkpoint once, however often it lands, and asks for exactly one merge', async () => {
    const [first, ...rest] = FEATURES.map((f) => paths.marker(runId, f));
    // One as a structured CloudEvent, the rest in binary mode.
    await request(getTestServer('checkpointLanded'))
      .post('/')
      .set('content-type', 'application/cloudevents+json')
      .send(JSON.stringify({ specversion: '1.0', id: 'evt-1', type: FINALIZED, source: storageSource(STAGING_BUCKET), data: storageData({ bucket: STAGING_BUCKET, name: first!, size: 100 }) }))
      .expect(204);
    for (const name of rest) await landed(name).expect(204);
    assert.equal(await fx.store.countCheckpoints(runId), FEATURES.length);
    assert.equal((await fx.store.getRun(runId))?.state, 'merging');

    await Promise.all([first!, ...rest].map((name) => landed(name).expect(204)));
    assert.equal(await fx.store.countCheckpoints(runId), FEATURES.length);
    const merges = fx.bus.on(fx.deps.config.topics.mergeRequests);
    assert.deepEqual(merges.map((m) => m.data), [{ runId, pair: 'eurusd' }]);
    const records = await fx.store.listCheckpoints(runId);
    assert.deepEqual(records.map((r) => r.rows), FEATURES.map(() => 60));
    assert.deepEqual(records.find((r) => r.feature === 'agg_eurusd')?.nullCounts, { agg_a: 0, agg_b: 0 });
  });

  it('counts a checkpoint uploaded by hand as checkpoint.parquet, without a marker', async () => {
    const dir = paths.featureDir(runId, 'mkt_regime');
    const marker = JSON.parse(Buffer.from(await fx.staging.read(paths.marker(runId, 'mkt_regime'))).toString('utf8'));
    const bytes = await fx.staging.read(marker.files[0]);
    await fx.staging.deletePrefix(dir);
    await fx.staging.write(`${dir}${HAND_UPLOAD_NAME}`, bytes);
    // A generation past 2^53, as int64 fields may be: kept as the decimal string Storage sends.
    await finalized({ bucket: STAGING_BUCKET, name: `${dir}${HAND_UPLOAD_NAME}`, size: bytes.byteLength }, '1795498944420000001').expect(204);
    const [record] = await fx.store.listCheckpoints(runId);
    assert.deepEqual([record?.feature, record?.rows, record?.files], ['mkt_regime', 60, [`${dir}${HAND_UPLOAD_NAME}`]]);
  });

  it('ignores objects of another bucket, other objects and hostile names (204), saying why', async () => {
    await finalized({ bucket: 'someone-elses-bucket', name: paths.marker(runId, 'agg_eurusd'), size: 100 }).expect(204);
    assert.ok(fx.logs.some((l) => l.severity === 'INFO' && /is in bucket someone-elses-bucket, not the staging bucket: ignored/.test(l.message)));
    for (const name of ['../x', 'runs/../../etc/passwd', `runs/${runId}/manifest.json`, `runs/${runId}/features/agg_eurusd/notes.txt`, `runs/${runId}/features/agg_eurusd;drop/_SUCCESS.json`]) {
      await landed(name).expect(204);
    }
    assert.equal(fx.logs.filter((l) => /does not complete a checkpoint: ignored/.test(l.message)).length, 5);
    assert.equal(await fx.store.countCheckpoints(runId), 0);
    assert.equal(errors(fx.logs, /./).length, 0);
  });

  it('ignores a marker of no run, or of a run that is no longer extracting, with an INFO saying so', async () => {
    await landed(paths.marker('eurusd-20990101t000000-zzzzzz', 'agg_eurusd')).expect(204);
    assert.ok(fx.logs.some((l) => l.severity === 'INFO' && /belongs to no run that is extracting \(no such run\): ignored/.test(l.message)));
    await fx.store.updateRun(runId, (r) => ({ ...r, state: 'failed' }));
    await landed(paths.marker(runId, 'agg_eurusd')).expect(204);
    assert.ok(fx.logs.some((l) => /belongs to no run that is extracting \(run is failed\): ignored/.test(l.message)));
  });

  it('fails the run on a marker that is not JSON: 204 with an ERROR naming the checkpoint', async () => {
    const name = paths.marker(runId, 'agg_eurusd');
    await fx.staging.write(name, 'not json {');
    await landed(name).expect(204);
    assert.equal(errors(fx.logs, /^checkpoint of agg_eurusd is invalid: marker .* is not valid JSON/).length, 1);
    assert.equal(errors(fx.logs, /^run failed: checkpoint of agg_eurusd is invalid/).length, 1);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'failed');
    assert.match(run?.error ?? '', /agg_eurusd/);
  });

  const malformed: [string, () => request.Test, RegExp][] = [
    ['a size that is not a number', () => request(getTestServer('checkpointLanded')).post('/').set(ceHeaders(FINALIZED, storageSource(STAGING_BUCKET))).send({ ...storageData({ bucket: STAGING_BUCKET, name: 'x', size: 1 }), size: 'abc' }), /object size "abc" is not a whole number/],
    ['no object name', () => request(getTestServer('checkpointLanded')).post('/').set(ceHeaders(FINALIZED, storageSource(STAGING_BUCKET))).send({ bucket: STAGING_BUCKET, size: '1' }), /object name undefined is not an object name/],
    ['data that is not JSON', () => request(getTestServer('checkpointLanded')).post('/').set(ceHeaders(FINALIZED, storageSource(STAGING_BUCKET))).set('content-type', 'application/octet-stream').send(Buffer.from('bucket=x')), /storage event data is not valid JSON/],
    ['a Pub/Sub message', () => request(getTestServer('checkpointLanded')).post('/projects/demo-bqx/topics/bqx-run-requests').send({ message: { data: 'ZXVydXNk', messageId: '1' }, subscription: 's' }), /is not google\.cloud\.storage\.object\.v1\.finalized/],
  ];
  for (const [what, send, problem] of malformed) {
    it(`acknowledges an event with ${what} (204) with an ERROR naming the problem`, async () => {
      await send().expect(204);
      assert.equal(errors(fx.logs, problem).length, 1, JSON.stringify(fx.logs));
    });
  }

  it('answers 500 when the run store fails, so Eventarc delivers the event again', async () => {
    sandbox.stub(fx.store, 'recordCheckpoint').rejects(new Error('ABORTED: too much contention'));
    sandbox.stub(console, 'error');
    await landed(paths.marker(runId, 'agg_eurusd')).expect(500);
    sandbox.restore();
    await landed(paths.marker(runId, 'agg_eurusd')).expect(204);
    assert.equal(await fx.store.countCheckpoints(runId), 1);
  });
});
