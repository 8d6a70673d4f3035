import assert from 'node:assert/strict';
import { allSettledOrThrow, mapLimit } from '../../shared/concurrency.js';

const later = <T>(ms: number, value: T, fail = false) =>
  new Promise<T>((resolve, reject) => setTimeout(() => (fail ? reject(value) : resolve(value)), ms));

describe('concurrency helpers', () => {
  it('allSettledOrThrow waits for every promise, then throws the first failure in the list order', async () => {
    const ended: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => p.finally(() => ended.push(name));
    // The second fails first in time; the first's failure is the one reported, once all have settled.
    const first = track('texts', later(30, new Error('texts failed'), true));
    const second = track('extras', later(5, new Error('extras failed'), true));
    const third = track('slow write', later(60, 'ok'));
    await assert.rejects(allSettledOrThrow([first, second, third]), /texts failed/);
    assert.deepEqual(ended, ['extras', 'texts', 'slow write']);
  });

  it('allSettledOrThrow resolves when none fails, and throws a lone failure', async () => {
    await allSettledOrThrow([later(5, 1), later(1, 2)]);
    await assert.rejects(allSettledOrThrow([later(5, 1), later(1, new Error('only this'), true)]), /only this/);
  });

  it('mapLimit keeps the input order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([30, 5, 20, 1, 10], 2, async (ms, i) => {
      most = Math.max(most, ++running);
      await later(ms, null);
      running--;
      return i * 10;
    });
    assert.deepEqual(out, [0, 10, 20, 30, 40]);
    assert.equal(most, 2);
  });

  it('mapLimit starts nothing after a failure and throws it once the calls in flight have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const mapped = mapLimit([5, 40, 10, 10, 10], 2, async (ms, i) => {
      started.push(i);
      await later(ms, null);
      ended.push(i);
      if (i === 0) throw new Error('item 0 failed');
      return i;
    });
    await assert.rejects(mapped, /item 0 failed/);
    assert.deepEqual(started, [0, 1], 'no item started after the failure');
    assert.deepEqual(ended, [0, 1], 'the call in flight ended before the failure was thrown');
  });
});
