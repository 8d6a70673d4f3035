// Fixtures for tests of the embedded chain: a demo warehouse built once per mocha run, shared by
// its --parallel workers (test/helpers/sharedCache.ts), and copied for each test so every test
// starts from the same data; a config for a temp BQX_HOME; a runtime opened on it with fast retries.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import {copyFileSync, cpSync, existsSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import { InProcessBus } from '../../shared/adapters/local/bus.js';
import { startRun } from '../../shared/chain/startRun.js';
import type { RunRequest } from '../../shared/chain/messages.js';
import type { RunRecord } from '../../shared/ports.js';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { DEMO_VERSION } from '../../shared/cli/demo.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { buildDemoWarehouse } from '../../shared/demo/generate.js';
import { silentLogger } from '../../shared/log.js';
import { openEmbedded, type Embedded, type EmbeddedOptions } from '../../shared/runtime/embedded.js';
import { sharedBuild } from './sharedCache.js';
import { tempDir } from './temp.js';

const built = new Map<string, Promise<string>>();

/** A folder holding a demo warehouse for `pairs` at `rows` rows, built once per mocha run. */
export function demoWarehouse(rows: number, pairs: string[] = ['eurusd']): Promise<string> {
  const key = `${rows}-${pairs.join('_')}`;
  let promise = built.get(key);
  if (!promise) {
    promise = sharedBuild(`demo-v${DEMO_VERSION}-${key}`, (dir) => writeDemoHome(dir, { pairs, rows }));
    built.set(key, promise);
  }
  return promise;
}

/** Builds the demo warehouse (all of it, or the tables `only` keeps) into `home`, as `bqx demo` leaves it. */
export async function writeDemoHome(home: string, options: { pairs: string[]; rows: number; start?: string; only?: (table: string) => boolean }): Promise<void> {
  const config = loadConfig({ BQX_HOME: home });
  const store = new FolderObjectStore(path.join(home, 'scratch'));
  const warehouse = await DuckDbWarehouse.open(path.join(home, 'warehouse.duckdb'), store, store, { memoryMb: 1024 });
  await buildDemoWarehouse(warehouse, { ...options, featuresDataset: config.featuresDataset, labelsDataset: config.labelsDataset, labelTablePrefix: config.labelTablePrefix });
  await warehouse.close();
  writeFileSync(path.join(home, 'demo.json'), JSON.stringify({ version: DEMO_VERSION, pairs: options.pairs, rows: options.rows }));
}

/** Asks for a run and waits for it to succeed (failing the test with its error otherwise). */
export async function succeededRun(embedded: Embedded, request: Partial<RunRequest> = {}): Promise<RunRecord> {
  const { run: started } = await startRun(embedded.deps, { pair: 'eurusd', ...request });
  const done = await settle(embedded, started.runId);
  assert.equal(done.state, 'succeeded', done.error);
  return done;
}

/** A fresh BQX_HOME holding a copy of the demo warehouse. */
export async function freshHome(rows: number, pairs: string[] = ['eurusd']): Promise<string> {
  const source = await demoWarehouse(rows, pairs);
  const home = tempDir('home');
  copyFileSync(path.join(source, 'warehouse.duckdb'), path.join(home, 'warehouse.duckdb'));
  if (existsSync(path.join(source, 'warehouse.duckdb.wal'))) copyFileSync(path.join(source, 'warehouse.duckdb.wal'), path.join(home, 'warehouse.duckdb.wal'));
  copyFileSync(path.join(source, 'demo.json'), path.join(home, 'demo.json'));
  // The demo's feature tables are parquet files beside the warehouse (fileTables.ts).
  if (existsSync(path.join(source, 'warehouse.tables'))) cpSync(path.join(source, 'warehouse.tables'), path.join(home, 'warehouse.tables'), { recursive: true });
  return home;
}

export function testConfig(home: string, env: Record<string, string> = {}): Config {
  return loadConfig({ BQX_HOME: home, BQX_EXTRACT_CONCURRENCY: '4', ...env });
}

export async function openTest(config: Config, options: Partial<EmbeddedOptions> = {}): Promise<Embedded> {
  return openEmbedded(config, { logger: silentLogger, minBackoffMs: 5, ...options });
}

/** Waits for the bus to drain and returns the run as stored. */
export async function settle(embedded: Embedded, runId: string) {
  await embedded.bus.idle();
  return (await embedded.store.getRun(runId))!;
}

export type { InProcessBus };

/**
 * Another process holding `home`'s warehouse file open, as a running `bqx run` does: started and
 * holding it when this resolves. `release` ends it and waits for its exit.
 */
export async function holdWarehouse(home: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const duckdb = createRequire(import.meta.url).resolve('@duckdb/node-api');
  const file = path.join(home, 'warehouse.duckdb');
  const holder = spawn(process.execPath, ['-e', `require(${JSON.stringify(duckdb)}).DuckDBInstance.create(${JSON.stringify(file)}).then(() => { console.log('held'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  const release = async () => {
    holder.kill();
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      holder.on('exit', (code) => reject(new Error(`the holder exited (${code})`)));
    });
  } catch (error) {
    await release();
    throw error;
  }
  return { pid: holder.pid!, release };
}
