// What the embedded warehouse sets in DuckDB when it opens (duckdbWarehouse.ts `open`): its share
// of the memory setting, no copy of parquet bytes in its buffer pool, parquet footers parsed once,
// and its allocator giving freed memory back after any task past 8 MiB (the run's peak is in the
// profile, after the extract and the merge have used DuckDB).

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDbWarehouse, duckDbMemoryMb } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { tempDir } from '../helpers/temp.js';

describe('embedded warehouse: DuckDB settings at open', () => {
  it('sets the memory limit from the memory setting, the caches, and the allocator flush threshold', async () => {
    const dir = tempDir('warehouse-settings');
    const w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), new FolderObjectStore(path.join(dir, 'staging')), new FolderObjectStore(path.join(dir, 'output')), { memoryMb: 1024 });
    try {
      const [row] = await w.query(
        `SELECT current_setting('memory_limit') AS memory_limit, current_setting('enable_external_file_cache') AS file_cache,
                current_setting('parquet_metadata_cache') AS footers, current_setting('allocator_flush_threshold') AS flush`,
      );
      // DuckDB reads 'NNNMB' as millions of bytes and shows MiB, to a tenth.
      const mib = /^([\d.]+) MiB$/.exec(String(row!.memory_limit));
      assert.ok(mib, `memory_limit ${String(row!.memory_limit)}`);
      assert.ok(Math.abs(Number(mib[1]) - (duckDbMemoryMb(1024) * 1e6) / 2 ** 20) < 0.1, `memory_limit ${mib[1]} MiB`);
      assert.equal(row!.file_cache, false);
      assert.equal(row!.footers, true);
      assert.equal(row!.flush, '8.0 MiB');
    } finally {
      await w.close();
    }
  });
});
