// The reuse path under crashes: a second run of a pair whose data did not change reuses every
// checkpoint of the first (startRun records them and claims the merge itself, nothing to extract),
// and retention then trims the first run's checkpoints while the second points at them. Crashed
// just before and after a sample of the second run's side effects, it still succeeds with the
// first run's output, byte for byte, one merge, a record per feature whose files are all there.

import assert from 'node:assert/strict';
import { sharedBase } from './bases.js';
import { outputOf } from './invariants.js';
import { ORDERLY, Simulation } from './simulation.js';
import { COMPACT, openWorld, type Base } from './world.js';

describe('fault sweep: a rerun reusing every checkpoint, crashed', function () {
  this.timeout(600_000);
  let base: Base;
  before(async () => {
    base = await sharedBase(COMPACT);
  });

  /** Two runs of eurusd in one world; the second crashed at its own effect `crash.n`. */
  async function rerun(crash?: { n: number; when: 'before' | 'after' }) {
    const world = await openWorld(base, new Simulation(1, ORDERLY));
    try {
      const first = (await world.runPair('eurusd'))!;
      assert.equal(first.state, 'succeeded', first.error);
      const before = world.effects.log.length;
      if (crash) world.effects.crashAt(before + crash.n, crash.when);
      const second = (await world.runPair('eurusd'))!;
      const problems: string[] = [];
      if (second.runId === first.runId) return { kinds: [], problems: ['no second run'], trimmed: false };
      if (second.state !== 'succeeded') return { kinds: [], problems: [`second run ${second.state}: ${second.error}`], trimmed: false };
      if ((await outputOf(world, second)).digest !== (await outputOf(world, first)).digest) problems.push('output differs from the first run\'s');
      if (second.mergeAttempts !== 1) problems.push(`${second.mergeAttempts} merge attempts`);
      if (second.reuse?.reused !== second.expected) problems.push(`reused ${JSON.stringify(second.reuse)}`);
      const records = await world.store.listCheckpoints(second.runId);
      if (records.length !== second.expected) problems.push(`${records.length} checkpoint records, expected ${second.expected}`);
      for (const r of records) {
        if (r.reusedFrom !== first.runId) problems.push(`${r.feature} reused from ${r.reusedFrom}`);
        for (const f of r.files) if ((await world.staging.size(f)) === undefined) problems.push(`${f} removed while the newest run points at it`);
      }
      const events = (world.embedded.bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data) as { runId: string; status: string });
      if (!events.some((e) => e.runId === second.runId && e.status === 'succeeded')) problems.push('completion event never published');
      // Retention is best effort after a success: a crash inside it leaves the trim to the next one.
      const trimmed = (await world.store.getRun(first.runId))?.collected?.scope === 'checkpoints';
      return { kinds: world.effects.log.slice(before).map((e) => e.kind), problems, trimmed };
    } finally {
      await world.close();
    }
  }

  it('recovers from crashes around the reused records, the claim startRun makes, the merge and retention', async () => {
    const clean = await rerun();
    assert.deepEqual(clean.problems, []);
    assert.ok(clean.trimmed, 'retention did not trim the first run\'s checkpoints (the files the rerun points at must stay all the same)');
    const { kinds } = clean;
    assert.equal(kinds.includes('warehouse.extract'), false, 'the rerun extracted something');
    const sample = [2, kinds.indexOf('checkpoint.record') + 1, kinds.indexOf('run.claim') + 1, kinds.indexOf('warehouse.merge') + 1, kinds.length - 1, kinds.length];
    for (const n of sample) {
      for (const when of ['before', 'after'] as const) {
        const { problems } = await rerun({ n, when });
        assert.deepEqual(problems, [], `crash ${when} the rerun's effect ${n} (${kinds[n - 1]})`);
      }
    }
  });
});
