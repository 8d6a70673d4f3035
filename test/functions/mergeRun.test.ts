// mergeRun through the Functions Framework, fed as the merge-requests push subscription feeds it.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { errors, push, runToMerging, type Fixture, fixtureHooks } from './fixtures.js';
import { WorkPending, type Warehouse } from '../../shared/ports.js';

const TOPIC = 'bqx-merge-requests';

describe('functions/mergeRun (contract)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;

  fixtureHooks(sandbox, (opened) => (fx = opened));

  it('merges a run whose checkpoints all landed (204): verified output, a run.succeeded event', async () => {
    const runId = await runToMerging(fx);
    const [request] = fx.bus.on(fx.deps.config.topics.mergeRequests);
    await push('mergeRun', TOPIC, request!.data, { attributes: request!.attributes }).expect(204);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded', run?.error);
    assert.equal(run?.output?.rows, 60);
    assert.equal(run?.output?.columns, 1 + 2 + 6, 'key + 2 labels + 6 feature columns');
    assert.ok((await fx.deps.output.size(run!.output!.manifest)) !== undefined, '_manifest.json written');
    const [event] = fx.bus.on(fx.deps.config.topics.runEvents);
    assert.equal((event?.data as { type: string }).type, 'run.succeeded');

    // The same request again (at-least-once): acknowledged, nothing redone.
    await push('mergeRun', TOPIC, request!.data).expect(204);
    assert.ok(fx.logs.some((l) => /merge not needed: run is succeeded/.test(l.message)));
    assert.equal(fx.bus.on(fx.deps.config.topics.runEvents).length, 1);
  });

  it('acknowledges (204) while the warehouse merge is still running and sends a follow-up; the run stays merging', async () => {
    const runId = await runToMerging(fx);
    sandbox.stub(fx.warehouse, 'merge').resolves({ state: 'pending', detail: 'group 1 of 2 exporting' });
    fx.bus.published.length = 0;
    await push('mergeRun', TOPIC, { runId, pair: 'eurusd' }).expect(204);
    assert.equal((await fx.store.getRun(runId))?.state, 'merging');
    const [follow] = fx.bus.on(fx.deps.config.topics.mergeRequests);
    assert.equal((follow!.data as { poll: number }).poll, 1);
    sandbox.restore();
    await push('mergeRun', TOPIC, follow!.data).expect(204);
    assert.equal((await fx.store.getRun(runId))?.state, 'succeeded');
  });

  it('acknowledges (204) while the profile\'s warehouse jobs still run and sends a follow-up; the next call profiles and succeeds', async () => {
    const runId = await runToMerging(fx);
    const profile = fx.warehouse.profile.bind(fx.warehouse);
    let calls = 0;
    sandbox.stub(fx.warehouse, 'profile').callsFake(async (job, progress) => {
      if (++calls === 1) throw new WorkPending({ state: 'pending', detail: 'profile of the run: profile_scan still running' });
      return profile(job, progress);
    });
    fx.bus.published.length = 0;
    await push('mergeRun', TOPIC, { runId, pair: 'eurusd' }).expect(204);
    const waiting = await fx.store.getRun(runId);
    assert.equal(waiting?.state, 'merging', 'not failed: the profile is still running');
    assert.equal(waiting?.error, undefined);
    const [follow] = fx.bus.on(fx.deps.config.topics.mergeRequests);
    assert.equal((follow!.data as { poll: number }).poll, 1);
    await push('mergeRun', TOPIC, follow!.data).expect(204);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded', run?.error);
    assert.equal(calls, 2);
  });

  it('prices what the run\'s jobs billed (extracts, merge, profile) for the cost_usd gate, the run record and the event', async () => {
    // As the BigQuery adapter reports them: each extract, the merge and the profile say what their jobs billed.
    const [extract, merge, profile] = [fx.warehouse.extract.bind(fx.warehouse), fx.warehouse.merge.bind(fx.warehouse), fx.warehouse.profile.bind(fx.warehouse)];
    const TIB = 2 ** 40;
    sandbox.stub(fx.warehouse, 'extract').callsFake(async (job) => {
      const r = await extract(job);
      return r.state === 'done' ? { ...r, bytesBilled: 0.5 * TIB } : r;
    });
    sandbox.stub(fx.warehouse, 'merge').callsFake(async (job, progress) => {
      const r = await merge(job, progress);
      return r.state === 'done' ? { ...r, bytesProcessed: 0.25 * TIB, costUsd: 1.5625, bytesBilled: 0.75 * TIB } : r;
    });
    sandbox.stub(fx.warehouse, 'profile').callsFake(async (job, progress) => ({ ...(await profile(job, progress)), bytesBilled: 0.25 * TIB }));
    // Each comparison statement's jobs too (the candidates the profile finds: duplicates, leaks).
    const compare = fx.warehouse.compareColumns.bind(fx.warehouse);
    let comparisons = 0;
    // Stubbed as the port declares it (the embedded warehouse bills nothing and takes no callback).
    sandbox.stub(fx.warehouse as Warehouse, 'compareColumns').callsFake(async (job, billed) => {
      comparisons++;
      billed?.(0.125 * TIB);
      return compare(job);
    });
    const runId = await runToMerging(fx);
    const features = (await fx.store.listCheckpoints(runId)).length;
    assert.ok(features > 1);
    fx.bus.published.length = 0;
    await push('mergeRun', TOPIC, { runId, pair: 'eurusd' }).expect(204);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded', run?.error);
    // Every job's bytes, not the dry runs' estimate of the joins (0.25 TiB, $1.5625): at $6.25 a TiB.
    assert.ok(comparisons > 0, 'the profile compared candidate pairs');
    const billed = features * 0.5 * TIB + 0.75 * TIB + 0.25 * TIB + comparisons * 0.125 * TIB;
    assert.equal(run!.bytesBilled, billed);
    assert.equal(run!.costUsd, (billed / TIB) * 6.25);
    const report = JSON.parse(new TextDecoder().decode(await fx.deps.output.read(run!.output!.report))) as { gates: { gate: string; value: number; passed: boolean }[] };
    const gate = report.gates.find((g) => g.gate.startsWith('cost_usd'))!;
    assert.equal(gate.value, run!.costUsd);
    const [event] = fx.bus.on(fx.deps.config.topics.runEvents);
    assert.deepEqual([(event!.data as { costUsd: number }).costUsd, (event!.data as { bytesBilled: number }).bytesBilled], [run!.costUsd, billed]);
  });

  it('with BQX_PROFILE=keys, prices the key-only profile\'s billed bytes too', async () => {
    const TIB = 2 ** 40;
    fx.deps.config = { ...fx.deps.config, profile: { ...fx.deps.config.profile, mode: 'keys' } };
    const profile = fx.warehouse.profile.bind(fx.warehouse);
    sandbox.stub(fx.warehouse, 'profile').callsFake(async (job, progress) => ({ ...(await profile(job, progress)), bytesBilled: 0.5 * TIB }));
    const merge = fx.warehouse.merge.bind(fx.warehouse);
    sandbox.stub(fx.warehouse, 'merge').callsFake(async (job, progress) => {
      const r = await merge(job, progress);
      return r.state === 'done' ? { ...r, bytesBilled: TIB } : r;
    });
    const runId = await runToMerging(fx);
    await push('mergeRun', TOPIC, { runId, pair: 'eurusd' }).expect(204);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded', run?.error);
    assert.deepEqual([run!.bytesBilled, run!.costUsd], [1.5 * TIB, 1.5 * 6.25]);
  });

  it('fails the run with a clear reason when the merge is still running past BQX_PENDING_LIMIT_HOURS', async () => {
    const runId = await runToMerging(fx);
    sandbox.stub(fx.warehouse, 'merge').resolves({ state: 'pending', detail: 'group 1 of 2 exporting' });
    const since = new Date(Date.now() - 25 * 3600_000).toISOString();
    await push('mergeRun', TOPIC, { runId, pair: 'eurusd', poll: 180, since }).expect(204);
    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'failed');
    assert.match(run!.error!, /^merge still running after 25\.0 h and 180 polls \(BQX_PENDING_LIMIT_HOURS=24\): group 1 of 2 exporting$/);
  });

  it('refuses a follow-up with a bad poll or since (204, ERROR)', async () => {
    await push('mergeRun', TOPIC, { runId: 'eurusd-20990101t000000-zzzzzz', pair: 'eurusd', poll: 0, since: '2025-01-01T00:00:00Z' }).expect(204);
    await push('mergeRun', TOPIC, { runId: 'eurusd-20990101t000000-zzzzzz', pair: 'eurusd', poll: 2 }).expect(204);
    assert.equal(errors(fx.logs, /poll 0 must be a whole number from 1/).length, 1);
    assert.equal(errors(fx.logs, /since undefined must be an ISO-8601 time/).length, 1);
  });

  it('acknowledges a request for an unknown run (204) and merges nothing', async () => {
    await push('mergeRun', TOPIC, { runId: 'eurusd-20990101t000000-zzzzzz', pair: 'eurusd' }).expect(204);
    assert.ok(fx.logs.some((l) => l.severity === 'INFO' && /merge not needed: no such run/.test(l.message)));
    assert.equal(fx.bus.published.length, 0);
  });

  const rejected: [string, unknown, RegExp][] = [
    ['SQL as the run id', { runId: "x'; DROP TABLE runs; --", pair: 'eurusd' }, /run id .* is not a run id/],
    ['a pair that is not the run\'s', { runId: 'eurusd-20990101t000000-zzzzzz', pair: 'gbpusd' }, /pair "gbpusd" does not match run/],
    ['a bare string', 'merge eurusd', /merge request is not valid JSON/],
  ];
  for (const [what, data, problem] of rejected) {
    it(`acknowledges ${what} (204) with an ERROR naming the problem`, async () => {
      await push('mergeRun', TOPIC, data).expect(204);
      assert.equal(errors(fx.logs, problem).length, 1, JSON.stringify(fx.logs));
    });
  }
});
