// Contender (a): the project's own local merge, the code `bqx run` uses: the embedded runtime
// opened on the set's BQX_HOME with the configuration `bqx` reads (BQX_MERGE_MEMORY_MB etc.),
// the plan mergeRun makes, and DuckDbWarehouse.merge over the run's checkpoints.
// Usage: node --import tsx bench/contender-merge.ts --set DIR

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../shared/config.js';
import { silentLogger } from '../shared/log.js';
import type { RunManifest } from '../shared/manifest.js';
import { paths } from '../shared/naming.js';
import { planMerge } from '../shared/planner.js';
import { openEmbedded } from '../shared/runtime/embedded.js';
import { columnNames, finish, flags, flushIfDurable, footer, formatError, loadSet } from './common.js';
import { shardGrid } from '../shared/shards.js';

const set = loadSet(flags().get('set')!);
const config = loadConfig({ ...process.env, BQX_HOME: set.home });
const embedded = await openEmbedded(config, { logger: silentLogger });
const outputDir = paths.outputDir(set.pair, set.runId);
let began = process.hrtime.bigint();
try {
  const run = (await embedded.store.getRun(set.runId))!;
  const manifest = JSON.parse(Buffer.from(await embedded.staging.read(run.manifestObject)).toString('utf8')) as RunManifest;
  const checkpoints = Object.fromEntries((await embedded.store.listCheckpoints(set.runId)).map((c) => [c.feature, c.files]));
  await embedded.output.deletePrefix(outputDir);
  began = process.hrtime.bigint();

  const plan = planMerge(manifest, config);
  const result = await embedded.warehouse.merge({ runId: set.runId, pair: set.pair, window: run.window, manifest, plan, checkpoints, outputPrefix: outputDir, shards: shardGrid(run.window, embedded.deps.config.shard) });
  flushIfDurable(embedded.output.localPath(outputDir.replace(/\/$/, '')));
  const wall = Number(process.hrtime.bigint() - began) / 1e9;
  if (result.state !== 'done') throw new Error(`merge is ${result.state}`);

  // Check from the files' own footers: every group has the label rows; key + all columns once.
  let bytes = 0;
  let columns = 1;
  const problems: string[] = [];
  for (const g of result.groups) {
    let rows = 0;
    for (const object of g.files) {
      const file = embedded.output.uri(object);
      bytes += (await fs.stat(file)).size;
      const metadata = await footer(file);
      rows += Number(metadata.num_rows);
      if (columnNames(metadata).join() !== g.columns.join()) problems.push(`group ${g.index}: columns differ from the plan`);
    }
    if (rows !== set.labelRows) problems.push(`group ${g.index}: ${rows} rows, expected ${set.labelRows}`);
    if (g.distinctKeys !== rows || !g.keysInOrder) problems.push(`group ${g.index}: keys not unique or not in order`);
    columns += g.columns.length - 1;
  }
  if (columns !== set.columns) problems.push(`${columns} columns, expected ${set.columns}`);
  await embedded.close();
  await fs.rm(path.join(set.home, 'output', outputDir), { recursive: true, force: true });
  finish({
    wall_s: wall,
    output_bytes: bytes,
    rows: result.rows,
    columns,
    ok: problems.length === 0,
    ...(problems.length ? { error: problems.join('; ') } : {}),
    groups: result.groups.length,
    files: result.groups.reduce((s, g) => s + g.files.length, 0),
    realigned: embedded.warehouse.lastRealigned,
    memory_setting_mb: config.embedded.mergeMemoryMb,
  });
} catch (error) {
  await fs.rm(path.join(set.home, 'output', outputDir), { recursive: true, force: true }).catch(() => {});
  finish({ wall_s: Number(process.hrtime.bigint() - began) / 1e9, output_bytes: 0, rows: null, columns: null, ok: false, error: formatError(error) });
}
