// The embedded runtime: the whole chain on one machine. DuckDB for BigQuery, folders for the
// buckets, the in-process bus for Pub/Sub (and for the bucket's finalize notifications), the
// file store for Firestore. Same handlers as the cloud functions, wired as subscriptions.

import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Config } from '../config.js';
import { InProcessBus, type BusFaults, type BusMessage } from '../adapters/local/bus.js';
import { DuckDbWarehouse } from '../adapters/local/duckdbWarehouse.js';
import { FileRunStore } from '../adapters/local/fileRunStore.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import { checkpointLanded } from '../chain/checkpointLanded.js';
import { sizeText } from '../chain/diskRoom.js';
import type { ChainDeps, ChainEvent } from '../chain/deps.js';
import { extractFeature } from '../chain/extractFeature.js';
import { decodeExtractRequest, decodeMergeRequest, decodeRunRequest } from '../chain/messages.js';
import { mergeRun } from '../chain/mergeRun.js';
import { underRetryRule } from '../chain/retryRule.js';
import { startRun } from '../chain/startRun.js';
import { collectGarbage } from '../retention.js';
import { errorMessage, systemClock } from '../log.js';
import { InputError } from '../naming.js';
import type { FinalizedObject, Logger } from '../ports.js';
import { embeddedPaths } from './paths.js';

export { embeddedPaths };

/** The internal topic carrying the staging folder's finalize notifications. */
export const STAGING_NOTIFICATIONS = 'bqx-staging-notifications';

export interface EmbeddedOptions {
  logger: Logger;
  faults?: BusFaults;
  observe?: (event: ChainEvent) => void;
  /** Retry timing of the bus; tests shorten it. */
  minBackoffMs?: number;
  /** A warehouse already open, shared by many runtimes (the fault sweep opens hundreds); not closed here. */
  warehouse?: DuckDbWarehouse;
}

export interface Embedded {
  deps: ChainDeps;
  bus: InProcessBus;
  warehouse: DuckDbWarehouse;
  staging: FolderObjectStore;
  output: FolderObjectStore;
  store: FileRunStore;
  home: string;
  close(): Promise<void>;
}

export async function openEmbedded(config: Config, options: EmbeddedOptions): Promise<Embedded> {
  const where = embeddedPaths(config.embedded.home);
  await fs.mkdir(where.root, { recursive: true });
  const staging = new FolderObjectStore(where.staging, 'staging');
  const output = new FolderObjectStore(where.output, 'output');
  const warehouse = options.warehouse ?? (await DuckDbWarehouse.open(where.warehouse, staging, output, { memoryMb: config.embedded.mergeMemoryMb, extractConcurrency: config.embedded.extractConcurrency }));
  // Holding the warehouse's lock (opened here, not passed in), this process alone writes the home.
  const store = new FileRunStore(where.store, { soleWriter: !options.warehouse });
  const logger = options.logger;
  // Holding the warehouse's lock, this is the home's only process: whatever the scratch folders
  // hold was left by one that stopped (killed, crashed) mid-write. A warehouse passed in (tests)
  // proves no such thing, so nothing is swept then.
  if (!options.warehouse) sweepScratch(logger, [staging, output]);
  const bus = new InProcessBus(options.faults ?? {}, (sub, message, error) =>
    logger.warn(`delivery ${message.deliveryAttempt} of message ${message.id} to ${sub} failed: ${errorMessage(error)}`, { step: sub, ...message.attributes }),
  );
  const deps: ChainDeps = { config, warehouse, staging, output, bus, store, clock: systemClock, logger, manifests: new Map(), ...(options.observe ? { observe: options.observe } : {}) };

  staging.onFinalize((object) => void bus.publish(STAGING_NOTIFICATIONS, object, { bucket: object.bucket, name: object.name }));

  // The bus numbers messages from 1 in every process: a request id must also name the process.
  const session = randomUUID();
  const retry = { maxAttempts: config.maxAttempts, minBackoffMs: options.minBackoffMs ?? 200, maxBackoffMs: 5_000 };
  const topics = config.topics;
  bus.subscribe(topics.runRequests, 'startRun', handler(logger, 'start', async (m) => {
    await startRun(deps, { ...decodeRunRequest(m.data, config.currencies), requestId: `${session}-${m.id}`, requestedAt: m.publishTime });
  }), { concurrency: 1, ...retry });
  bus.subscribe(topics.extractRequests, 'extractFeature', handler(logger, 'extract', async (m) => {
    await extractFeature(deps, decodeExtractRequest(m.data));
  }), { concurrency: config.embedded.extractConcurrency, ...retry });
  bus.subscribe(STAGING_NOTIFICATIONS, 'checkpointLanded', handler(logger, 'landing', async (m) => {
    await checkpointLanded(deps, decodeFinalized(m.data));
  }), { concurrency: 4, ...retry });
  bus.subscribe(topics.mergeRequests, 'mergeRun', handler(logger, 'merge', async (m) => {
    const request = decodeMergeRequest(m.data);
    if ((await mergeRun(deps, request)) === 'succeeded') await applyRetention(deps, request.pair);
  }), { concurrency: 1, ...retry });

  return {
    deps, bus, warehouse, staging, output, store, home: where.root,
    async close() {
      bus.close();
      await store.close();
      if (!options.warehouse) await warehouse.close();
    },
  };
}

function sweepScratch(logger: Logger, stores: readonly FolderObjectStore[]): void {
  const swept = stores.map((s) => s.sweepScratch()).reduce((a, b) => ({ entries: a.entries + b.entries, bytes: a.bytes + b.bytes }));
  if (swept.entries > 0) logger.info(`removed ${swept.entries} scratch file(s) and folder(s), ${sizeText(swept.bytes)}, left by an earlier bqx process that stopped mid-write`, { step: 'open' });
}

/**
 * Retention after a success (on Google Cloud the reconciler does it): the pair's last
 * BQX_KEEP datasets stay. Best effort: a failure is logged, the run stays succeeded, and the next
 * success or `bqx gc` tries again.
 */
async function applyRetention(deps: ChainDeps, pair: string): Promise<void> {
  try {
    await collectGarbage(deps, pair, deps.config.keep);
  } catch (error) {
    deps.logger.warn(`retention after the run failed: ${errorMessage(error)}`, { pair, step: 'retention' });
  }
}

/** Wraps a handler with the functions' retry rule (shared/chain/retryRule.ts). */
export function handler(logger: Logger, step: string, body: (m: BusMessage) => Promise<void>): (m: BusMessage) => Promise<void> {
  return (m) => underRetryRule(logger, `${step}: message ${m.id}`, { step, ...m.attributes }, () => body(m));
}

function decodeFinalized(data: string): FinalizedObject {
  const value = JSON.parse(data) as Partial<FinalizedObject>;
  if (typeof value.bucket !== 'string' || typeof value.name !== 'string') throw new InputError('finalize notification without bucket or name');
  return { bucket: value.bucket, name: value.name, size: Number(value.size ?? 0) };
}
