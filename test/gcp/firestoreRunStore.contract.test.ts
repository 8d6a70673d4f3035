// The Firestore run store through the same RunStore contract as the embedded file store
// (test/contracts), on the Firestore emulator; without gcloud/java it prints SKIPPED and is pending.

import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import { FirestoreRunStore } from '../../shared/adapters/gcp/firestoreRunStore.js';
import { runStoreContract } from '../contracts/runStore.contract.js';
import { startEmulator, useEmulatorEnv, type Emulator } from './emulators.js';

describe('gcp/FirestoreRunStore, the run-store contract (Firestore emulator)', function () {
  let emulator: Emulator | undefined;
  let restoreEnv: (() => void) | undefined;
  const opened: Firestore[] = [];

  before(async function () {
    emulator = await startEmulator('firestore');
    if (!emulator) return this.skip();
    restoreEnv = useEmulatorEnv(emulator);
  });

  after(async () => {
    for (const db of opened) await db.terminate().catch(() => {});
    restoreEnv?.();
    if (emulator) await emulator.stop();
  });

  runStoreContract('Firestore (emulator)', async () => {
    const reset = await fetch(`http://${emulator!.host}/emulator/v1/projects/${emulator!.project}/databases/(default)/documents`, { method: 'DELETE' });
    assert.equal(reset.status, 200);
    const db = new Firestore({ projectId: emulator!.project });
    opened.push(db);
    return new FirestoreRunStore(db);
  });
});
