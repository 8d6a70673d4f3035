// Retention's dependencies on the embedded stores in a fresh temp folder, and run records to fill
// them with: what the retention unit tests build their worlds from.

import path from 'node:path';
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { loadConfig } from '../../shared/config.js';
import { silentLogger } from '../../shared/log.js';
import { paths } from '../../shared/naming.js';
import type { RunRecord, RunState } from '../../shared/ports.js';
import { tempDir } from './temp.js';

export const WINDOW = { start: '2024-01-01T00:00:00.000Z', end: '2024-01-02T00:00:00.000Z' };

/** A file run store, folder stores and a clock fixed at 2024-01-03, under a new temp folder. */
export function retentionDeps(prefix: string) {
  const home = tempDir(prefix);
  return {
    store: new FileRunStore(path.join(home, 'runstore')),
    staging: new FolderObjectStore(path.join(home, 'staging')),
    output: new FolderObjectStore(path.join(home, 'output')),
    clock: { now: () => new Date('2024-01-03T00:00:00Z') },
    logger: silentLogger,
    config: loadConfig({ BQX_HOME: home }),
  };
}

/** A run record of one feature over WINDOW, its pair from its id. */
export function runRecord(runId: string, state: RunState, createdAt: string): RunRecord {
  return {
    runId, pair: runId.slice(0, 6), state, createdAt, updatedAt: createdAt, window: WINDOW, expected: 1, labelRows: 10,
    manifestObject: paths.manifest(runId), transitions: [{ state, at: createdAt }], reconcileAttempts: 0,
    mergeAttempts: 0, warnings: [], timings: {},
  };
}
