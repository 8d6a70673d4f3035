// What the chain's handlers are given: the ports, configuration, and an optional observer for
// progress (the CLI draws its bars from it; the cloud has no use for it).

import type { Config } from '../config.js';
import type { RunManifest } from '../manifest.js';
import type { Clock, Logger, MergeProgress, MessageBus, ObjectStore, RunStore, Warehouse } from '../ports.js';

export type ChainEvent =
  | { type: 'started'; runId: string; pair: string; expected: number }
  | { type: 'landed'; runId: string; feature: string; landed: number; expected: number }
  | { type: 'merge'; runId: string; progress: MergeProgress }
  | { type: 'profile'; runId: string; progress: MergeProgress }
  | { type: 'finished'; runId: string; state: 'succeeded' | 'failed' };

export interface ChainDeps {
  config: Config;
  warehouse: Warehouse;
  staging: ObjectStore;
  output: ObjectStore;
  bus: MessageBus;
  store: RunStore;
  clock: Clock;
  logger: Logger;
  observe?: (event: ChainEvent) => void;
  /** Frozen manifests by run id: read once per process, not once per event. */
  manifests?: Map<string, RunManifest>;
}
