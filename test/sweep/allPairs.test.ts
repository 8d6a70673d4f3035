// All 28 pairs at once, on one bus and one run store, delivered in any order, 1 to 3 times, late:
// each pair's dataset is byte-identical to its solo run, and each pair has had exactly one run. A
// run records only its own checkpoints, or (checkpoint reuse by content, shared/chain/reuse.ts)
// one another run extracted of the same table and window: the tables the pairs share (mkt_vol*),
// exactly as that run recorded them, files still there.

import assert from 'node:assert/strict';
import { reuseIndex, type IndexEntry } from '../../shared/chain/reuse.js';
import type { CheckpointRecord, RunRecord } from '../../shared/ports.js';
import { sharedBase } from './bases.js';
import { outputOf } from './invariants.js';
import { soloDigests } from './together.js';
import { CHAOTIC, Simulation } from './simulation.js';
import { ALL_PAIRS, openWorld, type Base, type World } from './world.js';

describe('fault sweep: all 28 pairs at once', function () {
  this.timeout(600_000);
  let base: Base;
  let solo: Map<string, string>;
  before(async () => {
    base = await sharedBase(ALL_PAIRS);
    solo = await soloDigests(base, ALL_PAIRS.pairs);
  });

  it('builds 28 verified datasets together, each identical to its solo run, sharing only checkpoints reused by content', async () => {
    const world: World = await openWorld(base, new Simulation(2828, CHAOTIC));
    try {
      const runs = await world.runPairs(ALL_PAIRS.pairs);
      assert.equal(runs.size, 28);
      const ids = new Set<string>();
      const recordsOf = new Map<string, CheckpointRecord[]>();
      for (const [pair, run] of runs) {
        assert.equal(run?.state, 'succeeded', `${pair}: ${run?.error}`);
        const r = run as RunRecord;
        ids.add(r.runId);
        assert.equal((await outputOf(world, r)).digest, solo.get(pair), `${pair} differs from its solo run`);
        const records = await world.store.listCheckpoints(r.runId);
        assert.equal(records.length, r.expected, pair);
        recordsOf.set(r.runId, records);
        assert.equal(r.mergeAttempts, 1, pair);
      }
      assert.equal(ids.size, 28);
      let reused = 0;
      for (const [runId, records] of recordsOf) {
        for (const c of records) {
          assert.equal(c.runId, runId);
          const owner = c.reusedFrom ?? runId;
          assert.ok(ids.has(owner), `${runId} reuses ${c.feature} from ${owner}, not one of the 28`);
          assert.ok(c.files.every((f) => f.startsWith(`runs/${owner}/`)), `${runId} records ${c.files.join(',')}`);
          if (c.reusedFrom) {
            reused++;
            const original = recordsOf.get(owner)!.find((o) => o.feature === c.feature);
            assert.ok(original && !original.reusedFrom, `${runId} reuses ${c.feature} from ${owner}, which did not extract it`);
            assert.deepEqual(c.files, original.files);
            for (const f of c.files) assert.ok((await world.staging.size(f)) !== undefined, `${f} is gone`);
          }
        }
      }
      console.log(`      ${reused} checkpoint(s) reused across pairs`);
      // One run per pair, ever: every run record in the store is one of the 28.
      const inventory = await world.inventory();
      const runDocs = inventory.store.filter((d) => d.startsWith('runs/'));
      assert.equal(runDocs.length, 28, runDocs.join(', '));
      const events = (world.embedded.bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data) as { runId: string; status: string });
      assert.deepEqual(new Set(events.map((e) => e.runId)), ids);
      assert.ok(events.every((e) => e.status === 'succeeded'));
      // Every staging object belongs to one of the 28 runs, or indexes a checkpoint one of them extracted.
      const indexed = inventory.staging.filter((o) => o.startsWith('checkpoints/index/'));
      for (const name of indexed) {
        const entry = JSON.parse(Buffer.from(await world.staging.read(name)).toString('utf8')) as IndexEntry;
        assert.equal(name, reuseIndex.entry(entry.feature, entry.fingerprint));
        const original = recordsOf.get(entry.runId)?.find((o) => o.feature === entry.feature);
        assert.ok(original && !original.reusedFrom && JSON.stringify(original.files) === JSON.stringify(entry.files), `${name} does not index what ${entry.runId} extracted`);
      }
      assert.deepEqual(inventory.staging.filter((o) => !o.startsWith('checkpoints/index/') && ![...ids].some((id) => o.startsWith(`runs/${id}/`))), []);
    } finally {
      await world.close();
    }
  });
});
