// Which shards an embedded extract reads from the table together (extractBatches.ts).

import assert from 'node:assert/strict';
import { shardBatches } from '../../shared/adapters/local/extractBatches.js';

describe('shardBatches', () => {
  it('reads every shard at once when the window fits the limit', () => {
    assert.deepEqual(shardBatches([240, 1440, 820], 10_000), [{ from: 0, to: 3, staged: true }]);
  });

  it('cuts runs of consecutive shards at the row limit, a shard over it alone and read directly', () => {
    assert.deepEqual(shardBatches([400, 400, 400, 2000, 300, 300], 1000), [
      { from: 0, to: 2, staged: true },
      { from: 2, to: 3, staged: false },
      { from: 3, to: 4, staged: false },
      { from: 4, to: 6, staged: true },
    ]);
  });

  it('stages a run only when two or more of its shards have rows (empty shards are written from nothing)', () => {
    assert.deepEqual(shardBatches([0, 500, 0, 0], 1000), [{ from: 0, to: 4, staged: false }]);
    assert.deepEqual(shardBatches([0, 500, 0, 200], 1000), [{ from: 0, to: 4, staged: true }]);
  });

  it('keeps a shard that must be written on its own (a refresh\'s carried shard) out of every run', () => {
    assert.deepEqual(shardBatches([100, 100, 100], 1000, (i) => i === 0), [
      { from: 0, to: 1, staged: false },
      { from: 1, to: 3, staged: true },
    ]);
  });

  it('stages only runs with at least the given number of shards with rows', () => {
    assert.deepEqual(shardBatches([500, 0, 500, 500], 10_000, undefined, 3), [{ from: 0, to: 4, staged: true }]);
    assert.deepEqual(shardBatches([500, 0, 500], 10_000, undefined, 3), [{ from: 0, to: 3, staged: false }]);
  });

  it('reads shard by shard with no row budget (a source that does not gain from staging)', () => {
    assert.deepEqual(shardBatches([500, 500, 0, 500], 0, undefined, 3), [
      { from: 0, to: 1, staged: false },
      { from: 1, to: 2, staged: false },
      { from: 2, to: 4, staged: false },
    ]);
  });

  it('covers every shard exactly once, in order', () => {
    const rows = Array.from({ length: 50 }, (_, i) => (i * 7919) % 1500);
    const batches = shardBatches(rows, 2000, (i) => i % 13 === 0);
    assert.deepEqual(batches.flatMap((b) => Array.from({ length: b.to - b.from }, (_, k) => b.from + k)), rows.map((_, i) => i));
    for (const b of batches) if (b.to - b.from > 1) assert.ok(rows.slice(b.from, b.to).reduce((a, n) => a + n, 0) <= 2000);
  });
});
