// A probe for the merge's memory bound (not part of `npm run bench`): one wide (232-column)
// feature that starts late, so the merge must align it (DuckDB join + sort + parquet write),
// plus one that it stitches as is; --rows N label rows; reports the merge's peak RSS.
// Two processes, so the merge's peak is its own: --phase setup (tables, extracts, job.json),
// then --phase merge (in a fresh process; prints BENCH_RESULT with the peak RSS).
// --phase extract (also in a fresh process) extracts every table again, BQX_EXTRACT_CONCURRENCY at
// once as `bqx run` does, and reports that phase's peak RSS (one table has duplicate keys, so the
// deduplicating sort over all its columns is measured too).
// Usage: node --import tsx bench/probe-memory.ts --phase setup --rows 1000000 --dir /tmp/x
//        BQX_MERGE_MEMORY_MB=512 node --import tsx bench/probe-memory.ts --phase merge --dir /tmp/x
//        node --import tsx bench/probe-memory.ts --phase extract --dir /tmp/x

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DuckDbWarehouse } from '../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../shared/adapters/local/folderStore.js';
import { loadConfig } from '../shared/config.js';
import { buildManifest, type RunManifest } from '../shared/manifest.js';
import { newRunId, paths } from '../shared/naming.js';
import { planMerge } from '../shared/planner.js';
import { finish, flags } from './common.js';
import { shardGrid } from '../shared/shards.js';

const f = flags();
const rows = Number(f.get('rows') ?? 200_000);
const dir = f.get('dir')!;
const phase = f.get('phase');
const config = loadConfig({ ...process.env, BQX_HOME: dir });
const staging = new FolderObjectStore(path.join(dir, 'staging'));
const output = new FolderObjectStore(path.join(dir, 'output'));
if (phase === 'setup') {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, output, { memoryMb: 4096 });
  const cols = (k: number) => Array.from({ length: k }, (_, c) => `round(sin(i * ${0.001 * (c + 1)}) * ${c + 1} + random() * 0.0005, 5) AS c${c}`).join(', ');
  await w.execute(`CREATE SCHEMA ${config.labelsDataset}; CREATE SCHEMA ${config.featuresDataset}`);
  await w.execute(`CREATE TABLE ${config.labelsDataset}.targets_eurusd AS SELECT to_timestamp(1700000000 + i * 60) AS interval_time, ${cols(49).replace(/ AS c/g, ' AS target_')} FROM range(${rows}) t(i)`);
  await w.execute(`CREATE TABLE ${config.featuresDataset}.reg_eurusd AS SELECT to_timestamp(1700000000 + i * 60) AS interval_time, ${cols(232)} FROM range(${Math.floor(rows * 0.4)}, ${rows}) t(i)`);
  await w.execute(`CREATE TABLE ${config.featuresDataset}.reg_bqx_eurusd AS SELECT to_timestamp(1700000000 + i * 60) AS interval_time, ${cols(232)} FROM range(${Math.floor(rows * 0.3)}, ${rows}) t(i)`);
  await w.execute(`CREATE TABLE ${config.featuresDataset}.agg_eurusd AS SELECT to_timestamp(1700000000 + i * 60) AS interval_time, ${cols(232)} FROM range(${rows}) t(i)`);
  await w.execute(`CREATE TABLE ${config.featuresDataset}.mom_eurusd AS SELECT to_timestamp(1700000000 + i * 60) AS interval_time, ${cols(232)} FROM range(${rows}) t(i) UNION ALL SELECT to_timestamp(1700000000 + i * 60), ${cols(232)} FROM range(0, ${rows}, 97) t(i)`);
  const window = { start: new Date(1700000000 * 1000).toISOString(), end: new Date((1700000000 + rows * 60) * 1000).toISOString() };
  const runId = newRunId('eurusd', new Date());
  const labelTable = (await w.listTables(config.labelsDataset))[0]!;
  const manifest = buildManifest({ runId, pair: 'eurusd', createdAt: new Date().toISOString(), window, labelRows: rows, featureCatalog: await w.listTables(config.featuresDataset), labelTable, config });
  const checkpoints: Record<string, string[]> = {};
  for (const feature of manifest.features) {
    const r = await w.extract({ runId, pair: 'eurusd', feature: feature.feature, dataset: feature.dataset, columns: feature.columns.map((c) => c.source), window, prefix: paths.featureDir(runId, feature.feature), shards: shardGrid(window, config.shard) });
    if (r.state === 'done') checkpoints[feature.feature] = r.files;
  }
  await w.close();
  await fs.writeFile(path.join(dir, 'job.json'), JSON.stringify({ runId, window, manifest, checkpoints }));
  process.exit(0);
}
const job = JSON.parse(await fs.readFile(path.join(dir, 'job.json'), 'utf8'));
const { runId, window, manifest, checkpoints } = job;
if (phase === 'extract') {
  const scratch = new FolderObjectStore(path.join(dir, 'extract-probe'));
  const w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), scratch, output, { memoryMb: config.embedded.mergeMemoryMb });
  const began = process.hrtime.bigint();
  const features = [...manifest.features] as RunManifest['features'];
  let rowsOut = 0;
  const worker = async () => {
    for (let f = features.shift(); f; f = features.shift()) {
      const r = await w.extract({ runId, pair: 'eurusd', feature: f.feature, dataset: f.dataset, columns: f.columns.map((c) => c.source), window, shards: shardGrid(window, config.shard), prefix: paths.featureDir(runId, f.feature) });
      if (r.state === 'done') rowsOut += r.rows;
    }
  };
  await Promise.all(Array.from({ length: config.embedded.extractConcurrency }, worker));
  const wall = Number(process.hrtime.bigint() - began) / 1e9;
  await w.close();
  await fs.rm(path.join(dir, 'extract-probe'), { recursive: true, force: true });
  finish({ wall_s: wall, output_bytes: 0, rows: rowsOut, columns: null, ok: true, memory_setting_mb: config.embedded.mergeMemoryMb, concurrency: config.embedded.extractConcurrency });
}
const w = await DuckDbWarehouse.open(path.join(dir, 'wh.duckdb'), staging, output, { memoryMb: config.embedded.mergeMemoryMb });
const before = Math.round(process.resourceUsage().maxRSS / 1024);
const began = process.hrtime.bigint();
const result = await w.merge({ runId, pair: 'eurusd', window, manifest, plan: planMerge(manifest, config), checkpoints, outputPrefix: paths.outputDir('eurusd', runId), shards: shardGrid(window, config.shard) });
const wall = Number(process.hrtime.bigint() - began) / 1e9;
await w.close();
await fs.rm(path.join(dir, 'output'), { recursive: true, force: true });
finish({ wall_s: wall, output_bytes: 0, rows: result.state === 'done' ? result.rows : null, columns: null, ok: result.state === 'done', peak_before_merge_mb: before, realigned: w.lastRealigned, memory_setting_mb: config.embedded.mergeMemoryMb });
