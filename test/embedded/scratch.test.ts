// The embedded runtime's scratch folders after a process that stopped mid-write (killed, crashed):
// emptied when the next process opens the home, and only then (it holds the warehouse's lock).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import type { Logger } from '../../shared/ports.js';
import { silentLogger } from '../../shared/log.js';
import { freshHome, holdWarehouse, openTest, testConfig } from '../helpers/embedded.js';

const ROWS = 600;

/** Leaves what a killed extract and a killed merge leave: a temp file, and a merge's work folder. */
function leaveScratch(home: string): void {
  mkdirSync(path.join(home, 'staging', '.tmp'), { recursive: true });
  writeFileSync(path.join(home, 'staging', '.tmp', '1764680000000-a1b2c3d4e5f6.parquet'), Buffer.alloc(1000));
  mkdirSync(path.join(home, 'output', '.tmp', '1764680000000-0a1b2c3d4e5f-merge'), { recursive: true });
  writeFileSync(path.join(home, 'output', '.tmp', '1764680000000-0a1b2c3d4e5f-merge', 'base-20200106.parquet'), Buffer.alloc(2000));
}

const scratchOf = (home: string) => ['staging', 'output'].flatMap((s) => (existsSync(path.join(home, s, '.tmp')) ? readdirSync(path.join(home, s, '.tmp')) : []));

describe('embedded runtime: scratch left by a process that stopped', () => {
  it('is removed when the next process opens the home, and the log says how much', async () => {
    const home = await freshHome(ROWS);
    leaveScratch(home);
    assert.equal(scratchOf(home).length, 2);
    const lines: string[] = [];
    const logger: Logger = { ...silentLogger, info: (message) => void lines.push(message) };
    const embedded = await openTest(testConfig(home), { logger });
    try {
      assert.deepEqual(scratchOf(home), []);
      assert.ok(lines.some((l) => l.includes('removed 2 scratch file(s) and folder(s), 3 KB')), lines.join('\n'));
    } finally {
      await embedded.close();
    }
  });

  it('is left alone by a runtime given a warehouse (nothing proves it is the home\'s only process)', async () => {
    const home = await freshHome(ROWS);
    leaveScratch(home);
    const stores = new FolderObjectStore(path.join(home, 'scratch'));
    const warehouse = await DuckDbWarehouse.open(path.join(home, 'warehouse.duckdb'), stores, stores, { memoryMb: 512 });
    const embedded = await openTest(testConfig(home), { warehouse });
    try {
      assert.equal(scratchOf(home).length, 2);
    } finally {
      await embedded.close();
      await warehouse.close();
    }
  });

  it('a second process on the same home is refused with the holder\'s PID, and sweeps nothing', async function () {
    this.timeout(30_000);
    const home = await freshHome(ROWS);
    leaveScratch(home);
    const holder = await holdWarehouse(home);
    try {
      await assert.rejects(openTest(testConfig(home)), (e: Error) => {
        assert.match(e.message, new RegExp(`warehouse .*warehouse\\.duckdb is in use by another process \\(PID ${holder.pid}\\): one bqx command at a time`));
        assert.equal(e.name, 'ConflictError', 'the CLI exits 2 (nothing started), not 1 (a run failed)');
        return true;
      });
      assert.equal(scratchOf(home).length, 2, 'the other process may be writing there');
    } finally {
      await holder.release();
    }
  });
});
