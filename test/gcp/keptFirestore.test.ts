// The emulator stack's run records kept between stacks (shared/runtime/keptFirestore.ts): what one
// Firestore emulator held is there when the next starts from the export, so a later stack can
// refresh from an earlier stack's run and retention knows the runs whose files BQX_HOME holds.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { FirestoreRunStore } from '../../shared/adapters/gcp/firestoreRunStore.js';
import type { RunRecord } from '../../shared/ports.js';
import { KeptFirestore } from '../../shared/runtime/keptFirestore.js';
import { startEmulator, useEmulatorEnv } from './emulators.js';
import { tempDir } from '../helpers/temp.js';

const RUN: RunRecord = {
  runId: 'eurusd-20261205t060000-aaaaaa', pair: 'eurusd', state: 'succeeded', createdAt: '2026-12-05T06:00:00.000Z', updatedAt: '2026-12-05T06:01:00.000Z',
  window: { start: '2020-01-06T00:00:00.000Z', end: '2020-01-08T00:00:00.000Z' }, expected: 667, labelRows: 2880,
  manifestObject: 'runs/eurusd-20261205t060000-aaaaaa/manifest.json', transitions: [], reconcileAttempts: 0, mergeAttempts: 0, warnings: [], timings: {}, requestId: '1',
};

describe('runtime/KeptFirestore (Firestore emulator)', function () {
  this.timeout(120_000);

  it('keeps the emulator\'s documents across a stop: the next emulator, started from the export, has the run; a later save replaces the export', async function () {
    const kept = new KeptFirestore(path.join(tempDir('kept-firestore'), 'emulators', 'firestore'));
    assert.equal(await kept.importFile(), undefined, 'nothing kept yet');
    const first = await startEmulator('firestore');
    if (!first) return this.skip();
    let restore = useEmulatorEnv(first);
    let store = new FirestoreRunStore(new Firestore({ projectId: first.project }));
    try {
      assert.equal((await store.createRun(RUN)).created, true);
      await kept.save(first, 1);
    } finally {
      await store.close();
      restore();
      await first.stop();
    }
    const importData = await kept.importFile();
    assert.match(importData ?? '', /export-1\/.+\.overall_export_metadata$/);

    const second = await startEmulator('firestore', { importData: importData! });
    assert.ok(second, 'the emulator started a moment ago starts again');
    restore = useEmulatorEnv(second);
    store = new FirestoreRunStore(new Firestore({ projectId: second.project }));
    try {
      assert.deepEqual(await store.getRun(RUN.runId), RUN);
      assert.equal((await store.lastRun('eurusd'))?.runId, RUN.runId, 'the pair document came back too');
      await kept.save(second, 2);
    } finally {
      await store.close();
      restore();
      await second.stop();
    }
    assert.match((await kept.importFile()) ?? '', /export-2\//);
    assert.deepEqual((await fs.readdir(kept.dir)).sort(), ['current.json', 'export-2'], 'the older export removed');
  });
});
