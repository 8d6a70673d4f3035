// A simulated world: the embedded runtime on its own folders, its ports wrapped so every side
// effect is numbered (effects.ts), the bus and the clock handed to a seeded Simulation, and the
// warehouse shared with every other world of the sweep (replayWarehouse.ts). `runPair` plays the
// user and the scheduler: it requests the run, lets the bus drain, and calls the reconciler on its
// schedule until the run ends, as Cloud Scheduler would call the deployed reconciler (which also
// applies retention, to every pair, while runs are active).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { selectTables } from '../../shared/catalog.js';
import { reconcile, type ReconcileAction } from '../../shared/chain/reconcile.js';
import { collectAll } from '../../shared/retention.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { buildDemoWarehouse } from '../../shared/demo/generate.js';
import { demoTables } from '../../shared/demo/names.js';
import { silentLogger } from '../../shared/log.js';
import { allPairs } from '../../shared/naming.js';
import { TERMINAL_STATES, type Clock, type ObjectStore, type RunRecord, type RunStore } from '../../shared/ports.js';
import { openEmbedded, STAGING_NOTIFICATIONS, type Embedded } from '../../shared/runtime/embedded.js';
import { CrashError, Effects, effectfulBus, effectfulRunStore, effectfulStore, effectfulWarehouse } from './effects.js';
import { filesUnder, type Observed, type RunEventSeen } from './invariants.js';
import { MemoryRunStore, NotifyingMemoryStore } from './memoryPorts.js';
import { SharedWarehouse } from './replayWarehouse.js';
import type { Simulation } from './simulation.js';

/** The shape of the swept run: small, but with every feature of the real one. */
export interface SweepShape {
  pairs: string[];
  rows: number;
  env: Record<string, string>;
}

/**
 * What `npm test` sweeps: 18 features, 838 columns in four column groups (at most 300 columns
 * each), with a table that has duplicate keys (mom_eurusd), late starters (var_der_idx_*) and an
 * entirely null family (corr_etf_idx_*), like the real run; 500 rows.
 */
export const COMPACT: SweepShape = {
  pairs: ['eurusd'],
  rows: 500,
  env: {
    BQX_TABLE_RULES: 'reg_{pair},reg_idx_{pair},mom_{pair},var_der_idx_*,corr_etf_idx_{pair}_ew*,mkt_vol*',
    BQX_MAX_GROUP_COLUMNS: '300',
  },
};

/** A wider sweep (`npm run sweep -- --shape wide`): 61 features, 1,273 columns in three groups of at most 450. */
export const WIDE: SweepShape = {
  pairs: ['eurusd'],
  rows: 500,
  env: {
    BQX_TABLE_RULES: 'var_mom_*,var_der_*,mkt_*,csi_agg_bqx_*,corr_etf_idx_{pair}_*,mom_{pair},mom_idx_{pair}',
    BQX_MAX_GROUP_COLUMNS: '450',
  },
};

/**
 * All 28 pairs of the default currencies at once: six features each (reg_<pair>, mom_<pair>,
 * lag_<pair>_45 and the shared mkt_vol*), 350 columns in two groups, 200 rows.
 */
export const ALL_PAIRS: SweepShape = {
  pairs: allPairs(loadConfig({}).currencies),
  rows: 200,
  env: {
    BQX_TABLE_RULES: 'reg_{pair},mom_{pair},lag_{pair}_45,mkt_vol*',
    BQX_MAX_GROUP_COLUMNS: '300',
  },
};

/** Four pairs of the ALL_PAIRS shape: what the sweep plays on the emulators (emulatorWorld.ts), small enough for a run in seconds. */
export const FOUR_PAIRS: SweepShape = { ...ALL_PAIRS, pairs: ['eurusd', 'gbpusd', 'audusd', 'usdjpy'] };

export const SHAPES: Record<string, SweepShape> = { compact: COMPACT, wide: WIDE };

/** What every world of a sweep shares: the demo warehouse, built once, and its folder. */
export interface Base {
  shape: SweepShape;
  stores: StoreKind;
  dir: string;
  shared: SharedWarehouse;
  close(): Promise<void>;
}

/** Opens a base in a new folder under `parent`, removed by its `close`. */
export async function openBase(shape: SweepShape, stores: StoreKind = 'memory', parent = os.tmpdir()): Promise<Base> {
  const dir = mkdtempSync(path.join(parent, 'bqx-sweep-'));
  try {
    const config = loadConfig({ ...shape.env, BQX_HOME: dir });
    const staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
    const output = new FolderObjectStore(path.join(dir, 'output'), 'output');
    const duckdb = await DuckDbWarehouse.open(path.join(dir, 'warehouse.duckdb'), staging, output, { memoryMb: 1024 });
    const names = demoTables(shape.pairs).map((t) => t.table);
    const wanted = new Set(shape.pairs.flatMap((p) => selectTables(names, p, config.tableRules)));
    await buildDemoWarehouse(duckdb, {
      pairs: shape.pairs, rows: shape.rows, featuresDataset: config.featuresDataset, labelsDataset: config.labelsDataset,
      labelTablePrefix: config.labelTablePrefix, only: (t) => wanted.has(t),
    });
    return {
      shape, stores, dir, shared: new SharedWarehouse(duckdb, staging, output),
      async close() {
        await duckdb.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Where a world keeps its objects and records: in memory (fast), or the embedded folders and file store. */
export type StoreKind = 'memory' | 'files';

/** What a world holds, by name: staging objects, output objects, run-store documents. */
export interface Inventory {
  staging: string[];
  output: string[];
  store: string[];
}

export interface World extends Observed {
  /** What it was opened on: the warehouse, the shape and the kind of stores. */
  base: Base;
  embedded: Embedded;
  /** The unwrapped stores, for the checks. */
  staging: ObjectStore;
  output: ObjectStore;
  store: RunStore;
  inventory(): Promise<Inventory>;
  config: Config;
  effects: Effects;
  sim: Simulation;
  /** The simulation's clock, which the world's ports are given. */
  clock: Clock;
  home: string;
  /** Asks for a run of `pair` and drives it to its end; undefined if it never started. */
  runPair(pair: string): Promise<RunRecord | undefined>;
  /** Asks for runs of all `pairs` at once, on this one bus and store, and drives them to their end. */
  runPairs(pairs: string[]): Promise<Map<string, RunRecord | undefined>>;
  /**
   * Asks for the run a request's JSON describes (a window, `refresh`: shared/chain/messages.ts)
   * and drives it to its end; the pair's last run then (the one before, if this one never started).
   */
  runRequest(request: { pair: string } & Record<string, unknown>): Promise<RunRecord | undefined>;
  /** Lets the bus drain, then calls the reconciler on its schedule until no run is active. */
  settle(): Promise<void>;
  /** What the reconciler did, call after call. */
  actions: ReconcileAction[];
  close(): Promise<void>;
}

/** Rounds of "drain the bus, then the reconciler's next call" before a run counts as stuck. */
const MAX_ROUNDS = 12;

/** The same base (warehouse, kept jobs) with worlds on other stores; close the original, not this. */
export function onStores(base: Base, stores: StoreKind): Base {
  return { ...base, stores };
}

export async function openWorld(base: Base, sim: Simulation): Promise<World> {
  const { stores } = base;
  const home = mkdtempSync(path.join(base.dir, 'world-'));
  const config = loadConfig({ ...base.shape.env, BQX_HOME: home });
  const embedded = await openEmbedded(config, { logger: silentLogger, warehouse: base.shared.duckdb, minBackoffMs: 200 });
  const effects = new Effects();
  const { deps, bus } = embedded;
  bus.useScheduler(sim);
  bus.interceptDeliveries((sub, m, deliver) => effects.instance(`${sub}#${m.id}.${m.deliveryAttempt}`, deliver));
  let staging: ObjectStore = embedded.staging;
  let output: ObjectStore = embedded.output;
  let store: RunStore = embedded.store;
  let inventory = async (): Promise<Inventory> => ({
    staging: await filesUnder(embedded.staging.root),
    output: await filesUnder(embedded.output.root),
    store: await filesUnder(embedded.store.root),
  });
  if (stores === 'memory') {
    const memory = { staging: new NotifyingMemoryStore('staging'), output: new NotifyingMemoryStore('output'), store: new MemoryRunStore() };
    // The same wiring as the embedded runtime's: the staging bucket's finalize events feed the landing.
    memory.staging.onFinalize((object) => void bus.publish(STAGING_NOTIFICATIONS, object, { bucket: object.bucket, name: object.name }));
    ({ staging, output, store } = memory);
    inventory = async () => ({ staging: [...memory.staging.objects.keys()], output: [...memory.output.objects.keys()], store: [...memory.store.docs.keys()] });
  }
  deps.clock = sim.clock;
  deps.store = effectfulRunStore(store, effects);
  deps.staging = effectfulStore(staging, effects, 'staging');
  deps.output = effectfulStore(output, effects, 'output');
  deps.bus = effectfulBus(bus, effects);
  deps.warehouse = effectfulWarehouse(base.shared.for(staging, output), effects);

  const actions: ReconcileAction[] = [];
  const settle = async () => {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      await bus.idle();
      if ((await store.listActiveRuns()).length === 0) return;
      // Nothing moves: time passes until the reconciler's next scheduled call.
      sim.advance((config.stallSeconds + 1) * 1000);
      await effects.instance(`reconcile#${round}`, async () => {
        actions.push(...(await reconcile(deps)));
        // And retention, as the deployed reconciler does on each call (functions/reconcile.ts), while runs are active.
        await collectAll(deps, base.shape.pairs, config.keep);
      }).catch((error) => {
        if (!(error instanceof CrashError)) throw error;
      });
    }
  };
  const runPairs = async (pairs: string[]) => {
    // The requests are the user's, not effects of the runs: they go straight onto the bus.
    for (const pair of pairs) await bus.publish(config.topics.runRequests, pair);
    await settle();
    const runs = new Map<string, RunRecord | undefined>();
    for (const pair of pairs) {
      let run = await store.lastRun(pair);
      if (!run) {
        // Its request was dead-lettered before any run was created: the user asks again.
        await bus.publish(config.topics.runRequests, pair);
        await settle();
        run = await store.lastRun(pair);
      }
      runs.set(pair, run);
    }
    return runs;
  };

  return {
    base, embedded, staging, output, store, inventory, config, effects, sim, clock: sim.clock, home, actions, settle, runPairs,
    runEvents: async () => (bus.published.get(config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data) as RunEventSeen),
    runPair: async (pair) => (await runPairs([pair])).get(pair),
    async runRequest(request) {
      await bus.publish(config.topics.runRequests, JSON.stringify(request));
      await settle();
      return store.lastRun(request.pair);
    },
    async close() {
      await embedded.close();
      await store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
