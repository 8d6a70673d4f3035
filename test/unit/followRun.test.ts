// Finding and following the run a published request started, from the run store alone
// (shared/runtime/followRun.ts): the pair's active run, or a quick run that already ended, but
// never a run that was there before the request, nor (with force) the active run it replaces.

import assert from 'node:assert/strict';
import type { ChainEvent } from '../../shared/chain/deps.js';
import type { RunRecord, RunState, RunStore } from '../../shared/ports.js';
import { followRun, runOfRequest, snapshotPair } from '../../shared/runtime/followRun.js';

const run = (runId: string, state: RunState): RunRecord => ({
  runId, pair: 'eurusd', state, createdAt: '2025-01-01T00:00:00.000Z', updatedAt: '2025-01-01T00:00:00.000Z',
  window: { start: '2024-01-01T00:00:00.000Z', end: '2024-02-01T00:00:00.000Z' }, expected: 3, labelRows: 10,
  manifestObject: 'm', transitions: [], reconcileAttempts: 0, mergeAttempts: 0, warnings: [], timings: {},
});

/** A run store of one pair's runs, newest last, and a landed count per run. */
function storeOf(runs: RunRecord[], landed: Record<string, number> = {}): RunStore {
  return {
    activeRun: async () => runs.filter((r) => r.state === 'extracting' || r.state === 'merging').at(-1),
    lastRun: async () => runs.at(-1),
    getRun: async (id: string) => runs.find((r) => r.runId === id),
    countCheckpoints: async (id: string) => landed[id] ?? 0,
  } as unknown as RunStore;
}

describe('runtime/followRun', () => {
  it('takes the active run, or a new run that already ended, never an older one', async () => {
    const runs = [run('eurusd-20250101t000000-aaaaaa', 'succeeded')];
    const store = storeOf(runs);
    const before = await snapshotPair(store, 'eurusd');
    assert.deepEqual(before, { last: 'eurusd-20250101t000000-aaaaaa' });
    assert.equal(await runOfRequest(store, 'eurusd', before, false), undefined, 'the last run from before is not the one');
    runs.push(run('eurusd-20250101t000100-bbbbbb', 'succeeded'));
    assert.equal((await runOfRequest(store, 'eurusd', before, false))?.runId, 'eurusd-20250101t000100-bbbbbb', 'a quick run that ended between polls');
  });

  it('joins the active run the request joined; with force, waits for the run that replaces it', async () => {
    const runs = [run('eurusd-20250101t000000-aaaaaa', 'extracting')];
    const store = storeOf(runs);
    const before = await snapshotPair(store, 'eurusd');
    assert.equal((await runOfRequest(store, 'eurusd', before, false))?.runId, 'eurusd-20250101t000000-aaaaaa');
    assert.equal(await runOfRequest(store, 'eurusd', before, true), undefined);
    runs[0] = { ...runs[0]!, state: 'failed' };
    assert.equal(await runOfRequest(store, 'eurusd', before, true), undefined, 'the replaced run, now failed, is not the one');
    runs.push(run('eurusd-20250101t000100-bbbbbb', 'extracting'));
    assert.equal((await runOfRequest(store, 'eurusd', before, true))?.runId, 'eurusd-20250101t000100-bbbbbb');
  });

  it('follows the run to its end with started, landed, merge and finished events', async () => {
    const runs: RunRecord[] = [];
    const landed: Record<string, number> = {};
    const store = storeOf(runs, landed);
    const id = 'eurusd-20250101t000100-bbbbbb';
    // Each poll moves the run on: appears, lands 1, 3, merges, succeeds.
    const script = [
      () => runs.push(run(id, 'extracting')),
      () => (landed[id] = 1),
      () => (landed[id] = 3),
      () => (runs[0] = { ...runs[0]!, state: 'merging' }),
      () => (runs[0] = { ...runs[0]!, state: 'succeeded' }),
    ];
    const events: ChainEvent[] = [];
    const result = await followRun({ store, pair: 'eurusd', before: {}, observe: (e) => events.push(e), sleep: async () => void script.shift()?.() });
    assert.equal(result.run.state, 'succeeded');
    assert.equal(result.landed, 3);
    assert.deepEqual(
      events.map((e) => (e.type === 'landed' ? `landed ${e.landed}/${e.expected}` : e.type === 'merge' ? `merge ${e.progress.done}/${e.progress.total}` : e.type)),
      ['started', 'landed 0/3', 'landed 1/3', 'landed 3/3', 'merge 0/1', 'merge 1/1', 'finished'],
    );
  });

  it('says at once why startRun refused the request when it recorded a refusal for the request\'s id', async () => {
    let polls = 0;
    const store = { ...storeOf([]), getRefusal: async (id: string) => (id === '42' && ++polls >= 2 ? { requestId: '42', pair: 'eurusd', reason: 'label table x not found', at: '' } : undefined) } as unknown as RunStore;
    await assert.rejects(
      followRun({ store, pair: 'eurusd', before: {}, requestId: '42', appearMs: 60_000, sleep: async () => {} }),
      (e: Error) => e.name === 'InputError' && e.message === 'startRun refused the request: label table x not found',
    );
    assert.equal(polls, 2, 'found on the second poll, long before the wait for a run ends');
  });

  it('takes no refusal recorded before the request was sent: an earlier request had its id (the emulator stack numbers messages from 1 each start)', async () => {
    const sentAt = Date.parse('2026-12-05T06:00:00.000Z');
    let at = '2026-12-05T05:59:59.000Z'; // an earlier stack's request "1"
    let polls = 0;
    const store = { ...storeOf([]), getRefusal: async () => (++polls >= 3 && (at = '2026-12-05T06:00:01.000Z'), { requestId: '1', pair: 'eurusd', reason: `refused at ${at}`, at }) } as unknown as RunStore;
    await assert.rejects(
      followRun({ store, pair: 'eurusd', before: {}, requestId: '1', sentAt, appearMs: 60_000, sleep: async () => {} }),
      (e: Error) => e.name === 'InputError' && e.message === 'startRun refused the request: refused at 2026-12-05T06:00:01.000Z',
    );
    assert.equal(polls, 3, 'the stale refusal was passed over twice');
  });

  it('says startRun may have refused the request when no run appears in time', async () => {
    await assert.rejects(
      followRun({ store: storeOf([]), pair: 'eurusd', before: {}, appearMs: 0, sleep: async () => {} }),
      /no run of eurusd appeared within 0 s of the request: startRun may have refused it/,
    );
  });
});
