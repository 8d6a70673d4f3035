// The memory gate of the embedded extracts: tasks run side by side only while their estimates fit
// in the budget; a task over the whole budget runs alone; waiting tasks start in arrival order.

import assert from 'node:assert/strict';
import { MemoryGate } from '../../shared/adapters/local/memoryGate.js';

function task(gate: MemoryGate, mb: number, log: string[], name: string, release: Promise<void>) {
  return gate.run(mb, async () => {
    log.push(`start ${name}`);
    await release;
    log.push(`end ${name}`);
  });
}

function latch() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('MemoryGate', () => {
  it('runs small tasks side by side and holds a wide one until the budget has room', async () => {
    const gate = new MemoryGate(1000);
    const log: string[] = [];
    const [a, b, c] = [latch(), latch(), latch()];
    const all = [task(gate, 100, log, 'narrow1', a.promise), task(gate, 100, log, 'narrow2', b.promise), task(gate, 900, log, 'wide', c.promise)];
    await tick();
    assert.deepEqual(log, ['start narrow1', 'start narrow2']);
    a.open();
    await tick();
    assert.deepEqual(log, ['start narrow1', 'start narrow2', 'end narrow1', 'start wide'], 'the wide one starts once 100 + 900 fits in 1000');
    b.open();
    c.open();
    await Promise.all(all);
    assert.deepEqual(log.slice(4).sort(), ['end narrow2', 'end wide']);
  });

  it('runs a task larger than the budget alone, and later tasks in arrival order', async () => {
    const gate = new MemoryGate(500);
    const log: string[] = [];
    const [a, b, c] = [latch(), latch(), latch()];
    const all = [task(gate, 5000, log, 'huge', a.promise), task(gate, 10, log, 'small1', b.promise), task(gate, 10, log, 'small2', c.promise)];
    await tick();
    assert.deepEqual(log, ['start huge']);
    a.open();
    await tick();
    await tick();
    assert.deepEqual(log, ['start huge', 'end huge', 'start small1', 'start small2']);
    b.open();
    c.open();
    await Promise.all(all);
  });

  it('frees its share when a task fails', async () => {
    const gate = new MemoryGate(100);
    await assert.rejects(gate.run(100, async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await gate.run(100, async () => 'ran'), 'ran');
  });
});
