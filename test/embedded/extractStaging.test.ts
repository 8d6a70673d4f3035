// The embedded extract's staged runs (extractBatches.ts): a table read from parquet files (a file
// table) with day shards is read once per run of shards into a temporary table and each shard's
// file is written from it; a table DuckDB stores is read shard by shard. Both must give the same
// checkpoint files: the same rows, one per key (duplicates resolved by the same rule), in key order.

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { shardGrid } from '../../shared/shards.js';
import type { ExtractResult } from '../../shared/ports.js';
import { rowsOfFiles as rowsOf } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const COLUMNS = Array.from({ length: 40 }, (_, k) => `c${k}`);
// 2021-03-01 20:00 .. 2021-03-04 10:39: four day shards, the first and last partial.
const WINDOW = { start: '2021-03-01T20:00:00.000Z', end: '2021-03-04T10:40:00.000Z' };

describe('embedded extract: runs of shards staged from parquet sources', function () {
  this.timeout(60_000);
  let dir: string;
  let w: DuckDbWarehouse;
  let staging: FolderObjectStore;

  before(async () => {
    dir = tempDir('staged-extract');
    staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
    w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, new FolderObjectStore(path.join(dir, 'output'), 'output'), { memoryMb: 512 });
    const values = COLUMNS.map((c, k) => `CASE WHEN (i + ${k}) % 17 = 0 THEN NULL ELSE sin(i * ${k + 1} * 0.01) END AS ${c}`).join(', ');
    const keys = `SELECT TIMESTAMPTZ '2021-03-01 20:00:00+00' + i * INTERVAL 1 MINUTE AS interval_time, i FROM range(0, 3760) r(i) WHERE i NOT BETWEEN 1500 AND 1700`;
    await w.execute('CREATE SCHEMA f');
    // Unordered, with a gap and duplicate keys (every 50th key twice, the copy with other values).
    await w.execute(`CREATE TABLE f.stored AS SELECT * FROM (SELECT interval_time, ${values} FROM (${keys}) UNION ALL SELECT interval_time, ${COLUMNS.map((c) => `${c} + 1 AS ${c}`).join(', ')} FROM (SELECT interval_time, ${values} FROM (${keys}) WHERE i % 50 = 0)) ORDER BY hash(interval_time)`);
    await w.execute(`COPY f.stored TO '${path.join(dir, 'stored.parquet')}' (FORMAT parquet)`);
    await w.execute(`CREATE VIEW f.from_files AS SELECT * FROM read_parquet('${path.join(dir, 'stored.parquet')}')`);
  });
  after(async () => {
    await w.close();
  });

  const extract = (feature: string): Promise<ExtractResult> =>
    w.extract({ runId: 'r', pair: 'eurusd', feature, dataset: 'f', columns: COLUMNS, window: WINDOW, prefix: `runs/r/features/${feature}/`, shards: shardGrid(WINDOW, 'day') });

  it('stages the parquet source, reads the stored table shard by shard, and both give the same files', async () => {
    const before = w.stagedRuns;
    const stored = await extract('stored');
    assert.equal(w.stagedRuns, before, 'a stored table is read shard by shard');
    const fromFiles = await extract('from_files');
    assert.equal(w.stagedRuns, before + 1, 'the four day shards of the parquet source are one staged run');
    assert.equal(stored.state, 'done');
    assert.equal(fromFiles.state, 'done');
    if (stored.state !== 'done' || fromFiles.state !== 'done') return;
    assert.equal(fromFiles.files.length, 4);
    assert.equal(fromFiles.rows, 3760 - 201);
    assert.equal(fromFiles.duplicates, stored.duplicates);
    assert.ok(fromFiles.duplicates > 0);
    const [a, b] = await Promise.all([stored, fromFiles].map((r) => rowsOf((r as { files: string[] }).files.map((f) => staging.uri(f)))));
    // Same rows in the same files (part-00000 ...) in the same order.
    assert.equal(a!.length, 3760 - 201);
    assert.deepEqual(b, a);
    const keys = b!.map((r) => Number(new Date(String(r[1]))));
    assert.ok(keys.every((k, i) => i === 0 || k > keys[i - 1]!), 'keys ascending and unique across the files');
  });

  it('sees a table that became a view over parquet files since the last extract (the lookup is not kept across writes)', async () => {
    await extract('stored');
    const before = w.stagedRuns;
    await w.execute('ALTER TABLE f.stored RENAME TO stored_before');
    await w.execute(`CREATE VIEW f.stored AS SELECT * FROM read_parquet('${path.join(dir, 'stored.parquet')}')`);
    const result = await extract('stored');
    assert.equal(result.state, 'done');
    assert.equal(w.stagedRuns, before + 1);
  });
});
