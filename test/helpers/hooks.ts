// Loaded by .mocharc.json in every mocha process (the main one, and each --parallel worker).
//
// 1. Tests profile only the key (gaps and fold rows) unless a test asks for the full column profile
//    (BQX_PROFILE=full, as test/embedded/profile.test.ts does on its narrow demo): the full profile
//    of a 17,038-column output costs minutes of CPU on a shared 2-core machine.
// 2. Temp folders are removed by a root hook, not a root-level `after()` in a helper: with
//    --parallel a worker imports a helper module once but runs many files, so a hook registered at
//    import would clean up after its first file only. mochaHooks run after every file.
// 3. Global fixtures (main process only, around the whole run): the cache folder that the workers
//    share for fixtures built once per run (test/helpers/sharedCache.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CACHE_ENV } from './sharedCache.js';
import { removeTempDirs } from './temp.js';

process.env.BQX_PROFILE ??= 'keys';

export const mochaHooks = {
  afterAll(): void {
    removeTempDirs();
  },
};

let madeCache: string | undefined;

export function mochaGlobalSetup(): void {
  if (process.env[CACHE_ENV]) return;
  madeCache = mkdtempSync(path.join(os.tmpdir(), 'bqx-test-cache-'));
  process.env[CACHE_ENV] = madeCache;
}

export function mochaGlobalTeardown(): void {
  if (madeCache) rmSync(madeCache, { recursive: true, force: true });
}
