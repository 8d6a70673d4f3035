// Poison input never blocks the rest: an extract that always fails is dead-lettered after the
// configured attempts while every other feature lands; the reconciler re-sends it within its
// bounded attempts, then fails the run naming it; once the cause is gone, `rerun --missing`
// completes the run with the same output as a run that never met the poison.

import assert from 'node:assert/strict';
import { rerun } from '../../shared/chain/rerun.js';
import { sharedBase } from './bases.js';
import { outputOf, type Baseline } from './invariants.js';
import { baseline } from './sweep.js';
import { CHAOTIC, Simulation } from './simulation.js';
import { COMPACT, openWorld, type Base } from './world.js';

const POISON = 'mom_eurusd';

describe('fault sweep: poison input', function () {
  this.timeout(300_000);
  let base: Base;
  let reference: Baseline;
  before(async () => {
    base = await sharedBase(COMPACT);
    reference = await baseline(base);
  });

  it('dead-letters a message that always fails, lands everything else, fails the run naming it, and completes after rerun --missing', async () => {
    const world = await openWorld(base, new Simulation(77, CHAOTIC));
    try {
      const { deps, bus } = world.embedded;
      const warehouse = deps.warehouse;
      let poisoned = true;
      deps.warehouse = { ...warehouse, extract: (job) => (poisoned && job.feature === POISON ? Promise.reject(new Error(`table ${job.feature} is unreadable`)) : warehouse.extract(job)) };

      const failed = (await world.runPair('eurusd'))!;
      const attempts = world.config.maxAttempts;
      assert.equal(failed.state, 'failed');
      assert.equal(failed.error, `stalled: 1 feature(s) never landed after ${attempts} attempts: ${POISON}`);
      const landed = (await world.store.listCheckpoints(failed.runId)).map((c) => c.feature);
      assert.equal(landed.length, failed.expected - 1, 'every other feature landed');
      assert.ok(!landed.includes(POISON));
      // The first request and each of the reconciler's re-sends were dead-lettered after the configured
      // attempts (every copy of it: the schedule delivers each message 1 to 3 times).
      const dead = bus.deadLetters.filter((d) => d.subscription === 'extractFeature');
      assert.equal(new Set(dead.map((d) => d.message.id)).size, 1 + attempts);
      assert.ok(dead.every((d) => JSON.parse(d.message.data).feature === POISON && d.message.deliveryAttempt === attempts && d.error === `table ${POISON} is unreadable`));
      assert.deepEqual(world.actions.map((a) => a.action), [...Array<string>(attempts).fill('resent-extracts'), 'failed']);
      const events = (bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data));
      assert.deepEqual(new Set(events.map((e) => `${e.status} ${e.landed}`)), new Set([`failed ${failed.expected - 1}`]));

      poisoned = false;
      const { run: reopened, features } = await rerun(deps, failed.runId, { mode: 'missing' });
      assert.deepEqual(features, [POISON]);
      assert.equal(reopened.outcomeSentAt, undefined, 'the reopened run has its next outcome still to send');
      await world.settle();
      const run = (await world.store.getRun(failed.runId))!;
      assert.equal(run.state, 'succeeded', run.error);
      assert.equal((await outputOf(world, run)).digest, reference.digest, 'the same output as a run that never met the poison');
      const statuses = (bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data).status);
      assert.deepEqual(statuses, ['failed', 'succeeded']);
    } finally {
      await world.close();
    }
  });
});
