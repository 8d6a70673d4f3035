// The fault sweep on the emulator stack: the deployed entry points (functions/index.ts, served by
// the Functions Framework on loopback) driven by the real Pub/Sub emulator (push subscriptions) and
// recording runs in the real Firestore emulator through the Firestore run store; objects in the
// embedded folders and the warehouse the sweep shares (replayWarehouse.ts), as the emulator chain
// test has them. The emulators and the function servers start once (a Bed); every case gets a
// project of its own (topics, subscriptions, documents), folders of its own, and a crash plan.
//
// Each invocation of a function gets ports of its own (functions/deps.ts setDeps with a function),
// wrapped as the embedded sweep wraps them (effects.ts), so a crash planned at side effect k kills
// the invocation that makes it and only that one: the function answers 500 and Pub/Sub (or the
// finalize delivery, Eventarc's part) delivers it again. Time is real: when nothing has moved for
// a while, the reconciler is called over HTTP, as Cloud Scheduler would. Then the same invariants
// as the embedded sweep are checked (invariants.ts checkRun).

import { Firestore } from '@google-cloud/firestore';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setDeps } from '../../functions/deps.js';
import '../../functions/index.js';
import { gcpAdapters } from '../../shared/adapters/gcp/index.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { silentLogger, systemClock } from '../../shared/log.js';
import { TERMINAL_STATES, type Clock, type RunRecord } from '../../shared/ports.js';
import { FinalizeDelivery, FUNCTIONS, type FunctionName } from '../../shared/runtime/emulatorStack.js';
import { PubSubEmulatorAdmin, until, useEmulatorEnv, type Emulator } from '../../shared/runtime/emulators.js';
import { startEmulator } from '../gcp/emulators.js';
import { Effects, effectfulBus, effectfulRunStore, effectfulStore, effectfulWarehouse } from './effects.js';
import type { CrashPoint, SampledEffect } from './emulatorSample.js';
import { checkRun, filesUnder, type Baseline, type Observed, type RunEventSeen } from './invariants.js';
import { laterProblems, type LaterScenario } from './laterVersion.js';
import type { Reference } from './sweep.js';
import type { Base } from './world.js';

/** The pushed functions and the topic (config key) each is pushed from, as terraform wires them. */
const PUSHED: [FunctionName, keyof Config['topics']][] = [['startRun', 'runRequests'], ['extractFeature', 'extractRequests'], ['mergeRun', 'mergeRequests']];
const EVENTS_SUBSCRIPTION = 'run-events-sweep';
/**
 * Nothing in flight for this long counts as "nothing moves": longer than the Pub/Sub emulator's
 * wait before it pushes a failed message again (about 1 s) and the finalize delivery's first retries.
 */
const QUIET_MS = 1_500;
/** Reconciler calls before a run counts as stuck, as in the embedded sweep. */
const MAX_ROUNDS = 12;

/** The emulators and the function servers, started once for many cases. */
export interface Bed {
  pubsub: Emulator;
  firestore: Emulator;
  urls: Record<FunctionName, string>;
  /** Requests in flight at the function servers, and when the last one began or ended. */
  inflight(): number;
  lastActivity(): number;
  /** What the Functions Framework printed for failed invocations (crashes), kept out of the test output. */
  errors: string[];
  nextProject(): string;
  close(): Promise<void>;
}

/** Starts the emulators and serves the functions; undefined (having printed SKIPPED and why) where the emulators cannot run. */
export async function openBed(): Promise<Bed | undefined> {
  const [pubsub, firestore] = await Promise.all([startEmulator('pubsub'), startEmulator('firestore')]);
  if (!pubsub || !firestore) {
    await Promise.all([pubsub?.stop(), firestore?.stop()]);
    return undefined;
  }
  const restores = [useEmulatorEnv(pubsub), useEmulatorEnv(firestore)];
  // A crashed invocation is an error the Functions Framework prints; hundreds of them are expected.
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.map(String).join(' ').slice(0, 300));
  let inflight = 0;
  let activity = Date.now();
  const servers: Server[] = [];
  const urls = {} as Record<FunctionName, string>;
  for (const name of FUNCTIONS) {
    const server = getTestServer(name);
    server.on('request', (_req, res) => {
      inflight++;
      activity = Date.now();
      res.once('close', () => {
        inflight--;
        activity = Date.now();
      });
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  let project = 0;
  return {
    pubsub, firestore, urls, errors,
    inflight: () => inflight,
    lastActivity: () => activity,
    nextProject: () => `demo-bqx-sweep-${process.pid}-${++project}`,
    async close() {
      for (const s of servers) s.close().closeAllConnections();
      console.error = consoleError;
      for (const restore of restores.reverse()) restore();
      await Promise.all([pubsub.stop(), firestore.stop()]);
    },
  };
}

/** One case on the bed: its stores, its effects, the runs it played. */
export interface EmulatorWorld extends Observed {
  config: Config;
  clock: Clock;
  effects: Effects;
  /** The pairs' runs, as the run store has them once everything settled. */
  runs: Map<string, RunRecord | undefined>;
  /** How many times the reconciler was called. */
  reconciled: number;
  /** The message id of each pair's last run request. */
  requests: Map<string, string>;
  /**
   * Asks for a run: the pair's name, or a request's JSON (a window, `refresh`: shared/chain/messages.ts),
   * published on the run-requests topic, or through POST /runs with `viaApi`.
   */
  ask(request: string | ({ pair: string } & Record<string, unknown>), viaApi?: boolean): Promise<void>;
  /** Waits until the runs asked for have ended, calling the reconciler whenever nothing moves, and notes them in `runs`. */
  drive(): Promise<void>;
  close(): Promise<void>;
}

/** Requests runs of `pairs` at once on a fresh project of the bed, crashed as planned, and drives them to their end. */
export async function playOnEmulators(bed: Bed, base: Base, pairs: string[], options: { crash?: CrashPoint; viaApi?: boolean } = {}): Promise<EmulatorWorld> {
  const world = await openOnEmulators(bed, base);
  try {
    options.crash?.plan(world.effects);
    for (const pair of pairs) await world.ask(pair, options.viaApi);
    await world.drive();
    return world;
  } catch (error) {
    await world.close();
    throw error;
  }
}

/** A fresh project of the bed, its folders, topics, subscriptions and ports: nothing asked yet. */
export async function openOnEmulators(bed: Bed, base: Base): Promise<EmulatorWorld> {
  const project = bed.nextProject();
  const home = mkdtempSync(path.join(base.dir, 'emulators-'));
  const staging = new FolderObjectStore(path.join(home, 'staging'), 'staging');
  const output = new FolderObjectStore(path.join(home, 'output'), 'output');
  const loaded = loadConfig({ ...base.shape.env, BQX_HOME: home, BQX_STALL_SECONDS: '1' });
  const config: Config = { ...loaded, gcp: { ...loaded.gcp, project, stagingBucket: staging.bucket, outputBucket: output.bucket } };
  const { bus, store } = gcpAdapters(config);
  const db = new Firestore({ projectId: project });
  const admin = new PubSubEmulatorAdmin({ host: bed.pubsub.host, project });
  const effects = new Effects();
  const delivery = new FinalizeDelivery(bed.urls.checkpointLanded, project, silentLogger);
  const events: RunEventSeen[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(home, { recursive: true, force: true }), () => store.close(), () => bus.close(), () => db.terminate()];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
  };
  try {
    for (const topic of Object.values(config.topics)) await admin.createTopic(topic);
    for (const [name, key] of PUSHED) {
      const topic = config.topics[key];
      await admin.createSubscription(`${name}-push`, topic, { endpoint: `${bed.urls[name]}/projects/${project}/topics/${topic}`, ackDeadlineSeconds: 600 });
      // A deleted subscription stops its pushes: nothing of this case reaches the next one.
      cleanups.push(() => admin.deleteSubscription(`${name}-push`));
    }
    await admin.createSubscription(EVENTS_SUBSCRIPTION, config.topics.runEvents);
    const warehouse = base.shared.for(staging, output);
    const manifests = new Map();
    let invocation = 0;
    setDeps(() => {
      const sink = effects.scoped(`invocation#${++invocation}`);
      return {
        config, clock: systemClock, logger: silentLogger, manifests,
        staging: effectfulStore(staging, sink, 'staging'),
        output: effectfulStore(output, sink, 'output'),
        store: effectfulRunStore(store, sink),
        bus: effectfulBus(bus, sink),
        warehouse: effectfulWarehouse(warehouse, sink),
      };
    });
    cleanups.push(() => setDeps(undefined), () => delivery.close());
    staging.onFinalize((object) => delivery.send(object));
  } catch (error) {
    await close();
    throw error;
  }

  const requests = new Map<string, string>();
  const runs = new Map<string, RunRecord | undefined>();
  let asked = 0;
  const world: EmulatorWorld = {
    config, clock: systemClock, effects, runs, requests, staging, output, store, reconciled: 0, close,
    // The user's requests go straight onto the topic: they are not side effects of the runs.
    async ask(request, viaApi = false) {
      const pair = typeof request === 'string' ? request : request.pair;
      const body = typeof request === 'string' ? request : JSON.stringify(request);
      asked = Date.now();
      if (!viaApi) requests.set(pair, await admin.publish(config.topics.runRequests, body, { pair }));
      else {
        // POST /runs publishes the request for startRun (its publish is the API invocation's side effect).
        const response = await fetch(`${bed.urls.pipelineApi}/runs`, { method: 'POST', headers: { 'content-type': typeof request === 'string' ? 'text/plain' : 'application/json' }, body });
        const answer = (await response.json()) as { messageId?: string; error?: string };
        if (response.status !== 202 || !answer.messageId) throw new Error(`POST /runs ${pair}: ${response.status} ${answer.error ?? ''}`);
        requests.set(pair, answer.messageId);
      }
    },
    async drive() {
      // Until the first push arrives, nothing in flight does not mean nothing moves.
      await until(() => bed.lastActivity() > asked, 30_000, 50);
      const quiet = () => until(() => bed.inflight() === 0 && !delivery.busy && Date.now() - bed.lastActivity() > QUIET_MS, 120_000, 100);
      // A pair is done once the run its last request started has ended (a run before it has too),
      // or startRun refused that request (then the checks say its run is not there).
      const waiting = async (pair: string, id: string) => {
        const run = await store.lastRun(pair);
        if (run?.requestId === id) return !TERMINAL_STATES.includes(run.state);
        return (await store.getRefusal(id)) === undefined;
      };
      const open = async () => (await Promise.all([...requests].map(([pair, id]) => waiting(pair, id)))).some(Boolean);
      for (let round = 0; round < MAX_ROUNDS; round++) {
        if (!(await quiet())) throw new Error(`${project}: the functions were still busy after 120 s`);
        if (!(await open())) break;
        world.reconciled++;
        const response = await fetch(`${bed.urls.reconcile}/`, { method: 'POST' });
        await response.arrayBuffer();
      }
      await quiet();
      for (const pair of requests.keys()) runs.set(pair, await store.lastRun(pair));
    },
    inventory: async () => ({ staging: await filesUnder(staging.root), output: await filesUnder(output.root), store: await documents(db) }),
    async runEvents() {
      for (let pulled = await admin.pull(EVENTS_SUBSCRIPTION); pulled.length > 0; pulled = await admin.pull(EVENTS_SUBSCRIPTION)) {
        events.push(...pulled.map((m) => JSON.parse(m.data) as RunEventSeen));
      }
      return [...events];
    },
  };
  return world;
}

/**
 * Every Firestore document of the project, named as the embedded stores name theirs (runs/<id>,
 * pairs/<pair>, claims/<runId>/<claim>, checkpoints/<runId>/<feature>), so the checks read both alike.
 */
async function documents(db: Firestore): Promise<string[]> {
  const names: string[] = [];
  for (const collection of await db.listCollections()) {
    for (const doc of await collection.listDocuments()) {
      if ((await doc.get()).exists) names.push(`${collection.id}/${doc.id}`);
      for (const sub of await doc.listCollections()) for (const d of await sub.listDocuments()) names.push(`${sub.id}/${doc.id}/${d.id}`);
    }
  }
  return names.sort();
}

export interface EmulatorCase {
  /** Broken invariants (invariants.ts), plus a crash that was planned and did not happen. */
  problems: string[];
  /** The crashes as they happened: effect number, before/after, its kind, the invocation. */
  crashed: Effects['crashes'];
  /** The swept run's side effects, in order: their kinds and what they touched. */
  effects: SampledEffect[];
  reconciled: number;
}

/** What a crash point hit, as it happened: `after the first run.claim (after 33 run.claim)`. */
export function crashedAt(point: CrashPoint, c: EmulatorCase): string {
  return `${point.name} (${c.crashed.map((x) => `${x.when} ${x.n} ${x.kind}`).join(', ') || 'none'})`;
}

/** One run of the shape's first pair on a fresh project, crashed at `crash`, checked against the fault-free run. */
export async function crashedOnEmulators(bed: Bed, base: Base, reference: Baseline, crash: CrashPoint): Promise<EmulatorCase> {
  const world = await playOnEmulators(bed, base, [base.shape.pairs[0]!], { crash });
  try {
    const problems = await checkRun(world, world.runs.get(base.shape.pairs[0]!), reference);
    if (world.effects.crashes.length !== 1) problems.push(`${world.effects.crashes.length} crash(es) happened, 1 planned (the run made ${world.effects.log.length} side effects)`);
    return { problems, crashed: world.effects.crashes, effects: world.effects.log.map(({ kind, what }) => ({ kind, what })), reconciled: world.reconciled };
  } finally {
    await world.close();
  }
}

/**
 * A pair's second version on a fresh project (laterVersion.ts, `reference`'s scenario): its first
 * version asked for and driven to its end fault-free, then the second, crashed at `crash` (its side
 * effects numbered from the second's first), checked as the embedded sweep checks it against
 * `reference`, the scenario's fault-free play there: the same output, the same objects and records
 * once the next retention has run. `tamper` changes the world before the checks (to show them failing).
 */
export async function laterOnEmulators(bed: Bed, base: Base, reference: Reference, options: { crash?: CrashPoint; tamper?: (world: EmulatorWorld, first: RunRecord) => Promise<void> } = {}): Promise<EmulatorCase> {
  const { crash, tamper } = options;
  const { scenario } = reference;
  if (!('spec' in scenario)) throw new Error(`the ${scenario.name} scenario is not a second version: the emulator sweep plays those and single runs`);
  const { spec } = scenario as LaterScenario;
  // Every world of such a scenario starts from the base's warehouse as the first version left it.
  if (spec.change) throw new Error(`the ${spec.name} scenario changes its warehouse after the first version: it runs on the embedded sweep's memory stores only`);
  const pair = base.shape.pairs[0]!;
  const world = await openOnEmulators(bed, base);
  try {
    await world.ask(spec.first(pair));
    await world.drive();
    const first = world.runs.get(pair);
    if (first?.state !== 'succeeded') throw new Error(`the first version did not succeed on the emulators: ${first ? `${first.state}: ${first.error}` : 'it never started'}`);
    const from = world.effects.log.length;
    crash?.plan(world.effects, from);
    await world.ask(spec.second(pair));
    await world.drive();
    await tamper?.(world, first);
    const problems = await laterProblems(spec, world, world.runs.get(pair), reference);
    const planned = crash ? 1 : 0;
    if (world.effects.crashes.length !== planned) problems.push(`${world.effects.crashes.length} crash(es) happened, ${planned} planned (the second version made ${world.effects.log.length - from} side effects)`);
    // Numbered as the second version's own side effects, as the embedded sweep numbers them.
    return { problems, crashed: world.effects.crashes.map((c) => ({ ...c, n: c.n - from })), effects: world.effects.log.slice(from).map(({ kind, what }) => ({ kind, what })), reconciled: world.reconciled };
  } finally {
    await world.close();
  }
}
