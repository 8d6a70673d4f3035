// pipelineApi through the Functions Framework: the run and pair views, run requests published for
// startRun, reruns, and JSON errors with the status a client can act on.

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { decodeRunRequest } from '../../shared/chain/messages.js';
import { failRun } from '../../shared/chain/runs.js';
import { startRun } from '../../shared/chain/startRun.js';
import { FEATURES, type Fixture, fixtureHooks } from './fixtures.js';

describe('functions/pipelineApi (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  const api = () => request(getTestServer('pipelineApi'));

  fixtureHooks(sandbox, (opened) => (fx = opened));

  it('POST /runs validates the request and publishes it to run-requests (202, Location: /pairs/{pair}); it starts nothing itself', async () => {
    const accepted = await api().post('/runs').set('content-type', 'text/plain').send('EURUSD').expect(202).expect('content-type', /json/);
    assert.deepEqual(accepted.body, { pair: 'eurusd', accepted: true, watch: '/pairs/eurusd', messageId: '1' });
    assert.equal(accepted.headers.location, '/pairs/eurusd');
    const json = await api().post('/runs').send({ pair: 'eurusd', start: '2021-03-01T00:10:00+01:00', force: true }).expect(202);
    assert.equal(json.body.watch, '/pairs/eurusd');
    // The next version of the pair's last dataset (issue 9's refresh), as startRun takes it from the topic.
    await api().post('/runs').send({ pair: 'eurusd', refresh: true }).expect(202);
    const refused = await api().post('/runs').send({ pair: 'eurusd', refresh: 'yes' }).expect(400);
    assert.match(refused.body.error, /refresh must be true or false/);
    assert.deepEqual(fx.bus.published, [
      { topic: fx.deps.config.topics.runRequests, data: { pair: 'eurusd' }, attributes: { pair: 'eurusd' } },
      { topic: fx.deps.config.topics.runRequests, data: { pair: 'eurusd', start: '2021-02-28T23:10:00.000Z', force: true }, attributes: { pair: 'eurusd' } },
      { topic: fx.deps.config.topics.runRequests, data: { pair: 'eurusd', refresh: true }, attributes: { pair: 'eurusd' } },
    ]);
    // startRun (with its BigQuery reads) is left to the function whose service account may run it.
    assert.equal(await fx.store.lastRun('eurusd'), undefined);
    assert.equal(fx.bus.on(fx.deps.config.topics.extractRequests).length, 0);
  });

  it('a published request, handled by startRun, shows as the active run at the watch address', async () => {
    const { body: accepted } = await api().post('/runs').send('eurusd').expect(202);
    const [message] = fx.bus.on(fx.deps.config.topics.runRequests);
    await startRun(fx.deps, decodeRunRequest(message!.data, fx.deps.config.currencies));
    const { body: pair } = await api().get(accepted.watch).expect(200);
    assert.equal(pair.active.state, 'extracting');
    assert.equal(pair.active.expected, FEATURES.length);
  });

  it('GET /requests/{messageId} says why startRun refused a published request, and null before it has', async () => {
    const { body: accepted } = await api().post('/runs').send('gbpjpy').expect(202);
    assert.deepEqual((await api().get(`/requests/${accepted.messageId}`).expect(200)).body, { messageId: accepted.messageId, refused: null });
    const [message] = fx.bus.on(fx.deps.config.topics.runRequests);
    await assert.rejects(startRun(fx.deps, { ...decodeRunRequest(message!.data, fx.deps.config.currencies), requestId: accepted.messageId }), /not found/);
    const { body } = await api().get(`/requests/${accepted.messageId}`).expect(200);
    assert.equal(body.refused.reason, 'label table bqx_ml_v3_analytics_v2.targets_gbpjpy not found');
    assert.equal(body.refused.pair, 'gbpjpy');
  });

  it('GET /runs/{runId} and GET /pairs/{pair} show the run, its landed count, and the pair\'s active and last run', async () => {
    const { run: started } = await startRun(fx.deps, { pair: 'eurusd' });
    const runId = started.runId;
    const { body: view } = await api().get(`/runs/${runId}`).expect(200);
    assert.deepEqual([view.run.runId, view.run.state, view.landed], [runId, 'extracting', 0]);
    const { body: pair } = await api().get('/pairs/eurusd/').expect(200);
    assert.deepEqual([pair.pair, pair.active.runId, pair.last.runId], ['eurusd', runId, runId]);
    const { body: other } = await api().get('/pairs/gbpusd').expect(200);
    assert.deepEqual(other, { pair: 'gbpusd', active: null, last: null });
  });

  it('POST /runs/{runId}/rerun reopens a run; a run whose pair has another active run gets 409', async () => {
    const first = await startRun(fx.deps, { pair: 'eurusd' });
    await failRun(fx.deps, first.run.runId, 'test: failed on purpose');
    const second = await startRun(fx.deps, { pair: 'eurusd' });

    const conflict = await api().post(`/runs/${first.run.runId}/rerun`).send({ mode: 'missing' }).expect(409);
    assert.match(conflict.body.error, new RegExp(`pair eurusd has another active run ${second.run.runId}`));

    await failRun(fx.deps, second.run.runId, 'test: failed on purpose');
    fx.bus.published.length = 0;
    const { body: reopened } = await api().post(`/runs/${first.run.runId}/rerun`).send({ mode: 'features', features: ['mkt_regime'] }).expect(200);
    assert.deepEqual([reopened.run.state, reopened.features], ['extracting', ['mkt_regime']]);
    assert.deepEqual(fx.bus.on(fx.deps.config.topics.extractRequests).map((m) => (m.data as { feature: string }).feature), ['mkt_regime']);
  });

  const bad: [string, () => request.Test, number, RegExp][] = [
    ['an unknown run', () => api().get('/runs/eurusd-20990101t000000-zzzzzz'), 404, /run eurusd-20990101t000000-zzzzzz not found/],
    ['a path as a run id', () => api().get('/runs/..%2F..%2Fetc%2Fpasswd'), 400, /run id "\.\.\/\.\.\/etc\/passwd" is not a run id/],
    ['a path as a pair', () => api().get('/pairs/..%2Fx'), 400, /pair "\.\.\/x" must be six lower-case letters/],
    ['a pair in the wrong order', () => api().get('/pairs/usdeur'), 400, /did you mean eurusd/],
    ['a path as a message id', () => api().get('/requests/..%2Fx'), 400, /message id "\.\.\/x" must be letters, digits, _ and -/],
    ['an unknown route', () => api().get('/status'), 404, /no route GET \/status \(routes: GET \/runs\/\{runId\}/],
    ['the root', () => api().get('/'), 404, /no route GET \//],
    ['no body', () => api().post('/runs'), 400, /the run request \(eurusd, or \{"pair": "eurusd".*\) is missing/],
    ['SQL as the pair', () => api().post('/runs').send({ pair: "eurusd' OR 1=1" }), 400, /must be six lower-case letters/],
    ['a request with an unknown field', () => api().post('/runs').send({ pair: 'eurusd', rows: 5 }), 400, /unknown field\(s\): rows/],
    ['a bad start time', () => api().post('/runs').send({ pair: 'eurusd', start: 'yesterday' }), 400, /start "yesterday" must be an ISO-8601 time/],
    ['a bad rerun mode', () => api().post('/runs/eurusd-20990101t000000-zzzzzz/rerun').send({ mode: 'everything' }), 400, /mode "everything" must be/],
    ['SQL in a rerun feature', () => api().post('/runs/eurusd-20990101t000000-zzzzzz/rerun').send({ mode: 'features', features: ['x; DROP TABLE y'] }), 400, /feature "x; DROP TABLE y" is not a plain identifier/],
    ['a rerun body that is not JSON', () => api().post('/runs/eurusd-20990101t000000-zzzzzz/rerun').set('content-type', 'text/plain').send('missing'), 400, /rerun request is not valid JSON/],
    ['a rerun of an unknown run', () => api().post('/runs/eurusd-20990101t000000-zzzzzz/rerun').send({ mode: 'missing' }), 404, /not found/],
  ];
  for (const [what, send, status, problem] of bad) {
    it(`answers ${status} {error} for ${what}`, async () => {
      const response = await send().expect(status).expect('content-type', /json/);
      assert.match(response.body.error, problem);
    });
  }

  it('answers 405 with Allow for a method a route does not take', async () => {
    const del = await api().delete('/runs/eurusd-20990101t000000-zzzzzz').expect(405);
    assert.equal(del.headers.allow, 'GET');
    assert.match(del.body.error, /method DELETE is not allowed/);
    assert.equal((await api().get('/runs').expect(405)).headers.allow, 'POST');
    assert.equal((await api().put('/runs/eurusd-20990101t000000-zzzzzz/rerun').expect(405)).headers.allow, 'POST');
  });

  it('takes a run request sent as a form, as `curl -d eurusd` sends it', async () => {
    await api().post('/runs').set('content-type', 'application/x-www-form-urlencoded').send('{"pair":"eurusd","end":"2021-03-01T00:30:00Z"}').expect(202);
    assert.deepEqual(fx.bus.on(fx.deps.config.topics.runRequests).map((m) => m.data), [{ pair: 'eurusd', end: '2021-03-01T00:30:00.000Z' }]);
    const { run } = await startRun(fx.deps, { pair: 'eurusd' });
    await api().post(`/runs/${run.runId}/rerun`).set('content-type', 'application/x-www-form-urlencoded').send('{"mode":"missing"}').expect(200);
  });

  it('refuses JSON that does not parse and broken percent-encoding with 400 (the framework answers, before the function)', async () => {
    sandbox.stub(console, 'error'); // express prints the parse error
    await api().post('/runs').set('content-type', 'application/json').send('{"pair": eurusd').expect(400);
    await api().get('/pairs/%E0%A4%A').expect(400);
    assert.equal(await fx.store.lastRun('eurusd'), undefined);
  });

  it('answers 500 {error} when the run store fails', async () => {
    sandbox.stub(fx.store, 'getRun').rejects(new Error('UNAVAILABLE: connection reset'));
    const response = await api().get('/runs/eurusd-20990101t000000-zzzzzz').expect(500);
    assert.deepEqual(response.body, { error: 'UNAVAILABLE: connection reset' });
    assert.ok(fx.logs.some((l) => l.severity === 'ERROR' && /GET \/runs\/.* -> 500: UNAVAILABLE/.test(l.message)));
  });
});
