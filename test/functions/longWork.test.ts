// Long BigQuery work under the deployed delivery settings, on a simulated clock: the settings are
// read from terraform/ (max_delivery_attempts, backoff, ack deadline, function timeouts,
// BQX_JOB_WAIT_SECONDS, the reconciler's schedule), the Pub/Sub push subscription is simulated
// (simulatedPush.ts), and the entry points in functions/ run the real core on the fixture's tiny
// DuckDB warehouse, wrapped so that a merge or an extract takes hours of simulated time. Work that
// is still running must never be dead-lettered (nor failed by the reconciler), while a message
// whose handler always throws must still reach the dead-letter topic after the configured attempts.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { setDeps } from '../../functions/deps.js';
import { extractFeature } from '../../functions/extractFeature.js';
import { mergeRun } from '../../functions/mergeRun.js';
import type { ChainDeps } from '../../shared/chain/deps.js';
import { reconcile, type ReconcileAction } from '../../shared/chain/reconcile.js';
import { startRun } from '../../shared/chain/startRun.js';
import { paths } from '../../shared/naming.js';
import type { Pending, Warehouse } from '../../shared/ports.js';
import { readDeliverySettings, type DeliverySettings } from './deliverySettings.js';
import { FEATURES, type Fixture, fixtureHooks, runToMerging } from './fixtures.js';
import { SimulatedBus, SimulatedPush, simClock, type SimClock } from './simulatedPush.js';

const HOUR = 3600_000;

/**
 * The fixture's warehouse, but each extract (by feature) or merge (by run) takes `takes` ms of
 * simulated time from its first call. Like the BigQuery adapter, a call waits at most the
 * function's BQX_JOB_WAIT_SECONDS, then answers pending.
 */
function slowWarehouse(inner: Warehouse, clock: SimClock, waitSeconds: { extract: number; merge: number }, takes: { extract?: Record<string, number>; merge?: number }): Warehouse {
  const began = new Map<string, number>();
  const wait = (key: string, kind: 'extract' | 'merge', ms: number): Pending | undefined => {
    const start = began.get(key) ?? clock.now().getTime();
    began.set(key, start);
    const left = start + ms - clock.now().getTime();
    if (left <= 0) return undefined;
    const waited = Math.min(left, waitSeconds[kind] * 1000);
    clock.advance(waited);
    if (left - waited <= 0) return undefined;
    return { state: 'pending', detail: `${key} running for ${Math.round((clock.now().getTime() - start) / 60_000)} min` };
  };
  return {
    checkpointsFollowShards: inner.checkpointsFollowShards,
    readsTablesAsOf: inner.readsTablesAsOf,
    listTables: (dataset) => inner.listTables(dataset),
    labelStats: (dataset, table, window) => inner.labelStats(dataset, table, window),
    dataVersions: (dataset, tables, range) => inner.dataVersions(dataset, tables, range),
    close: () => Promise.resolve(),
    extract: async (job) => wait(`extract ${job.feature}`, 'extract', takes.extract?.[job.feature] ?? 0) ?? inner.extract(job),
    merge: async (job, progress) => wait(`merge ${job.runId}`, 'merge', takes.merge ?? 0) ?? inner.merge(job, progress),
    profile: (job) => inner.profile(job),
    compareColumns: (job) => inner.compareColumns(job),
    view: (job) => inner.view(job),
  };
}

describe('functions: long warehouse work on the deployed delivery settings (simulated clock)', function () {
  const sandbox = sinon.createSandbox();
  let fx: Fixture;
  let settings: DeliverySettings;

  before(async () => {
    settings = await readDeliverySettings();
  });
  fixtureHooks(sandbox, (opened) => (fx = opened));

  /** The functions' dependencies on the simulated clock and bus; push subscriptions for extracts and merges. */
  function simulate(takes: { extract?: Record<string, number>; merge?: number }) {
    const clock = simClock(Date.now());
    const bus = new SimulatedBus();
    const waits = { extract: settings.functions.extractFeature.jobWaitSeconds, merge: settings.functions.mergeRun.jobWaitSeconds };
    const config = { ...fx.deps.config, stallSeconds: settings.stallSeconds, maxAttempts: settings.maxAttempts };
    const deps: ChainDeps = { ...fx.deps, config, clock, bus, warehouse: slowWarehouse(fx.warehouse, clock, waits, takes) };
    setDeps(deps);
    const policy = { maxDeliveryAttempts: settings.maxDeliveryAttempts, minBackoffSeconds: settings.minBackoffSeconds, maxBackoffSeconds: settings.maxBackoffSeconds };
    const extracts = new SimulatedPush(config.topics.extractRequests, { ...policy, ...settings.functions.extractFeature }, clock, extractFeature);
    const merges = new SimulatedPush(config.topics.mergeRequests, { ...policy, ...settings.functions.mergeRun }, clock, mergeRun);
    bus.subscriptions.set(extracts.topic, extracts);
    bus.subscriptions.set(merges.topic, merges);
    const reconciled: ReconcileAction[] = [];
    let nextSweep = clock.now().getTime() + settings.reconcileEveryMinutes * 60_000;
    /** Delivers until nothing is queued, running the reconciler on its schedule in between. */
    const drain = async () => {
      for (let i = 0; i < 5000; i++) {
        const dues = [extracts.nextDue(), merges.nextDue()].filter((d) => d !== undefined);
        if (dues.length === 0) return;
        const due = Math.min(...dues);
        while (nextSweep <= due) {
          clock.set(nextSweep);
          reconciled.push(...(await reconcile(deps)));
          nextSweep += settings.reconcileEveryMinutes * 60_000;
        }
        await (extracts.nextDue() === due ? extracts : merges).deliverOne();
      }
      throw new Error('the simulation did not settle in 5000 deliveries');
    };
    return { clock, deps, bus, extracts, merges, reconciled, drain, began: clock.now().getTime() };
  }

  it('reads the delivery settings from terraform/', () => {
    assert.ok(settings.maxDeliveryAttempts >= 5);
    assert.ok(settings.functions.mergeRun.jobWaitSeconds < settings.functions.mergeRun.timeoutSeconds);
    assert.ok(settings.functions.mergeRun.timeoutSeconds < settings.functions.mergeRun.ackDeadlineSeconds);
    // With these, polling by failed deliveries gives up after this long: far less than 6 hours.
    const wait = settings.functions.mergeRun.jobWaitSeconds;
    let giveUp = 0;
    for (let n = 1; n <= settings.maxDeliveryAttempts; n++) giveUp += wait + (n < settings.maxDeliveryAttempts ? Math.min(settings.maxBackoffSeconds, settings.minBackoffSeconds * 2 ** (n - 1)) : 0);
    assert.ok(giveUp < HOUR / 1000, `polling by retries would dead-letter a merge after ${giveUp} s`);
  });

  it('a 6-hour merge completes: every delivery acknowledged within its timeout, 0 dead letters, the reconciler only waits', async () => {
    const runId = await runToMerging(fx);
    const [request] = fx.bus.on(fx.deps.config.topics.mergeRequests);
    const sim = simulate({ merge: 6 * HOUR });
    sim.merges.publish(request!.data, request!.attributes);
    await sim.drain();

    const run = await fx.store.getRun(runId);
    assert.equal(run?.state, 'succeeded', run?.error);
    assert.ok(sim.clock.now().getTime() - sim.began >= 6 * HOUR);
    assert.deepEqual(sim.merges.deadLetters, []);
    const { deliveries } = sim.merges;
    assert.ok(deliveries.length >= (6 * HOUR) / (settings.functions.mergeRun.jobWaitSeconds * 1000), `${deliveries.length} deliveries`);
    assert.ok(deliveries.every((d) => d.outcome === 'acked' && d.attempt === 1 && d.ms <= settings.functions.mergeRun.timeoutSeconds * 1000));
    assert.equal(new Set(deliveries.map((d) => d.id)).size, deliveries.length, 'each poll is a fresh message, delivered once');
    const mine = sim.reconciled.filter((a) => a.runId === runId);
    assert.ok(mine.length >= 30, `the reconciler swept ${mine.length} times`);
    assert.deepEqual([...new Set(mine.map((a) => a.action))], ['waiting'], 'never took the merge for a stall');
  });

  it('an extract that takes 3 hours (say, queued behind others) lands; the others are not held up; 0 dead letters', async () => {
    const sim = simulate({ extract: { mkt_regime: 3 * HOUR } });
    const { run } = await startRun(sim.deps, { pair: 'eurusd' });
    assert.equal(sim.extracts.pending, FEATURES.length);
    await sim.drain();
    for (const feature of FEATURES) assert.ok((await fx.staging.size(paths.marker(run.runId, feature))) !== undefined, `${feature} has its marker`);
    assert.deepEqual(sim.extracts.deadLetters, []);
    assert.ok(sim.extracts.deliveries.every((d) => d.outcome === 'acked'));
    assert.ok(sim.clock.now().getTime() - sim.began >= 3 * HOUR);
    assert.equal((await fx.store.getRun(run.runId))?.state, 'extracting', 'not failed by the reconciler');
    assert.deepEqual([...new Set(sim.reconciled.map((a) => a.action))], ['waiting']);
  });

  it('a message whose handler always throws is dead-lettered after max_delivery_attempts, with the backoff between', async () => {
    const runId = await runToMerging(fx);
    const sim = simulate({});
    sandbox.stub(fx.store, 'getRun').rejects(new Error('UNAVAILABLE: the run store is down'));
    sandbox.stub(console, 'error');
    sim.merges.publish({ runId, pair: 'eurusd' }, { pair: 'eurusd', runId });
    await sim.drain();
    assert.equal(sim.merges.deadLetters.length, 1);
    assert.deepEqual((sim.merges.deadLetters[0]!.data as { runId: string }).runId, runId);
    const { deliveries } = sim.merges;
    assert.deepEqual(deliveries.map((d) => [d.attempt, d.outcome]), Array.from({ length: settings.maxDeliveryAttempts }, (_, i) => [i + 1, 'failed']));
    const gaps = deliveries.slice(1).map((d, i) => (d.at - deliveries[i]!.at) / 1000);
    assert.deepEqual(gaps, gaps.map((_, i) => Math.min(settings.maxBackoffSeconds, settings.minBackoffSeconds * 2 ** i)));
  });
});
