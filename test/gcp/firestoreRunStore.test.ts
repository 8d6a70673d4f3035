// The Firestore run store against the real Firestore emulator (skipped, saying so, without
// gcloud/java): one active run per pair under concurrent starts, checkpoints counted once under
// concurrent duplicate landings, a merge claimed once under concurrent claims.

import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import sinon from 'sinon';
import { FirestoreRunStore, PairBusyError } from '../../shared/adapters/gcp/firestoreRunStore.js';
import { ConflictError, NotFoundError } from '../../shared/naming.js';
import type { CheckpointRecord, RunRecord, RunState } from '../../shared/ports.js';
import { startEmulator, useEmulatorEnv, type Emulator } from './emulators.js';

const WINDOW = { start: '2024-01-01T00:00:00.000Z', end: '2024-07-01T00:00:00.000Z' };

function runRecord(runId: string, createdAt: string, state: RunState = 'extracting'): RunRecord {
  return {
    runId,
    pair: runId.slice(0, 6),
    state,
    createdAt,
    updatedAt: createdAt,
    window: WINDOW,
    expected: 667,
    labelRows: 2_164_270,
    manifestObject: `runs/${runId}/manifest.json`,
    transitions: [{ state, at: createdAt }],
    reconcileAttempts: 0,
    mergeAttempts: 0,
    warnings: [],
    timings: {},
  };
}

function checkpoint(runId: string, feature: string): CheckpointRecord {
  return {
    runId,
    feature,
    landedAt: '2025-01-01T00:05:00.000Z',
    files: [`runs/${runId}/features/${feature}/part-00000.parquet`],
    rows: 1000,
    sourceRows: 1002,
    duplicates: 2,
    nullCounts: { [`${feature}_x`]: 0 },
    minKey: WINDOW.start,
    maxKey: '2024-06-30T23:59:00.000Z',
    bytes: 4096,
  };
}

const moveTo = (state: RunState, at: string) => (run: RunRecord): RunRecord => ({
  ...run,
  state,
  updatedAt: at,
  transitions: [...run.transitions, { state, at }],
});

describe('gcp/FirestoreRunStore (Firestore emulator)', function () {
  let emulator: Emulator | undefined;
  let db: Firestore;
  let store: FirestoreRunStore;
  let sandbox: sinon.SinonSandbox;
  let restoreEnv: (() => void) | undefined;

  before(async function () {
    emulator = await startEmulator('firestore');
    if (!emulator) return this.skip();
    restoreEnv = useEmulatorEnv(emulator);
    db = new Firestore({ projectId: emulator.project });
    store = new FirestoreRunStore(db);
  });

  after(async () => {
    if (store) await store.close();
    restoreEnv?.();
    if (emulator) await emulator.stop();
  });

  beforeEach(async () => {
    sandbox = sinon.createSandbox();
    const reset = await fetch(`http://${emulator!.host}/emulator/v1/projects/${emulator!.project}/databases/(default)/documents`, { method: 'DELETE' });
    assert.equal(reset.status, 200);
  });

  afterEach(() => sandbox.restore());

  it('keeps a refusal with expireAt, a timestamp 30 days after it, for the TTL policy terraform/ sets', async () => {
    await store.recordRefusal({ requestId: '9876543210', pair: 'gbpjpy', reason: 'label table x not found', at: '2026-01-01T00:00:00.000Z' });
    const raw = (await db.collection('refusals').doc('9876543210').get()).data()!;
    assert.equal(raw.expireAt.toDate().toISOString(), '2026-01-31T00:00:00.000Z');
    assert.deepEqual(await store.getRefusal('9876543210'), { requestId: '9876543210', pair: 'gbpjpy', reason: 'label table x not found', at: '2026-01-01T00:00:00.000Z' });
  });

  it('of two concurrent starts for one pair, exactly one creates its run', async () => {
    const a = runRecord('eurusd-20250101t000000-aaaaaa', '2025-01-01T00:00:00.000Z');
    const b = runRecord('eurusd-20250101t000001-bbbbbb', '2025-01-01T00:00:01.000Z');
    const results = await Promise.all([store.createRun(a), store.createRun(b)]);
    assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
    const winner = results.find((r) => r.created)!.run;
    const loser = results.find((r) => !r.created)!;
    assert.equal(loser.run.runId, winner.runId, 'the refused start is shown the active run');
    assert.deepEqual(await store.getRun(winner.runId), winner);
    assert.equal(await store.getRun(winner.runId === a.runId ? b.runId : a.runId), undefined);
    assert.equal((await store.activeRun('eurusd'))?.runId, winner.runId);
    const again = await store.createRun(runRecord('eurusd-20250101t000002-cccccc', '2025-01-01T00:00:02.000Z'));
    assert.deepEqual([again.created, again.run.runId], [false, winner.runId]);
    assert.equal((await store.createRun(runRecord('gbpusd-20250101t000000-dddddd', '2025-01-01T00:00:00.000Z'))).created, true, 'another pair is free');
  });

  it('frees the pair when a run ends, and refuses to reopen it while another run is active', async () => {
    const a = runRecord('eurusd-20250101t000000-aaaaaa', '2025-01-01T00:00:00.000Z');
    const b = runRecord('eurusd-20250102t000000-bbbbbb', '2025-01-02T00:00:00.000Z');
    await store.createRun(a);
    const ended = await store.updateRun(a.runId, moveTo('succeeded', '2025-01-01T01:00:00.000Z'));
    assert.equal(ended.changed, true);
    assert.equal(await store.activeRun('eurusd'), undefined);
    assert.equal((await store.createRun(b)).created, true);
    assert.deepEqual(
      (await store.listActiveRuns()).map((r) => r.runId),
      [b.runId],
    );

    await assert.rejects(store.updateRun(a.runId, moveTo('merging', '2025-01-02T01:00:00.000Z')), (e: unknown) => e instanceof PairBusyError && e instanceof ConflictError);
    assert.equal((await store.getRun(a.runId))?.state, 'succeeded', 'the refused reopening changed nothing');

    await store.updateRun(b.runId, moveTo('failed', '2025-01-02T02:00:00.000Z'));
    const reopened = await store.updateRun(a.runId, moveTo('merging', '2025-01-02T03:00:00.000Z'));
    assert.equal(reopened.changed, true);
    assert.equal((await store.activeRun('eurusd'))?.runId, a.runId, 'the reopened run holds the pair again');
    assert.equal((await store.lastRun('eurusd'))?.runId, b.runId, 'last run is the most recently created');
    assert.equal(await store.lastRun('gbpusd'), undefined);
  });

  it('records each checkpoint once: 200 concurrent landings of 100 features count 100', async () => {
    const runId = 'eurusd-20250101t000000-aaaaaa';
    await store.createRun(runRecord(runId, '2025-01-01T00:00:00.000Z'));
    const features = Array.from({ length: 100 }, (_, i) => `feature_${String(i).padStart(3, '0')}`);
    const landings = [...features, ...features].map((f) => checkpoint(runId, f));
    const created = await Promise.all(landings.map((c) => store.recordCheckpoint(c)));
    assert.equal(created.filter(Boolean).length, 100);
    assert.equal(await store.countCheckpoints(runId), 100);
    const listed = await store.listCheckpoints(runId);
    assert.deepEqual(
      listed.map((c) => c.feature),
      features,
    );
    assert.deepEqual(listed[0], checkpoint(runId, 'feature_000'));
    assert.equal((await store.getRun(runId))?.updatedAt, '2025-01-01T00:00:00.000Z', 'landings never write the run document');

    await store.deleteCheckpoint(runId, 'feature_007');
    assert.equal(await store.countCheckpoints(runId), 99);
    assert.equal(await store.recordCheckpoint(checkpoint(runId, 'feature_007')), true, 'a rerun feature lands again');
  });

  it('lets exactly one of ten concurrent claims move the run to merging', async () => {
    const runId = 'eurusd-20250101t000000-aaaaaa';
    await store.createRun(runRecord(runId, '2025-01-01T00:00:00.000Z'));
    const claim = (run: RunRecord) => (run.state === 'extracting' ? { ...moveTo('merging', '2025-01-01T00:10:00.000Z')(run), mergeAttempts: run.mergeAttempts + 1 } : undefined);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.updateRun(runId, claim)));
    assert.equal(results.filter((r) => r.changed).length, 1);
    const stored = await store.getRun(runId);
    assert.deepEqual([stored?.state, stored?.mergeAttempts, stored?.transitions.length], ['merging', 1, 2]);
    assert.ok(results.every((r) => r.run.state === 'merging'));
  });

  it('drops undefined fields, and refuses a missing run or a change of pair', async () => {
    const runId = 'eurusd-20250101t000000-aaaaaa';
    await store.createRun(runRecord(runId, '2025-01-01T00:00:00.000Z'));
    await store.updateRun(runId, (r) => ({ ...r, error: 'was wrong' }));
    await store.updateRun(runId, (r) => ({ ...r, error: undefined }));
    assert.equal('error' in (await store.getRun(runId))!, false);
    await assert.rejects(store.updateRun('eurusd-20250101t000000-zzzzzz', (r) => r), NotFoundError);
    await assert.rejects(store.updateRun(runId, (r) => ({ ...r, pair: 'gbpusd' })), /may not alter/);
    await assert.rejects(store.getRun('../runs'), /not a run id/);
  });

  it('gives a named claim to exactly one of 300 concurrent callers, without transactions', async () => {
    const run = runRecord('eurusd-20250101t000000-aaaaaa', '2025-01-01T00:00:00.000Z');
    await store.createRun(run);
    const results = await Promise.all(Array.from({ length: 300 }, () => store.claimOnce(run.runId, 'merge_20250101')));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await store.claimOnce(run.runId, 'merge_20250102'), true, 'another claim name is another claim');
  });
});

