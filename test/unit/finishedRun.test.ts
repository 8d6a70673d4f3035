// The run `bqx report`, `view` and `verify` read: a pair names its last run; when that run has no
// output yet (still extracting, say), the refusal names the pair's last dataset to read instead.

import assert from 'node:assert/strict';
import { finishedRun } from '../../shared/cli/report.js';
import { loadConfig } from '../../shared/config.js';
import type { RunRecord } from '../../shared/ports.js';
import { MemoryRunStore } from '../sweep/memoryPorts.js';

const record = (runId: string, createdAt: string, state: RunRecord['state'], output?: RunRecord['output']): RunRecord => ({
  runId, pair: 'eurusd', state, createdAt, updatedAt: createdAt, window: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' },
  expected: 1, labelRows: 1, manifestObject: `runs/${runId}/manifest.json`, transitions: [], reconcileAttempts: 0, mergeAttempts: 1, warnings: [], timings: {},
  ...(output ? { output } : {}),
});

describe('finishedRun', () => {
  it('names the pair\'s last dataset when its last run has none yet', async () => {
    const store = new MemoryRunStore();
    const config = loadConfig({ BQX_HOME: '/nonexistent' });
    const output = { manifest: 'training/eurusd/a/_manifest.json', report: 'training/eurusd/a/report.json', rows: 1, columns: 2, files: 1, bytes: 1 } as unknown as RunRecord['output'];
    await store.createRun(record('eurusd-20260101t000000-aaaaaa', '2026-01-01T00:00:00Z', 'succeeded', output));
    await store.createRun(record('eurusd-20260102t000000-bbbbbb', '2026-01-02T00:00:00Z', 'extracting'));
    await assert.rejects(finishedRun({ store }, config, 'eurusd'), (e: Error) =>
      e.message === "run eurusd-20260102t000000-bbbbbb has no output yet (extracting); the pair's last dataset is run eurusd-20260101t000000-aaaaaa's (succeeded): name it");
    // Named by its id, the run alone is said.
    await assert.rejects(finishedRun({ store }, config, 'eurusd-20260102t000000-bbbbbb'), (e: Error) => e.message === 'run eurusd-20260102t000000-bbbbbb has no output yet (extracting)');
    assert.equal((await finishedRun({ store }, config, 'eurusd-20260101t000000-aaaaaa')).runId, 'eurusd-20260101t000000-aaaaaa');
  });
});
