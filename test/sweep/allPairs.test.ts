// All 28 pairs at once, on one bus and one run store, delivered in any order, 1 to 3 times, late:
// each pair's dataset is byte-identical to its solo run, no run records another's checkpoints,
// and each pair has had exactly one run.

import assert from 'node:assert/strict';
import type { RunRecord } from '../../shared/ports.js';
import { sharedBase } from './bases.js';
import { outputOf } from './invariants.js';
import { CHAOTIC, ORDERLY, Simulation } from './simulation.js';
import { ALL_PAIRS, openWorld, type Base, type World } from './world.js';

describe('fault sweep: all 28 pairs at once', function () {
  this.timeout(600_000);
  let base: Base;
  const solo = new Map<string, string>();
  before(async () => {
    base = await sharedBase(ALL_PAIRS);
    for (const pair of ALL_PAIRS.pairs) {
      const world = await openWorld(base, new Simulation(1, ORDERLY));
      try {
        const run = (await world.runPair(pair))!;
        assert.equal(run.state, 'succeeded', `${pair} solo: ${run.error}`);
        solo.set(pair, (await outputOf(world, run)).digest);
      } finally {
        await world.close();
      }
    }
  });

  it('builds 28 verified datasets together, each identical to its solo run, none seeing another\'s checkpoints', async () => {
    const world: World = await openWorld(base, new Simulation(2828, CHAOTIC));
    try {
      const runs = await world.runPairs(ALL_PAIRS.pairs);
      assert.equal(runs.size, 28);
      const ids = new Set<string>();
      for (const [pair, run] of runs) {
        assert.equal(run?.state, 'succeeded', `${pair}: ${run?.error}`);
        const r = run as RunRecord;
        ids.add(r.runId);
        assert.equal((await outputOf(world, r)).digest, solo.get(pair), `${pair} differs from its solo run`);
        const records = await world.store.listCheckpoints(r.runId);
        assert.equal(records.length, r.expected, pair);
        for (const c of records) assert.ok(c.runId === r.runId && c.files.every((f) => f.startsWith(`runs/${r.runId}/`)), `${pair} records ${c.files.join(',')}`);
        assert.equal(r.mergeAttempts, 1, pair);
      }
      assert.equal(ids.size, 28);
      // One run per pair, ever: every run record in the store is one of the 28.
      const inventory = await world.inventory();
      const runDocs = inventory.store.filter((d) => d.startsWith('runs/'));
      assert.equal(runDocs.length, 28, runDocs.join(', '));
      const events = (world.embedded.bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data) as { runId: string; status: string });
      assert.deepEqual(new Set(events.map((e) => e.runId)), ids);
      assert.ok(events.every((e) => e.status === 'succeeded'));
      // Every staging object belongs to one of the 28 runs.
      assert.deepEqual(inventory.staging.filter((o) => ![...ids].some((id) => o.startsWith(`runs/${id}/`))), []);
    } finally {
      await world.close();
    }
  });
});
