// The run summary people read: the profile's time with the others, and on BigQuery what the run cost.

import assert from 'node:assert/strict';
import { nextStep, summarise, summaryTable } from '../../shared/cli/summary.js';
import type { RunRecord } from '../../shared/ports.js';

const run: RunRecord = {
  runId: 'eurusd-20250101t000000-abc123',
  pair: 'eurusd',
  state: 'succeeded',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:09.000Z',
  window: { start: '2020-01-06T00:00:00Z', end: '2020-01-13T00:00:00Z' },
  expected: 667,
  labelRows: 10_000,
  manifestObject: 'runs/eurusd-20250101t000000-abc123/manifest.json',
  transitions: [],
  reconcileAttempts: 0,
  mergeAttempts: 1,
  warnings: [],
  timings: { discover_ms: 300, extract_ms: 4000, merge_ms: 1400, profile_ms: 2100, total_ms: 8700 },
};

describe('cli/run summary', () => {
  it('shows the profile\'s time; embedded, no cost line and no cost in --json', () => {
    const s = summarise(run, 667, null);
    assert.equal(s.cost, undefined);
    const table = summaryTable(s);
    assert.match(table, /\n {2}merge {12}1\.4 s\n {2}profile {10}2\.1 s\n {2}total {12}8\.7 s/);
    assert.doesNotMatch(table, /cost/);
  });

  it('on BigQuery: what the run cost on demand and the bytes its jobs billed', () => {
    const s = summarise({ ...run, costUsd: 0.0412, bytesBilled: 6.75 * 2 ** 30 }, 667, null);
    assert.deepEqual(s.cost, { usd: 0.0412, bytesBilled: 6.75 * 2 ** 30 });
    assert.match(summaryTable(s), /\n {2}cost {13}\$0\.0412 on demand \(6\.75 GiB billed\)$/m);
  });

  it('says how to finish a failed run: its missing extracts, or its merge, after freeing disk when that was the cause', () => {
    const failed: RunRecord = { ...run, state: 'failed', error: 'stalled: 1 feature(s) never landed after 2 attempts: reg_eurusd' };
    assert.equal(nextStep(summarise(failed, 666, null)), `bqx rerun ${run.runId} --missing`);
    const merge = summarise({ ...failed, error: 'merge: ENOSPC: no space left on device, write' }, 667, null);
    const next = nextStep(merge)!;
    assert.match(next, /^free disk space \(`bqx gc --keep 1` removes older datasets and this run's unfinished output\), then bqx rerun \S+ --merge$/);
    assert.match(summaryTable(merge, [], next), /\n {2}error {12}merge: ENOSPC[^\n]*\n {2}next {13}free disk space/);
    assert.equal(nextStep(summarise({ ...failed, error: 'profile: out of memory' }, 667, null)), `bqx rerun ${run.runId} --merge`);
    // A failed quality gate: the dataset is there, and a rerun would fail the same gate.
    assert.equal(nextStep(summarise({ ...failed, error: 'quality gate failed: rows >= 150000' }, 667, '/home/.bqx/output/_manifest.json')), undefined);
    assert.equal(nextStep(summarise(run, 667, '/home/.bqx/output/_manifest.json')), undefined);
    assert.doesNotMatch(summaryTable(summarise(run, 667, null)), /next/);
  });
});
