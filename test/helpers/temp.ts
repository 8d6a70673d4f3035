// Temp folders for tests, removed when the whole run ends (a root-level after hook): a full-width
// test home holds hundreds of MB, and a suite that leaves them behind fills the disk over runs.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bqx-${prefix}-`));
  made.push(dir);
  return dir;
}

after(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
