// DuckDB's pool while small statements run side by side (shared/adapters/local/callerThreads.ts):
// shrunk while any caller session runs, given back after the last, never left at the wrong size
// by overlapping sessions; and on a real DuckDB file through the warehouse.

import assert from 'node:assert/strict';
import path from 'node:path';
import { CallerThreads } from '../../shared/adapters/local/callerThreads.js';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { tempDir } from '../helpers/temp.js';

/** A pool that records every size it is set to. */
function fakePool(base: number) {
  const state = { threads: base, sets: [] as number[] };
  const pool = new CallerThreads(
    async () => state.threads,
    async (n) => {
      await new Promise((r) => setTimeout(r, 2)); // a change takes a while, as a statement does
      state.threads = n;
      state.sets.push(n);
    },
  );
  return { pool, state };
}

describe('DuckDB thread pool around concurrent small statements', () => {
  it('leaves the callers the cores while they run, and gives the pool back after', async () => {
    const { pool, state } = fakePool(8);
    let inside = 0;
    await pool.run(2, async () => void (inside = state.threads));
    assert.equal(inside, 7, '8 cores, 2 callers: a pool of 7 (6 background threads beside the 2 callers)');
    assert.equal(state.threads, 8);
    const two = fakePool(2);
    await two.pool.run(2, async () => void (inside = two.state.threads));
    assert.equal(inside, 1, 'on 2 cores, the callers\' own threads are all DuckDB needs');
    assert.equal(two.state.threads, 2);
  });

  it('one caller changes nothing', async () => {
    const { pool, state } = fakePool(2);
    await pool.run(1, async () => undefined);
    assert.deepEqual(state.sets, []);
  });

  it('overlapping sessions: shrunk once, restored once, after the last ends', async () => {
    const { pool, state } = fakePool(2);
    const seen: number[] = [];
    const session = (ms: number) => pool.run(2, async () => {
      seen.push(state.threads);
      await new Promise((r) => setTimeout(r, ms));
      seen.push(state.threads);
    });
    await Promise.all([session(5), session(20), session(1), session(12)]);
    assert.ok(seen.every((t) => t === 1), `every session ran on the shrunk pool: ${seen}`);
    assert.deepEqual(state.sets, [1, 2]);
    await Promise.all(Array.from({ length: 20 }, (_, i) => session(i % 3)));
    assert.equal(state.threads, 2, 'back to the whole pool after a burst of short sessions');
  });

  it('a session that throws still gives the pool back', async () => {
    const { pool, state } = fakePool(4);
    await assert.rejects(pool.run(2, async () => { throw new Error('boom'); }), /boom/);
    assert.equal(state.threads, 4);
  });

  it('on the warehouse: DuckDB\'s own setting is shrunk inside and restored after', async () => {
    const dir = tempDir('threads');
    const store = new FolderObjectStore(path.join(dir, 'store'));
    const warehouse = await DuckDbWarehouse.open(path.join(dir, 'w.duckdb'), store, store, { memoryMb: 256, threads: 3 });
    const threads = async () => Number((await warehouse.query("SELECT current_setting('threads')::INTEGER AS t"))[0]!.t);
    try {
      let inside = 0;
      await warehouse.withCallerThreads(2, async () => void (inside = await threads()));
      assert.equal(inside, 2);
      assert.equal(await threads(), 3);
    } finally {
      await warehouse.close();
    }
  });
});
