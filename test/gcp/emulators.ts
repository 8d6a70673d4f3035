// The emulators for tests: shared/runtime/emulators.ts, except that where they cannot run here
// (no gcloud, java or emulator component) startEmulator prints one `SKIPPED: ... because ...` line
// and returns undefined, so the test can skip itself.
//
//   const emulator = await startEmulator('firestore');
//   if (!emulator) return this.skip();
//   const restoreEnv = useEmulatorEnv(emulator);   // FIRESTORE_EMULATOR_HOST, in this process only
//   ...
//   restoreEnv();
//   await emulator.stop();

import { EmulatorUnavailableError, startEmulator as start, type Emulator, type EmulatorKind, type StartOptions } from '../../shared/runtime/emulators.js';

export { EMULATOR_PROJECT, useEmulatorEnv, type Emulator, type EmulatorKind } from '../../shared/runtime/emulators.js';

export async function startEmulator(kind: EmulatorKind, options: StartOptions = {}): Promise<Emulator | undefined> {
  try {
    return await start(kind, options);
  } catch (error) {
    if (!(error instanceof EmulatorUnavailableError)) throw error;
    console.log(`SKIPPED: ${kind} emulator tests because ${error.reason}`);
    return undefined;
  }
}
