// The RunStore contract: what every run store (embedded file store, Firestore) must do. Each
// adapter's test calls runStoreContract with a factory for a fresh, empty store.

import assert from 'node:assert/strict';
import type { CheckpointRecord, RunRecord, RunStore } from '../../shared/ports.js';

let counter = 0;
export function sampleRun(pair = 'eurusd', overrides: Partial<RunRecord> = {}): RunRecord {
  const n = String(++counter).padStart(6, '0');
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString();
  return {
    runId: `${pair}-20260101t000000-${n}`, pair, state: 'extracting', createdAt: at, updatedAt: at,
    window: { start: '2020-01-01T00:00:00.000Z', end: '2020-01-02T00:00:00.000Z' }, expected: 3, labelRows: 10,
    manifestObject: 'runs/x/manifest.json', transitions: [{ state: 'extracting', at }], reconcileAttempts: 0, mergeAttempts: 0,
    warnings: [], timings: {}, ...overrides,
  };
}

export function sampleCheckpoint(runId: string, feature: string): CheckpointRecord {
  return { runId, feature, landedAt: new Date().toISOString(), files: [`runs/${runId}/features/${feature}/part-00000.parquet`], rows: 10, sourceRows: 11, duplicates: 1, nullCounts: { a: 1 }, minKey: null, maxKey: null, bytes: 100 };
}

export function runStoreContract(name: string, make: () => Promise<RunStore>, reopen?: (store: RunStore) => Promise<RunStore>): void {
  describe(`RunStore contract: ${name}`, () => {
    let store: RunStore;
    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      await store.close();
    });

    it('keeps one active run per pair: of concurrent creates, exactly one wins and the others get it', async () => {
      const runs = Array.from({ length: 8 }, () => sampleRun('gbpusd'));
      const results = await Promise.all(runs.map((r) => store.createRun(r)));
      const created = results.filter((r) => r.created);
      assert.equal(created.length, 1);
      const winner = created[0]!.run.runId;
      for (const r of results) assert.equal(r.run.runId, winner);
      assert.equal((await store.activeRun('gbpusd'))?.runId, winner);
      assert.equal((await store.lastRun('gbpusd'))?.runId, winner);
    });

    it('records a checkpoint once per feature and counts distinct features under concurrency', async () => {
      const run = sampleRun();
      await store.createRun(run);
      const features = Array.from({ length: 40 }, (_, i) => `f${i}`);
      const attempts = [...features, ...features, ...features].map((f) => store.recordCheckpoint(sampleCheckpoint(run.runId, f)));
      const created = (await Promise.all(attempts)).filter(Boolean).length;
      assert.equal(created, 40);
      assert.equal(await store.countCheckpoints(run.runId), 40);
      assert.deepEqual((await store.listCheckpoints(run.runId)).map((c) => c.feature).sort(), [...features].sort());
      const { landedAt, ...f7 } = sampleCheckpoint(run.runId, 'f7');
      const got = await store.getCheckpoint(run.runId, 'f7');
      assert.ok(got && typeof got.landedAt === 'string' && landedAt, 'the record of f7 is read back');
      assert.deepEqual({ ...got, landedAt: undefined }, { ...f7, landedAt: undefined });
      await store.deleteCheckpoint(run.runId, 'f0');
      assert.equal(await store.countCheckpoints(run.runId), 39);
      assert.equal(await store.getCheckpoint(run.runId, 'f0'), undefined, 'a deleted record is gone');
      assert.equal(await store.getCheckpoint(run.runId, 'f40'), undefined, 'a feature that never landed has none');
    });

    it('applies concurrent claims in a transaction: exactly one moves the run', async () => {
      const run = sampleRun('audusd');
      await store.createRun(run);
      const claims = await Promise.all(
        Array.from({ length: 10 }, () => store.updateRun(run.runId, (r) => (r.state === 'extracting' ? { ...r, state: 'merging', mergeAttempts: r.mergeAttempts + 1 } : undefined))),
      );
      assert.equal(claims.filter((c) => c.changed).length, 1);
      const stored = await store.getRun(run.runId);
      assert.equal(stored?.state, 'merging');
      assert.equal(stored?.mergeAttempts, 1);
    });

    it('frees the pair when a run ends, and refuses to reopen it while another run is active', async () => {
      const first = sampleRun('nzdusd');
      await store.createRun(first);
      await store.updateRun(first.runId, (r) => ({ ...r, state: 'failed' }));
      assert.equal(await store.activeRun('nzdusd'), undefined);
      assert.equal((await store.listActiveRuns()).some((r) => r.runId === first.runId), false);
      const second = sampleRun('nzdusd');
      assert.equal((await store.createRun(second)).created, true);
      await assert.rejects(store.updateRun(first.runId, (r) => ({ ...r, state: 'extracting' })), /another active run/);
      await store.updateRun(second.runId, (r) => ({ ...r, state: 'succeeded' }));
      const reopened = await store.updateRun(first.runId, (r) => ({ ...r, state: 'merging' }));
      assert.equal(reopened.changed, true);
      assert.equal((await store.activeRun('nzdusd'))?.runId, first.runId);
      // A rerun of the older run does not make it the pair's last: the run started last is (bqx verify <pair>, bqx gc keep it).
      assert.equal((await store.lastRun('nzdusd'))?.runId, second.runId);
      await store.updateRun(first.runId, (r) => ({ ...r, state: 'succeeded' }));
      assert.equal((await store.lastRun('nzdusd'))?.runId, second.runId);
    });

    it('lists every run of a pair, any state, oldest first, and no other pair\'s', async () => {
      const runs = [sampleRun('eurjpy'), sampleRun('eurjpy'), sampleRun('eurjpy')];
      for (const [i, run] of runs.entries()) {
        await store.createRun(run);
        if (i < 2) await store.updateRun(run.runId, (r) => ({ ...r, state: i === 0 ? 'succeeded' : 'failed' }));
      }
      await store.createRun(sampleRun('gbpjpy'));
      const listed = await store.listRuns('eurjpy');
      assert.deepEqual(listed.map((r) => r.runId), runs.map((r) => r.runId));
      assert.deepEqual(listed.map((r) => r.state), ['succeeded', 'failed', 'extracting']);
    });

    it('gives a named claim to exactly one of many concurrent callers', async () => {
      const run = sampleRun('chfjpy');
      await store.createRun(run);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.claimOnce(run.runId, 'merge_1')));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.claimOnce(run.runId, 'merge_2'), true);
      assert.equal(await store.claimOnce(run.runId, 'merge_1'), false);
    });

    it('reports an unknown run as absent and refuses to update it', async () => {
      assert.equal(await store.getRun('eurusd-20200101t000000-zzzzzz'), undefined);
      await assert.rejects(store.updateRun('eurusd-20200101t000000-zzzzzz', (r) => r), /not found/);
    });

    it('keeps why a request was refused, by its id: absent until recorded, the latest reason wins, an id it cannot keep is refused', async () => {
      const id = `${Date.now()}${counter++}`;
      assert.equal(await store.getRefusal(id), undefined);
      await store.recordRefusal({ requestId: id, pair: 'eurusd', reason: 'label table x not found', at: '2026-01-01T00:00:00.000Z' });
      await store.recordRefusal({ requestId: id, pair: 'eurusd', reason: 'no feature tables', at: '2026-01-01T00:00:01.000Z' });
      assert.deepEqual(await store.getRefusal(id), { requestId: id, pair: 'eurusd', reason: 'no feature tables', at: '2026-01-01T00:00:01.000Z' });
      assert.equal(await store.getRefusal(`${id}0`), undefined, 'another request');
      await assert.rejects(store.getRefusal('../runs/x'), /is not one a store keeps/);
    });

    if (reopen) {
      it('survives a restart: a new store on the same data sees the runs and checkpoints', async () => {
        const run = sampleRun('usdcad');
        await store.createRun(run);
        await store.recordCheckpoint(sampleCheckpoint(run.runId, 'a'));
        store = await reopen(store);
        assert.equal((await store.activeRun('usdcad'))?.runId, run.runId);
        assert.equal(await store.countCheckpoints(run.runId), 1);
        assert.equal(await store.recordCheckpoint(sampleCheckpoint(run.runId, 'a')), false);
      });
    }
  });
}
