// extractFeature through the Functions Framework, fed as the extract-requests push subscription
// feeds it: a checkpoint and its marker for a good request, 204 + ERROR for one that can never
// succeed, 204 and a follow-up message while the warehouse job is still running.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { setDeps } from '../../functions/deps.js';
import { startRun } from '../../shared/chain/startRun.js';
import { paths } from '../../shared/naming.js';
import { errors, openFixture, push, type Fixture } from './fixtures.js';

const TOPIC = 'bqx-extract-requests';

describe('functions/extractFeature (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  let runId: string;
  const extract = (data: unknown) => push('extractFeature', TOPIC, data, { attributes: { pair: 'eurusd', runId, feature: 'agg_eurusd' } });

  before(async () => {
    fx = await openFixture();
    setDeps(fx.deps);
    ({ run: { runId } } = await startRun(fx.deps, { pair: 'eurusd' }));
  });

  afterEach(() => {
    sandbox.restore();
    fx.logs.length = 0;
  });

  after(async () => {
    setDeps(undefined);
    await fx.close();
  });

  it('writes the checkpoint and then its marker (204); a second delivery only re-sends the marker', async () => {
    await extract({ runId, pair: 'eurusd', feature: 'agg_eurusd' }).expect(204);
    const marker = JSON.parse(Buffer.from(await fx.staging.read(paths.marker(runId, 'agg_eurusd'))).toString('utf8'));
    assert.equal(marker.rows, 60);
    assert.ok(((await fx.staging.size(marker.files[0])) ?? 0) > 0, "the parquet file is there");
    assert.ok(fx.logs.some((l) => /^extracted 60 rows/.test(l.message) && l.feature === 'agg_eurusd' && l.runId === runId));

    await extract({ runId, pair: 'eurusd', feature: 'agg_eurusd' }).expect(204);
    assert.ok(fx.logs.some((l) => /already complete; marker re-sent/.test(l.message)));
  });

  const rejected: [string, () => unknown, RegExp][] = [
    ['SQL in the feature name', () => ({ runId, pair: 'eurusd', feature: 'agg_eurusd; DROP TABLE targets_eurusd' }), /feature "agg_eurusd; DROP TABLE targets_eurusd" is not a plain identifier/],
    ['a feature outside the run\'s manifest', () => ({ runId, pair: 'eurusd', feature: 'agg_gbpjpy' }), /feature agg_gbpjpy is not in run .*'s manifest/],
    ['an unknown run', () => ({ runId: 'eurusd-20990101t000000-zzzzzz', pair: 'eurusd', feature: 'agg_eurusd' }), /run eurusd-20990101t000000-zzzzzz not found/],
    ['a path as the run id', () => ({ runId: '../../etc', pair: 'eurusd', feature: 'agg_eurusd' }), /run id "\.\.\/\.\.\/etc" is not a run id/],
    ['a pair that is not the run\'s', () => ({ runId, pair: 'gbpusd', feature: 'agg_eurusd' }), /pair "gbpusd" does not match run/],
    ['a JSON array', () => [runId], /extract request must be a JSON object/],
    ['text that is not JSON', () => 'agg_eurusd please', /extract request is not valid JSON/],
  ];
  for (const [what, data, problem] of rejected) {
    it(`acknowledges ${what} (204) with an ERROR naming the problem`, async () => {
      await extract(data()).expect(204);
      const logged = errors(fx.logs, problem);
      assert.equal(logged.length, 1, JSON.stringify(fx.logs));
      assert.equal(logged[0]!.runId, runId, 'labelled with the run from the attributes');
    });
  }

  it('acknowledges (204) while the warehouse export is still running, sends one follow-up per poll, and writes no marker', async () => {
    const stub = sandbox.stub(fx.warehouse, 'extract').resolves({ state: 'pending', detail: 'job bqx_extract_x is RUNNING' });
    fx.bus.published.length = 0;
    await extract({ runId, pair: 'eurusd', feature: 'mkt_regime' }).expect(204);
    assert.equal(await fx.staging.size(paths.marker(runId, 'mkt_regime')), undefined);
    const [first, ...others] = fx.bus.on(fx.deps.config.topics.extractRequests);
    assert.equal(others.length, 0);
    const data = first!.data as { poll: number; since: string };
    assert.deepEqual({ ...data, since: undefined }, { runId, pair: 'eurusd', feature: 'mkt_regime', poll: 1, since: undefined });
    assert.ok(Math.abs(Date.parse(data.since) - Date.now()) < 60_000);
    assert.deepEqual(first!.attributes, { pair: 'eurusd', runId, feature: 'mkt_regime' });
    // The follow-up, delivered twice: the next poll is sent once.
    await extract(first!.data).expect(204);
    await extract(first!.data).expect(204);
    assert.deepEqual(fx.bus.on(fx.deps.config.topics.extractRequests).map((m) => (m.data as { poll: number }).poll), [1, 2]);
    stub.restore();
    await extract(first!.data).expect(204);
    assert.ok((await fx.staging.size(paths.marker(runId, 'mkt_regime'))) !== undefined);
  });

  it('answers 500 when the run store fails', async () => {
    sandbox.stub(fx.store, 'getRun').rejects(new Error('deadline exceeded'));
    sandbox.stub(console, 'error');
    await extract({ runId, pair: 'eurusd', feature: 'csi_mom_bqx_usd' }).expect(500);
    assert.equal(errors(fx.logs, /can never succeed/).length, 0);
  });
});
