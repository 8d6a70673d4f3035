// Fixtures built once per mocha run and shared by every --parallel worker: a demo warehouse of 667
// tables costs tens of seconds to build, and each worker building its own (again after every file,
// as per-file temp folders are removed) would cost more than the parallelism saves.
//
// The run's cache folder is made by the global setup in test/helpers/hooks.ts (in mocha's main
// process, before the workers start, which inherit BQXTEST_CACHE) and removed by its teardown.
// Run without it (another runner), each process keeps its own cache and removes it on exit.
// Two workers asking for the same entry at once: the first takes a lock folder and builds into a
// side folder renamed into place when complete; the other waits for the rename.

import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CACHE_ENV = 'BQXTEST_CACHE';

let processCache: string | undefined;

/** The run's cache folder (or, run without the global setup, this process's, removed on exit). */
export function cacheRoot(): string {
  const shared = process.env[CACHE_ENV];
  if (shared) return shared;
  if (!processCache) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bqx-test-cache-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    processCache = dir;
  }
  return processCache;
}

/** The folder `name` in the run's cache, made by `build(dir)` once across every worker. */
export async function sharedBuild(name: string, build: (dir: string) => Promise<void>, timeoutMs = 600_000): Promise<string> {
  const root = cacheRoot();
  const done = path.join(root, name);
  if (existsSync(done)) return done;
  const lock = `${done}.lock`;
  try {
    mkdirSync(lock);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(done)) {
      if (Date.now() > deadline) throw new Error(`test cache: ${name} was not built by another worker within ${timeoutMs / 1000} s`);
      await sleep(200);
    }
    return done;
  }
  const side = `${done}.building`;
  rmSync(side, { recursive: true, force: true });
  mkdirSync(side);
  try {
    await build(side);
    renameSync(side, done);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return done;
}
