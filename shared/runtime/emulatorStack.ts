// The emulator stack: the deployed entry points (functions/) served by the Functions Framework over
// HTTP on loopback, driven by the real Pub/Sub emulator through push subscriptions, recording runs
// in the real Firestore emulator through the Firestore run store, with DuckDB and BQX_HOME's folders
// standing in for BigQuery and Cloud Storage. Every object finalized in the staging folder is
// delivered to checkpointLanded as a google.cloud.storage.object.v1.finalized CloudEvent over HTTP,
// retried until it is acknowledged, as Eventarc does. Everything it starts, stop() stops.

import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setDeps } from '../../functions/deps.js';
import '../../functions/index.js';
import { gcpAdapters } from '../adapters/gcp/index.js';
import { DuckDbWarehouse } from '../adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import type { ChainDeps, ChainEvent } from '../chain/deps.js';
import { reconcile } from '../chain/reconcile.js';
import type { RunRequest } from '../chain/messages.js';
import type { Config } from '../config.js';
import { allSettledOrThrow } from '../concurrency.js';
import { errorMessage, systemClock } from '../log.js';
import { InputError } from '../naming.js';
import type { FinalizedObject, Logger, RunRecord, RunStore } from '../ports.js';
import { embeddedPaths } from './embedded.js';
import { followRun, snapshotPair } from './followRun.js';
import { PubSubEmulatorAdmin, startEmulator, until, useEmulatorEnv } from './emulators.js';
import { KeptFirestore } from './keptFirestore.js';

export const FUNCTIONS = ['startRun', 'extractFeature', 'checkpointLanded', 'mergeRun', 'pipelineApi', 'reconcile'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** The push subscriptions: function and the topic (config key) it is pushed from. */
const PUSHED: [FunctionName, keyof Config['topics']][] = [['startRun', 'runRequests'], ['extractFeature', 'extractRequests'], ['mergeRun', 'mergeRequests']];
export const RUN_EVENTS_SUBSCRIPTION = 'bqx-run-events-stack';

export interface StackOptions {
  logger: Logger;
  observe?: (event: ChainEvent) => void;
}

export interface EmulatorStack {
  deps: ChainDeps;
  store: RunStore;
  staging: FolderObjectStore;
  output: FolderObjectStore;
  pubsub: PubSubEmulatorAdmin;
  /** Base URL of each function's server. */
  urls: Record<FunctionName, string>;
  /** Requests each function has received (deliveries, retries included). */
  requests: Record<FunctionName, number>;
  /** When a function last received a request or the chain reported progress (ms since epoch). */
  lastActivity(): number;
  /** Stops (true) or resumes (false) delivering staging finalize events; tests deliver their own meanwhile. */
  holdNotifications(hold: boolean): void;
  /** Drops a function's connections mid-request, as a dying instance does, and serves it again on the same port. */
  restart(name: FunctionName): Promise<void>;
  stop(): Promise<void>;
}

interface Served {
  server: Server;
  port: number;
}

export async function startEmulatorStack(config: Config, options: StackOptions): Promise<EmulatorStack> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch((error) => options.logger.warn(`stack: stopping: ${errorMessage(error)}`, { step: 'stack' }));
  };
  try {
    const where = embeddedPaths(config.embedded.home);
    // The run records of earlier stacks on this home, which its folders' files belong to.
    const kept = new KeptFirestore(where.emulatorData);
    const importData = await kept.importFile();
    const [pubsubStart, firestoreStart] = await Promise.allSettled([startEmulator('pubsub'), startEmulator('firestore', importData ? { importData } : {})]);
    // Both stopped at once (each takes about half a second).
    const started = [pubsubStart, firestoreStart].flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    cleanups.push(() => allSettledOrThrow(started.map((e) => e.stop())));
    if (pubsubStart.status === 'rejected') throw pubsubStart.reason;
    if (firestoreStart.status === 'rejected') {
      if (importData === undefined) throw firestoreStart.reason;
      throw new Error(`the Firestore emulator did not start from the run records kept in ${kept.dir} (remove that folder to start without earlier stacks' runs): ${errorMessage(firestoreStart.reason)}`);
    }
    const pubsubEmulator = pubsubStart.value;
    // Run before the emulator stops, after everything that writes to it (cleanups run last first).
    cleanups.push(() => kept.save(firestoreStart.value));
    cleanups.push(useEmulatorEnv(pubsubEmulator), useEmulatorEnv(firestoreStart.value));

    const staging = new FolderObjectStore(where.staging, 'staging');
    const output = new FolderObjectStore(where.output, 'output');
    const stackConfig: Config = { ...config, gcp: { ...config.gcp, project: pubsubEmulator.project, stagingBucket: staging.bucket, outputBucket: output.bucket } };
    // Only the bus and the run store are used: the Pub/Sub and Firestore clients, on the emulators.
    const { bus, store } = gcpAdapters(stackConfig, { logger: options.logger });
    cleanups.push(() => store.close(), () => bus.close());
    const warehouse = await DuckDbWarehouse.open(where.warehouse, staging, output, { memoryMb: config.embedded.mergeMemoryMb });
    cleanups.push(() => warehouse.close());

    let activity = Date.now();
    const observe = (event: ChainEvent) => {
      activity = Date.now();
      options.observe?.(event);
    };
    const deps: ChainDeps = { config: stackConfig, warehouse, staging, output, bus, store, clock: systemClock, logger: options.logger, manifests: new Map(), observe };
    setDeps(deps);
    cleanups.push(() => setDeps(undefined));

    const requests = Object.fromEntries(FUNCTIONS.map((f) => [f, 0])) as Record<FunctionName, number>;
    const inflight = new Set<Promise<void>>();
    const serve = async (name: FunctionName, port = 0): Promise<Served> => {
      const server = getTestServer(name);
      server.on('request', (_req, res) => {
        requests[name]++;
        activity = Date.now();
        const done = new Promise<void>((resolve) => res.once('close', resolve));
        inflight.add(done);
        void done.then(() => inflight.delete(done));
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
      return { server, port: (server.address() as AddressInfo).port };
    };
    const served = new Map<FunctionName, Served>();
    const close = (s: Served) => new Promise<void>((resolve) => {
      s.server.close(() => resolve());
      s.server.closeAllConnections();
    });
    cleanups.push(async () => {
      // No new connections, then a moment for requests in flight to finish, then cut the rest.
      for (const s of served.values()) s.server.close().closeIdleConnections();
      await until(() => inflight.size === 0, 10_000);
      for (const s of served.values()) s.server.closeAllConnections();
    });
    for (const name of FUNCTIONS) served.set(name, await serve(name));
    const urls = Object.fromEntries(FUNCTIONS.map((f) => [f, `http://127.0.0.1:${served.get(f)!.port}`])) as Record<FunctionName, string>;

    const pubsub = new PubSubEmulatorAdmin(pubsubEmulator);
    for (const topic of Object.values(stackConfig.topics)) await pubsub.createTopic(topic);
    for (const [name, key] of PUSHED) {
      const topic = stackConfig.topics[key];
      // The ack deadline is the longest an invocation may take: the emulator re-sends after it.
      await pubsub.createSubscription(`${name}-push`, topic, { endpoint: `${urls[name]}/projects/${pubsubEmulator.project}/topics/${topic}`, ackDeadlineSeconds: 600 });
    }
    await pubsub.createSubscription(RUN_EVENTS_SUBSCRIPTION, stackConfig.topics.runEvents);

    const delivery = new FinalizeDelivery(urls.checkpointLanded, pubsubEmulator.project, options.logger);
    let held = false;
    staging.onFinalize((object) => held || delivery.send(object));
    cleanups.push(() => delivery.close());

    // Runs an earlier stack left active (stopped by Ctrl-C) lost their messages with its Pub/Sub
    // emulator: sent again now, as `bqx run` resumes an embedded run, or nothing would move them.
    // One that cannot be resumed (its manifest removed by hand) must not keep every later stack from starting.
    if (importData) {
      try {
        const resumed = (await reconcile(deps, { force: true })).filter((a) => a.action !== 'waiting');
        if (resumed.length > 0) options.logger.info(`stack: resumed ${resumed.length} run(s) an earlier stack left active: ${resumed.map((a) => `${a.runId} (${a.action})`).join(', ')}`, { step: 'stack' });
      } catch (error) {
        options.logger.warn(`stack: the runs an earlier stack left active could not be resumed: ${errorMessage(error)} (bqx run --force starts a new run of a pair)`, { step: 'stack' });
      }
    }

    return {
      deps, store, staging, output, pubsub, urls, requests,
      lastActivity: () => activity,
      holdNotifications: (hold) => void (held = hold),
      async restart(name) {
        const old = served.get(name)!;
        await close(old);
        served.set(name, await serve(name, old.port));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Eventarc's part: each finalized staging object as a binary-mode CloudEvent POSTed to
 * checkpointLanded, with a few in flight at once, retried with backoff until acknowledged (2xx).
 * Also used by the emulator fault sweep (test/sweep/emulatorWorld.ts).
 */
export class FinalizeDelivery {
  private readonly abort = new AbortController();
  private readonly retries = new Set<NodeJS.Timeout>();
  private readonly queue: { object: FinalizedObject; id: string; attempt: number }[] = [];
  private running = 0;
  private sequence = 0;

  constructor(private readonly url: string, private readonly project: string, private readonly logger: Logger, private readonly concurrency = 8) {}

  send(object: FinalizedObject): void {
    // Like a Cloud Storage generation: microseconds since the epoch, unique per write.
    this.queue.push({ object, id: String(Date.now() * 1000 + (this.sequence++ % 1000)), attempt: 1 });
    this.pump();
  }

  /** Events still queued, in flight or waiting to be retried. */
  get busy(): boolean {
    return this.running > 0 || this.queue.length > 0 || this.retries.size > 0;
  }

  close(): void {
    this.abort.abort();
    this.queue.length = 0;
    for (const timer of this.retries) clearTimeout(timer);
  }

  private pump(): void {
    while (!this.abort.signal.aborted && this.running < this.concurrency && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.running++;
      void this.deliver(item).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async deliver(item: { object: FinalizedObject; id: string; attempt: number }): Promise<void> {
    const { object, id } = item;
    let failure: string;
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-type': 'google.cloud.storage.object.v1.finalized',
          'ce-source': `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
          'ce-subject': `objects/${object.name}`,
          'ce-time': new Date().toISOString(),
        },
        body: JSON.stringify({
          kind: 'storage#object', bucket: object.bucket, name: object.name, size: String(object.size),
          generation: id, metageneration: '1', projectId: this.project, timeCreated: new Date().toISOString(),
        }),
        signal: this.abort.signal,
      });
      await response.arrayBuffer();
      if (response.ok) return;
      failure = `HTTP ${response.status}`;
    } catch (error) {
      if (this.abort.signal.aborted) return;
      failure = errorMessage(error);
    }
    const delay = Math.min(5_000, 250 * 2 ** (item.attempt - 1));
    this.logger.warn(`stack: finalize event ${id} for ${object.name} failed (${failure}); retry ${item.attempt} in ${delay} ms`, { step: 'stack' });
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      this.queue.push({ ...item, attempt: item.attempt + 1 });
      this.pump();
    }, delay);
    this.retries.add(timer);
  }
}

export interface StackRun {
  run: RunRecord;
  landed: number;
  /** Where the training data's _manifest.json is, or null when the run failed. */
  manifestPath: string | null;
  startupMs: number;
}

/**
 * Cloud Scheduler's part, once the run has ended: the reconcile function applies retention (the
 * pair's last BQX_KEEP datasets stay; shared/retention.ts), as the scheduled one does on Google
 * Cloud. Without it every stack's files stayed in BQX_HOME (13.4 GB after nine stacks of the
 * default demo). Best effort, as after an embedded run: a failure is logged, the run stands, and
 * the next stack tries again.
 */
async function applyRetention(reconcileUrl: string, logger: Logger): Promise<void> {
  try {
    const response = await fetch(`${reconcileUrl}/`, { method: 'POST' });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status} ${text.slice(0, 300)}`);
  } catch (error) {
    logger.warn(`stack: retention after the run failed: ${errorMessage(error)}`, { step: 'retention' });
  }
}

/**
 * Starts the stack, asks pipelineApi for the run (POST /runs, published to startRun), follows it to its end, and
 * stops the stack, also on error or SIGINT/SIGTERM. Throws InputError for a request the API refuses.
 */
export async function runOnEmulators(config: Config, request: RunRequest, options: StackOptions & { idleTimeoutMs?: number }): Promise<StackRun> {
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => (interrupted = signal);
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  const began = Date.now();
  let stack: EmulatorStack | undefined;
  try {
    stack = await startEmulatorStack(config, options);
    const startupMs = Date.now() - began;
    const check = () => {
      if (interrupted) throw new Error(`interrupted by ${interrupted}: the emulator stack was stopped`);
    };
    check();
    // The API publishes the request for startRun (202) and says where to watch; the run is found
    // by its pair in the run store, as `bqx run --target gcp` finds it.
    const store = stack.store;
    const before = await snapshotPair(store, request.pair);
    const sentAt = Date.now();
    const response = await fetch(`${stack.urls.pipelineApi}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    const answer = (await response.json()) as { accepted?: unknown; error?: unknown; messageId?: unknown };
    if (!response.ok || answer.accepted !== true) {
      const message = String(answer.error ?? `HTTP ${response.status}`);
      throw response.status < 500 ? new InputError(message) : new Error(message);
    }
    const idle = options.idleTimeoutMs ?? 180_000;
    const lastActivity = stack.lastActivity;
    const { run, landed } = await followRun({
      store,
      pair: request.pair,
      before,
      force: request.force ?? false,
      pollMs: 250,
      appearMs: idle,
      // startRun refusing it (bad input: no feature tables, not enough disk) records why under the message id.
      ...(typeof answer.messageId === 'string' ? { requestId: answer.messageId, sentAt } : {}),
      check: () => {
        check();
        if (Date.now() - lastActivity() > idle) throw new Error(`the run of ${request.pair} made no progress for ${idle / 1000} s`);
      },
    });
    await applyRetention(stack.urls.reconcile, options.logger);
    return { run, landed, manifestPath: run.output ? stack.output.uri(run.output.manifest) : null, startupMs };
  } catch (error) {
    // Ctrl-C reaches the emulators too, so a start-up cut short fails with their exit: say why.
    if (interrupted) throw new Error(`interrupted by ${interrupted}: the emulator stack was stopped`);
    throw error;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await stack?.stop();
  }
}
