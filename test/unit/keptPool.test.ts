// The profile's scan threads kept from a job to the one it says follows, ended after the last.

import assert from 'node:assert/strict';
import { KeptPool } from '../../shared/adapters/local/keptPool.js';
import type { ThreadPool } from '../../shared/adapters/local/threadPool.js';

/** A pool that only counts: made, closed, and whether a thread failed. */
function fakePools() {
  const made: { closed: boolean; failed: boolean }[] = [];
  const make = () => {
    const pool = { closed: false, failed: false, close: async () => void (pool.closed = true) };
    made.push(pool);
    return pool as unknown as ThreadPool<number, number>;
  };
  return { made, make };
}

describe('KeptPool', () => {
  it('keeps the threads for the job that follows, ends them after the last', () => {
    const { made, make } = fakePools();
    const kept = new KeptPool(make, 60_000);
    const a = kept.take();
    kept.release(true);
    assert.equal(kept.take(), a, 'the same threads for the next job');
    assert.equal(made.length, 1);
    kept.release(false);
    assert.equal(made[0]!.closed, true, 'ended with the last job');
    kept.take();
    assert.equal(made.length, 2, 'a later job starts new ones');
    kept.release(false);
  });

  it('ends kept threads left waiting, and replaces a pool whose thread failed', async () => {
    const { made, make } = fakePools();
    const kept = new KeptPool(make, 10);
    kept.take();
    kept.release(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(made[0]!.closed, true, 'no job came: ended after idleMs');
    kept.take();
    made[1]!.failed = true;
    kept.release(true);
    kept.take();
    assert.deepEqual(made.map((p) => p.closed), [true, true, false], 'the failed pool closed, a new one made');
    await kept.close();
    assert.equal(made[2]!.closed, true);
  });
});
