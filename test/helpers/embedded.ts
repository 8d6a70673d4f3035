// Fixtures for tests of the embedded chain: a demo warehouse built once per mocha run, shared by
// its --parallel workers (test/helpers/sharedCache.ts), and copied for each test so every test
// starts from the same data; a config for a temp BQX_HOME; a runtime opened on it with fast retries.

import {copyFileSync, existsSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import { InProcessBus } from '../../shared/adapters/local/bus.js';
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
    promise = sharedBuild(`demo-v${DEMO_VERSION}-${key}`, async (dir) => {
      const config = loadConfig({ BQX_HOME: dir });
      const store = new FolderObjectStore(path.join(dir, 'scratch'));
      const warehouse = await DuckDbWarehouse.open(path.join(dir, 'warehouse.duckdb'), store, store, { memoryMb: 1024 });
      await buildDemoWarehouse(warehouse, { pairs, rows, featuresDataset: config.featuresDataset, labelsDataset: config.labelsDataset, labelTablePrefix: config.labelTablePrefix });
      await warehouse.close();
      writeFileSync(path.join(dir, 'demo.json'), JSON.stringify({ version: DEMO_VERSION, pairs, rows }));
    });
    built.set(key, promise);
  }
  return promise;
}

/** A fresh BQX_HOME holding a copy of the demo warehouse. */
export async function freshHome(rows: number, pairs: string[] = ['eurusd']): Promise<string> {
  const source = await demoWarehouse(rows, pairs);
  const home = tempDir('home');
  copyFileSync(path.join(source, 'warehouse.duckdb'), path.join(home, 'warehouse.duckdb'));
  if (existsSync(path.join(source, 'warehouse.duckdb.wal'))) copyFileSync(path.join(source, 'warehouse.duckdb.wal'), path.join(home, 'warehouse.duckdb.wal'));
  copyFileSync(path.join(source, 'demo.json'), path.join(home, 'demo.json'));
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
