// What a refresh follows: the pair's newest succeeded run whose run manifest is still in staging,
// and a refusal that says why when there is none (on Google Cloud, the staging bucket's lifecycle
// rule deletes runs/ after staging_retention_days, whatever retention keeps).

import assert from 'node:assert/strict';
import { refreshBase } from '../../shared/chain/refresh.js';
import type { RunRecord } from '../../shared/ports.js';
import { MemoryObjectStore } from '../gcp/memoryStore.js';
import { MemoryRunStore } from '../sweep/memoryPorts.js';

const record = (runId: string, createdAt: string): RunRecord => ({
  runId, pair: 'eurusd', state: 'succeeded', createdAt, updatedAt: createdAt, window: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' },
  expected: 1, labelRows: 1, manifestObject: `runs/${runId}/manifest.json`, transitions: [], reconcileAttempts: 0, mergeAttempts: 1, warnings: [], timings: {},
});

describe('refreshBase', () => {
  it('follows the newest succeeded run with its manifest; without any, says whether the manifests are gone or there is no run', async () => {
    const store = new MemoryRunStore();
    const staging = new MemoryObjectStore('staging');
    await assert.rejects(refreshBase({ store, staging }, 'eurusd'), /^InputError: pair eurusd has no succeeded run to refresh from: run it without --refresh first$/);
    const [older, newer] = [record('eurusd-20260101t000000-aaaaaa', '2026-01-01T00:00:00Z'), record('eurusd-20260108t000000-bbbbbb', '2026-01-08T00:00:00Z')];
    for (const run of [older, newer]) await store.createRun(run);
    await staging.write(older.manifestObject, JSON.stringify({ features: [] }));
    assert.equal((await refreshBase({ store, staging }, 'eurusd')).run.runId, older.runId, 'the newer one has no manifest: the older one is followed');
    await staging.deletePrefix('runs/');
    await assert.rejects(
      refreshBase({ store, staging }, 'eurusd'),
      (e: Error) => e.message === `pair eurusd has 2 succeeded run(s), but none has its run manifest left in staging (${newer.manifestObject}: removed by retention, or by the staging bucket's lifecycle rule after staging_retention_days): run it without --refresh (a full build)`,
    );
  });
});
