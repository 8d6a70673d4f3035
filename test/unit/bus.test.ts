import assert from 'node:assert/strict';
import { InProcessBus, type BusMessage, type BusScheduler } from '../../shared/adapters/local/bus.js';

const fast = { minBackoffMs: 1, maxBackoffMs: 4 };

describe('in-process bus', () => {
  it('delivers every message at least once, with attributes and JSON data', async () => {
    const bus = new InProcessBus();
    const got: BusMessage[] = [];
    bus.subscribe('t', 's', async (m) => void got.push(m));
    await bus.publish('t', { a: 1 }, { pair: 'eurusd' });
    await bus.publish('t', 'plain');
    await bus.idle();
    assert.deepEqual(got.map((m) => m.data), ['{"a":1}', 'plain']);
    assert.equal(got[0]!.attributes.pair, 'eurusd');
  });

  it('retries a failing handler with backoff, then succeeds', async () => {
    const bus = new InProcessBus();
    const attempts: number[] = [];
    bus.subscribe('t', 's', async (m) => {
      attempts.push(m.deliveryAttempt);
      if (m.deliveryAttempt < 3) throw new Error('temporary');
    }, { maxAttempts: 5, ...fast });
    await bus.publish('t', 'x');
    await bus.idle();
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(bus.deadLetters.length, 0);
  });

  it('dead-letters a message after maxAttempts, with the error', async () => {
    const bus = new InProcessBus();
    bus.subscribe('t', 's', async () => {
      throw new Error('never works');
    }, { maxAttempts: 3, ...fast });
    await bus.publish('t', 'x');
    await bus.idle();
    assert.equal(bus.deadLetters.length, 1);
    assert.equal(bus.deadLetters[0]!.message.deliveryAttempt, 3);
    assert.equal(bus.deadLetters[0]!.error, 'never works');
  });

  it('never runs more handlers at once than the subscription allows', async () => {
    const bus = new InProcessBus();
    let running = 0;
    let peak = 0;
    bus.subscribe('t', 's', async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    }, { concurrency: 3 });
    await bus.publishMany('t', Array.from({ length: 30 }, (_, i) => ({ data: i })));
    await bus.idle();
    assert.equal(peak, 3);
  });

  it('can deliver every message twice', async () => {
    const bus = new InProcessBus({ duplicate: true });
    const got: string[] = [];
    bus.subscribe('t', 's', async (m) => void got.push(m.id));
    await bus.publishMany('t', [{ data: 1 }, { data: 2 }]);
    await bus.idle();
    assert.deepEqual(got.sort(), ['1', '1', '2', '2']);
  });

  it('can fail a share of deliveries, reproducibly, and still deliver all', async () => {
    const run = async () => {
      const bus = new InProcessBus({ failRate: 0.3, seed: 7 });
      const delivered = new Set<string>();
      let calls = 0;
      bus.subscribe('t', 's', async (m) => {
        calls++;
        delivered.add(m.data);
      }, { maxAttempts: 20, ...fast });
      await bus.publishMany('t', Array.from({ length: 100 }, (_, i) => ({ data: String(i) })));
      await bus.idle();
      return { delivered: delivered.size, calls, failures: bus.deadLetters.length };
    };
    const a = await run();
    assert.equal(a.delivered, 100);
    assert.equal(a.failures, 0);
    assert.deepEqual(await run(), a, 'same seed, same outcome');
  });

  it('stops delivering when closed, and idle() still resolves', async () => {
    const bus = new InProcessBus();
    bus.subscribe('t', 's', async () => {
      throw new Error('x');
    }, { maxAttempts: 100, minBackoffMs: 50, maxBackoffMs: 50 });
    await bus.publish('t', 'x');
    const idle = bus.idle();
    bus.close();
    await idle;
    await assert.rejects(bus.publish('t', 'y'), /closed/);
  });

  it('under a scheduler: delivers one at a time in the order it picks, copies and delays as it says, retries on its clock without waiting', async () => {
    let now = 0;
    const picks: number[] = [];
    const scheduler: BusScheduler = {
      now: () => now,
      advanceTo: (ms) => void (now = Math.max(now, ms)),
      pick: (ready) => (picks.push(ready), ready - 1), // the last due first
      copies: (m) => (m.data === 'twice' ? 2 : 1),
      delayMs: () => 0,
      handlingMs: () => 10,
    };
    const bus = new InProcessBus();
    bus.useScheduler(scheduler);
    const got: string[] = [];
    let running = 0;
    bus.subscribe('t', 's', async (m) => {
      assert.equal(++running, 1, 'one delivery at a time');
      got.push(`${m.data}@${m.deliveryAttempt}`);
      await new Promise((r) => setImmediate(r));
      running--;
      if (m.data === 'flaky' && m.deliveryAttempt < 3) throw new Error('temporary');
    }, { concurrency: 8, maxAttempts: 5, minBackoffMs: 60_000, maxBackoffMs: 60_000 });
    for (const data of ['a', 'twice', 'flaky']) await bus.publish('t', data);
    assert.deepEqual(got, [], 'nothing runs until idle() drives it');
    const began = Date.now();
    await bus.idle();
    assert.deepEqual(got, ['flaky@1', 'twice@1', 'twice@1', 'a@1', 'flaky@2', 'flaky@3']);
    assert.ok(Date.now() - began < 5_000, 'the two one-minute backoffs passed on the scheduler\'s clock');
    assert.equal(now, 60_000 + 60_000 + 10, 'each retry due a backoff after its failed delivery, each delivery 10 ms');
    assert.deepEqual(picks, [4, 3, 2, 1, 1, 1]);
  });
});
