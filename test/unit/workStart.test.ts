// A run's extract and total timings count from when its current work began: its creation, or the
// last rerun that reopened it (a rerun's summary gave the time since the run was created).

import assert from 'node:assert/strict';
import { moved, workStart } from '../../shared/chain/runs.js';
import type { RunRecord } from '../../shared/ports.js';

describe('workStart', () => {
  it('is the creation, then the last rerun that reopened the run', () => {
    const created = '2026-01-01T00:00:00.000Z';
    let run: RunRecord = {
      runId: 'eurusd-20260101t000000-aaaaaa', pair: 'eurusd', state: 'extracting', createdAt: created, updatedAt: created,
      window: { start: '2020-01-01T00:00:00Z', end: '2020-01-02T00:00:00Z' }, expected: 1, labelRows: 1, manifestObject: 'runs/x/manifest.json',
      transitions: [{ state: 'extracting', at: created }], reconcileAttempts: 0, mergeAttempts: 0, warnings: [], timings: {},
    };
    assert.equal(workStart(run), Date.parse(created));
    run = moved(moved(run, 'merging', new Date('2026-01-01T00:05:00Z')), 'succeeded', new Date('2026-01-01T00:06:00Z'));
    assert.equal(workStart(run), Date.parse(created), 'moves of its own work leave it');
    run = moved(run, 'merging', new Date('2026-01-03T09:00:00Z'), 'rerun (merge)');
    run = moved(run, 'succeeded', new Date('2026-01-03T09:02:00Z'));
    assert.equal(workStart(run), Date.parse('2026-01-03T09:00:00Z'), 'the rerun that reopened it');
    run = moved(run, 'extracting', new Date('2026-01-05T10:00:00Z'), 'rerun (features: 2 feature(s))');
    assert.equal(workStart(run), Date.parse('2026-01-05T10:00:00Z'), 'the last such rerun');
  });
});
