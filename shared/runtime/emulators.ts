// The Pub/Sub and Firestore emulators of the Google Cloud CLI, each started on a free loopback
// port and stopped again: the Java server by its own PID (found with `pgrep -P`, as gcloud does not
// pass signals on), then gcloud. Readiness is polled over HTTP, never waited for by a fixed sleep.
// Without gcloud, java or the emulator component, startEmulator throws EmulatorUnavailableError,
// whose `reason` says what is missing in one line. Used by the emulator stack and by the tests.
//
//   const emulator = await startEmulator('firestore');
//   const restoreEnv = useEmulatorEnv(emulator);   // FIRESTORE_EMULATOR_HOST, in this process only
//   ...
//   restoreEnv();
//   await emulator.stop();

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants, promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export type EmulatorKind = 'pubsub' | 'firestore';

export interface Emulator {
  kind: EmulatorKind;
  /** host:port, as PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST want it. */
  host: string;
  project: string;
  stop(): Promise<void>;
}

export const EMULATOR_PROJECT = 'demo-bqx';

/** The emulators cannot run on this machine; `reason` says why, in one line. */
export class EmulatorUnavailableError extends Error {
  constructor(readonly kind: EmulatorKind, readonly reason: string) {
    super(`the ${kind} emulator cannot start: ${reason}`);
    this.name = 'EmulatorUnavailableError';
  }
}

const run = promisify(execFile);

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await fs.access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Ports freePort has handed out in this process: a port is free again once its probe closes, and an emulator binds it only seconds later. */
const handedOut = new Set<number>();

/** A loopback port nothing listens on, never one this process was given before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Every descendant of a process, deepest first. */
async function descendants(pid: number): Promise<number[]> {
  let children: number[] = [];
  try {
    const { stdout } = await run('pgrep', ['-P', String(pid)]);
    children = stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  const deeper = await Promise.all(children.map(descendants));
  return [...deeper.flat(), ...children];
}

/**
 * Whether `pid` has ended and been reaped, so that nothing of it is left: a zombie is left until its
 * parent reaps it, unless its parent is gone (then init is its parent, which in some containers
 * never reaps: waiting for it would never end). Without /proc, kill's answer alone.
 */
const gone = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ppid ...": the state and the parent after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' && ppid === '1';
  } catch {
    return false;
  }
};

const signal = (pid: number, name: NodeJS.Signals) => {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
};

export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return condition();
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** What keeps the emulators from running here (gcloud or java not on PATH), or undefined. */
export async function emulatorsMissing(): Promise<string | undefined> {
  const missing = [(await onPath('gcloud')) ? '' : 'gcloud', (await onPath('java')) ? '' : 'java'].filter(Boolean);
  return missing.length > 0 ? `gcloud/java not found (missing: ${missing.join(', ')})` : undefined;
}

export interface StartOptions {
  project?: string;
  timeoutMs?: number;
  /** Firestore: an export's metadata file to start from (`--import-data`; keptFirestore.ts). */
  importData?: string;
}

/**
 * Starts the emulator on a free loopback port. One that does not answer is started once more on
 * another port (a CI run once saw a Pub/Sub emulator answer its readiness check as a gRPC server
 * would, and start at once the next time); the error says what both attempts printed.
 */
export async function startEmulator(kind: EmulatorKind, options: StartOptions = {}): Promise<Emulator> {
  const missing = await emulatorsMissing();
  if (missing) throw new EmulatorUnavailableError(kind, missing);
  try {
    return await startOnce(kind, options);
  } catch (first) {
    if (first instanceof EmulatorUnavailableError) throw first;
    try {
      return await startOnce(kind, options);
    } catch (second) {
      if (second instanceof EmulatorUnavailableError) throw second;
      throw new Error(`${errorText(second)}\n(a first attempt failed too: ${errorText(first)})`);
    }
  }
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function startOnce(kind: EmulatorKind, options: StartOptions): Promise<Emulator> {
  const project = options.project ?? EMULATOR_PROJECT;
  const host = `127.0.0.1:${await freePort()}`;
  const imported = kind === 'firestore' && options.importData ? [`--import-data=${options.importData}`] : [];
  const child: ChildProcess = spawn('gcloud', ['beta', 'emulators', kind, 'start', `--host-port=${host}`, `--project=${project}`, ...imported, '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1', CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1' },
  });
  // What the emulator printed: its first lines (where a failed bind says so) and its last.
  let head = '';
  let log = '';
  const keep = (chunk: Buffer) => {
    if (head.length < 2000) head = (head + chunk.toString()).slice(0, 2000);
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  // The Java server is asked to stop and ends within a few hundred ms, gcloud reaping it; gcloud
  // itself, a launcher holding nothing of its own, took 1.5-2 s more to end on SIGTERM (its stop was
  // most of a stack's 4 s stop): once its server has ended and been reaped, it is ended at once.
  const stop = async (): Promise<void> => {
    if (child.pid === undefined || exited) return;
    const tree = await descendants(child.pid);
    for (const pid of tree) signal(pid, 'SIGTERM');
    if (tree.length === 0) child.kill('SIGTERM'); // no server yet: gcloud stops what it started
    const ended = await until(() => tree.every(gone) && (tree.length > 0 || exited), 10_000, 20);
    if (!ended) for (const pid of tree) if (!gone(pid)) signal(pid, 'SIGKILL');
    if (!exited) child.kill('SIGKILL');
    await exit;
  };

  const ready = kind === 'pubsub' ? `http://${host}/v1/projects/${project}/topics` : `http://${host}/`;
  const up = await until(async () => exited || (await answers(ready)), options.timeoutMs ?? 60_000);
  if (!up || exited) {
    await stop();
    if (/not installed|component/i.test(log)) throw new EmulatorUnavailableError(kind, `the ${kind} emulator component is not installed`);
    const printed = head.length < 2000 || log.startsWith(head.slice(0, 200)) ? log : `${head}\n...\n${log}`;
    throw new Error(`the ${kind} emulator did not start on ${host}:\n${printed}`);
  }
  return { kind, host, project, stop };
}

/**
 * Points this process's client libraries at the emulator (PUBSUB_EMULATOR_HOST or
 * FIRESTORE_EMULATOR_HOST) and tells google-auth-library not to look for a metadata server, so
 * nothing leaves loopback. Returns a function that puts the environment back.
 */
export function useEmulatorEnv(emulator: Emulator): () => void {
  const vars: Record<string, string> = {
    [emulator.kind === 'pubsub' ? 'PUBSUB_EMULATOR_HOST' : 'FIRESTORE_EMULATOR_HOST']: emulator.host,
    METADATA_SERVER_DETECTION: 'none',
  };
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

export interface PushSubscription {
  /** Where the emulator POSTs each message (the body a push subscription sends). */
  endpoint: string;
  ackDeadlineSeconds?: number;
}

export interface PulledMessage {
  data: string;
  attributes: Record<string, string>;
  messageId: string;
  publishTime?: string;
}

/**
 * Administers topics and subscriptions on the Pub/Sub emulator through its REST API, and publishes
 * and pulls as `gcloud pubsub` does. The emulator pushes one message at a time per loop, two loops
 * per subscription, and retries a failed push (non-2xx or a dropped connection) after 1 s.
 */
export class PubSubEmulatorAdmin {
  constructor(private readonly emulator: Pick<Emulator, 'host' | 'project'>) {}

  async createTopic(topic: string): Promise<void> {
    await this.call('PUT', `topics/${topic}`, {});
  }

  async createSubscription(name: string, topic: string, push?: PushSubscription): Promise<void> {
    await this.call('PUT', `subscriptions/${name}`, {
      topic: `projects/${this.emulator.project}/topics/${topic}`,
      ackDeadlineSeconds: push?.ackDeadlineSeconds ?? 60,
      ...(push ? { pushConfig: { pushEndpoint: push.endpoint } } : {}),
    });
  }

  /** Deletes a subscription: the emulator stops pushing (and retrying) its messages. */
  async deleteSubscription(name: string): Promise<void> {
    await this.call('DELETE', `subscriptions/${name}`);
  }

  async publish(topic: string, data: string, attributes: Record<string, string> = {}): Promise<string> {
    const body = await this.call('POST', `topics/${topic}:publish`, { messages: [{ data: Buffer.from(data, 'utf8').toString('base64'), attributes }] });
    const ids = (body as { messageIds?: unknown }).messageIds;
    if (!Array.isArray(ids) || typeof ids[0] !== 'string') throw new Error(`the Pub/Sub emulator did not return a message id for ${topic}`);
    return ids[0];
  }

  /** Pulls and acknowledges what a pull subscription holds now (at most 100 messages). */
  async pull(subscription: string): Promise<PulledMessage[]> {
    const body = await this.call('POST', `subscriptions/${subscription}:pull`, { maxMessages: 100, returnImmediately: true });
    const received = ((body as { receivedMessages?: { ackId: string; message: { data?: string; attributes?: Record<string, string>; messageId: string; publishTime?: string } }[] }).receivedMessages ?? []);
    if (received.length > 0) await this.call('POST', `subscriptions/${subscription}:acknowledge`, { ackIds: received.map((r) => r.ackId) });
    return received.map((r) => ({
      data: Buffer.from(r.message.data ?? '', 'base64').toString('utf8'),
      attributes: r.message.attributes ?? {},
      messageId: r.message.messageId,
      ...(r.message.publishTime ? { publishTime: r.message.publishTime } : {}),
    }));
  }

  private async call(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const url = `http://${this.emulator.host}/v1/projects/${this.emulator.project}/${path}`;
    const response = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    if (!response.ok) throw new Error(`Pub/Sub emulator ${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : {};
  }
}
