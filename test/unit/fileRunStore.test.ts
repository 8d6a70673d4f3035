
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { REFUSAL_DAYS, type CheckpointRecord } from '../../shared/ports.js';
import { runStoreContract } from '../contracts/runStore.contract.js';
import { tempDir } from '../helpers/temp.js';

runStoreContract(
  'embedded file store',
  async () => new FileRunStore(tempDir('store')),
  async (store) => {
    await store.close();
    return new FileRunStore((store as FileRunStore).root);
  },
);

// The embedded runtime's own store (the sole writer of its home): the same contract with the
// landed checkpoints counted in memory after one listing.
runStoreContract(
  'embedded file store, sole writer',
  async () => new FileRunStore(tempDir('store'), { soleWriter: true }),
  async (store) => {
    await store.close();
    return new FileRunStore((store as FileRunStore).root, { soleWriter: true });
  },
);

describe('embedded file store: its folders', () => {
  it('records into a folder removed since the store made it (the store makes each folder once)', async () => {
    const store = new FileRunStore(tempDir('store'));
    const runId = 'eurusd-20260101t000000-abc123';
    const record = (feature: string): CheckpointRecord => ({
      runId, feature, landedAt: '2026-01-01T00:00:00.000Z', files: [], rows: 1, sourceRows: 1, duplicates: 0, nullCounts: {}, minKey: null, maxKey: null, bytes: 0,
    });
    assert.equal(await store.recordCheckpoint(record('agg_eurusd')), true);
    rmSync(path.join(store.root, 'checkpoints'), { recursive: true });
    assert.equal(await store.countCheckpoints(runId), 0);
    assert.equal(await store.recordCheckpoint(record('agg_eurusd')), true, 'made again, and recorded');
    assert.equal(await store.recordCheckpoint(record('agg_eurusd')), false, 'once');
    assert.deepEqual((await store.listCheckpoints(runId)).map((r) => r.feature), ['agg_eurusd']);
  });

  it('as the sole writer, counts from one listing what it records and deletes; records made before it opened are counted too', async () => {
    const root = tempDir('store');
    const runId = 'eurusd-20260101t000000-abc123';
    const record = (feature: string): CheckpointRecord => ({
      runId, feature, landedAt: '2026-01-01T00:00:00.000Z', files: [], rows: 1, sourceRows: 1, duplicates: 0, nullCounts: {}, minKey: null, maxKey: null, bytes: 0,
    });
    const before = new FileRunStore(root);
    await before.recordCheckpoint(record('agg_eurusd'));
    const store = new FileRunStore(root, { soleWriter: true });
    assert.equal(await store.countCheckpoints(runId), 1, 'the record made before it opened');
    assert.equal(await store.recordCheckpoint(record('mom_eurusd')), true);
    assert.equal(await store.recordCheckpoint(record('mom_eurusd')), false);
    assert.equal(await store.countCheckpoints(runId), 2);
    await store.deleteCheckpoint(runId, 'agg_eurusd');
    assert.equal(await store.countCheckpoints(runId), 1);
    assert.equal(await new FileRunStore(root).countCheckpoints(runId), 1, 'the folder says the same');
    // What it counts is its own memory: a record written behind its back (which the embedded
    // runtime's lock rules out) is not seen, where a store that lists every time sees it.
    await before.recordCheckpoint(record('lag_eurusd'));
    assert.equal(await store.countCheckpoints(runId), 1);
    assert.equal(await new FileRunStore(root).countCheckpoints(runId), 2);
  });
});

describe('embedded file store: a run\'s checkpoint folder', () => {
  it('goes with its last record, and is made again by a record written after', async () => {
    const root = tempDir('store');
    const runId = 'eurusd-20260101t000000-abc123';
    const record = (feature: string): CheckpointRecord => ({
      runId, feature, landedAt: '2026-01-01T00:00:00.000Z', files: [], rows: 1, sourceRows: 1, duplicates: 0, nullCounts: {}, minKey: null, maxKey: null, bytes: 0,
    });
    const store = new FileRunStore(root, { soleWriter: true });
    const dir = path.join(root, 'checkpoints', runId);
    await store.recordCheckpoint(record('agg_eurusd'));
    await store.recordCheckpoint(record('mom_eurusd'));
    await store.deleteCheckpoint(runId, 'agg_eurusd');
    assert.ok(existsSync(dir), 'a record is left: the folder stays');
    await store.deleteCheckpoint(runId, 'mom_eurusd');
    assert.ok(!existsSync(dir), 'the last record gone: so is the folder');
    await store.deleteCheckpoint(runId, 'mom_eurusd'); // again, with no folder: nothing to do
    assert.deepEqual([await store.countCheckpoints(runId), (await store.listCheckpoints(runId)).length], [0, 0]);
    assert.equal(await store.recordCheckpoint(record('lag_eurusd')), true);
    assert.deepEqual((await new FileRunStore(root).listCheckpoints(runId)).map((r) => r.feature), ['lag_eurusd']);
  });
});

describe('embedded file store: refusals', () => {
  it('removes refusals recorded more than REFUSAL_DAYS before the one it records (as the Firestore TTL does), and keeps the rest', async () => {
    const store = new FileRunStore(tempDir('store'));
    const refusal = (requestId: string, at: string) => ({ requestId, pair: 'eurusd', reason: 'no feature tables', at });
    await store.recordRefusal(refusal('1', '2026-01-01T00:00:00.000Z'));
    await store.recordRefusal(refusal('2', '2026-01-20T00:00:00.000Z'));
    await store.recordRefusal(refusal('3', `2026-01-${String(1 + REFUSAL_DAYS).padStart(2, '0')}T00:00:01.000Z`));
    assert.equal(await store.getRefusal('1'), undefined, 'older than REFUSAL_DAYS: removed');
    assert.equal((await store.getRefusal('2'))?.at, '2026-01-20T00:00:00.000Z');
    assert.equal((await store.getRefusal('3'))?.requestId, '3');
    assert.deepEqual(readdirSync(path.join(store.root, 'refusals')).sort(), ['2.json', '3.json']);
  });
});
