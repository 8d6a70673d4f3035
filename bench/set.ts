// Builds (or reuses) the benchmark set for a row count: a bench-owned BQX_HOME under
// bench/data/<pair>-<rows>-<hash>/home with the demo warehouse (the real shape: 667 feature
// tables, 17,038 columns), one `bqx run` through it (timed: its checkpoints are the merge's
// inputs, and its timings are item 3's first measurement), and the window's labels as parquet.

import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { copyToParquetSql, labelSliceSql } from '../shared/adapters/local/duckdbSql.js';
import type { RunManifest } from '../shared/manifest.js';
import type { DemoState } from '../shared/cli/demo.js';
import type { CheckpointRecord } from '../shared/ports.js';
import { loadSet, runChild, type BenchSet, type E2eResult } from './common.js';
import { setDir, setId } from './setid.js';

export interface SetOptions {
  rows: number;
  pair?: string;
  rebuild?: boolean;
  memCapMb: number;
  log: (line: string) => void;
}

export async function ensureSet(options: SetOptions): Promise<BenchSet> {
  const pair = options.pair ?? 'eurusd';
  const dir = setDir(options.rows, pair);
  if (!options.rebuild && existsSync(path.join(dir, 'set.json'))) {
    options.log(`benchmark set: reusing ${dir}`);
    return loadSet(dir);
  }
  const home = path.join(dir, 'home');
  if (options.rebuild) await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(home, { recursive: true });

  // 1. The demo warehouse (kept if an earlier, interrupted build finished it).
  let demoS = 0;
  const demoState = existsSync(path.join(home, 'demo.json')) ? (JSON.parse(await fs.readFile(path.join(home, 'demo.json'), 'utf8')) as DemoState) : undefined;
  if (!demoState || demoState.building) {
    options.log(`benchmark set: building the demo warehouse, ${options.rows} rows per table (once)`);
    const began = Date.now();
    const demo = await runCli(['demo', '--pairs', pair, '--rows', String(options.rows)], home, options);
    if (demo.code !== 0) throw new Error(`bqx demo failed: ${demo.stderr.slice(-2000)}`);
    demoS = (Date.now() - began) / 1000;
  }

  // 2. One timed `bqx run` in the home: a fresh home with the demo built.
  options.log('benchmark set: bqx run (timed) to produce the checkpoints');
  const run = await runTimedBqx(home, options.rows, pair, options);
  if (run.status !== 'succeeded') throw new Error(`bqx run did not succeed: ${run.status}`);
  // The run's own output is not an input to anything: drop it (disk).
  await fs.rm(path.join(home, 'output'), { recursive: true, force: true });

  // 3. The inputs of the peers: checkpoints (from the run store) and the window's labels.
  const manifest = JSON.parse(await fs.readFile(path.join(home, 'staging', 'runs', run.runId, 'manifest.json'), 'utf8')) as RunManifest;
  const checkpointDir = path.join(home, 'runstore', 'checkpoints', run.runId);
  const records = new Map<string, CheckpointRecord>();
  for (const name of await fs.readdir(checkpointDir)) {
    const record = JSON.parse(await fs.readFile(path.join(checkpointDir, name), 'utf8')) as CheckpointRecord;
    records.set(record.feature, record);
  }
  const labelsParquet = path.join(dir, 'labels.parquet');
  const instance = await DuckDBInstance.create(path.join(home, 'warehouse.duckdb'), { access_mode: 'READ_ONLY', autoload_known_extensions: 'false', autoinstall_known_extensions: 'false' });
  try {
    const c = await instance.connect();
    await c.run(copyToParquetSql(labelSliceSql(manifest.labels.dataset, manifest.labels.table, manifest.labels.columns), labelsParquet), [manifest.window.start, manifest.window.end]);
    c.closeSync();
  } finally {
    instance.closeSync();
  }
  const features = manifest.features.map((f) => {
    const record = records.get(f.feature);
    if (!record || record.files.length === 0) throw new Error(`feature ${f.feature}: no checkpoint file`);
    return { feature: f.feature, files: record.files.map((o) => path.join(home, 'staging', o)), columns: f.columns.map((c) => ({ source: c.source, output: c.output })) };
  });
  let inputBytes = (await fs.stat(labelsParquet)).size;
  for (const f of features) for (const file of f.files) inputBytes += (await fs.stat(file)).size;
  const set: BenchSet = {
    version: 1,
    id: setId(options.rows, pair),
    dir,
    rows: options.rows,
    pair,
    home,
    runId: run.runId,
    window: manifest.window,
    labelRows: manifest.labels.rows,
    columns: manifest.columnCount,
    labelsParquet,
    labelColumns: manifest.labels.columns,
    features,
    inputBytes,
    build: { demo_s: demoS, run },
  };
  await fs.writeFile(path.join(dir, 'set.json'), JSON.stringify(set, null, 1));
  options.log(`benchmark set ready: ${features.length} features, ${set.columns} columns, ${set.labelRows} label rows, ${(inputBytes / 2 ** 30).toFixed(2)} GiB of parquet`);
  return set;
}

function runCli(args: string[], home: string, options: SetOptions) {
  return runChild('bqx-cli.ts', args, { memCapMb: options.memCapMb, timeoutS: 24 * 3600, env: { ...process.env, BQX_HOME: home } });
}

/** `bqx run` in `home` through bench/bqx-timed.ts; its result with the process wall time. */
export async function runTimedBqx(home: string, rows: number, pair: string, options: Pick<SetOptions, 'memCapMb'> & { before?: string }): Promise<E2eResult> {
  const child = await runChild('bqx-timed.ts', ['--home', home, '--rows', String(rows), '--pair', pair], { memCapMb: options.memCapMb, timeoutS: 24 * 3600, ...(options.before ? { before: options.before } : {}) });
  if (!child.result) throw new Error(`bqx run (timed) gave no result (exit ${child.code}${child.killed ? `, ${child.killed}` : ''}): ${child.stderr.slice(-2000)}`);
  const result = child.result as unknown as E2eResult;
  // A failed run is no measurement: the bench stops rather than record its time.
  if (result.status !== 'succeeded') throw new Error(`bqx run (timed) ${result.status}: ${result.error ?? child.stderr.slice(-2000)}`);
  return { ...result, process_wall_s: child.process_wall_s };
}
