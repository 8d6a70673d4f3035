// Temp folders for tests, removed when a test file's run ends (test/helpers/hooks.ts, a root-hook
// plugin: after each file in parallel mode, once at the end in serial mode): a full-width test home
// holds hundreds of MB, and a suite that leaves them behind fills the disk over runs.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bqx-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made so far (called by the root hook). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
