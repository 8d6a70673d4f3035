// Following a run that someone else drives (startRun on Google Cloud or on the emulator stack),
// from the run store alone. A run request is published, not answered with a run id, so the run it
// started is found by pair: the pair's active run, or (when the run was quick) its last run, but
// never one that was there before the request, and with --force not the active run it replaces.

import type { ChainEvent } from '../chain/deps.js';
import { InputError } from '../naming.js';
import type { RunRecord, RunStore } from '../ports.js';

/** The pair's runs as they were before a request was sent. */
export interface PairSnapshot {
  active?: string;
  last?: string;
}

export async function snapshotPair(store: RunStore, pair: string): Promise<PairSnapshot> {
  const [active, last] = await Promise.all([store.activeRun(pair), store.lastRun(pair)]);
  return { ...(active ? { active: active.runId } : {}), ...(last ? { last: last.runId } : {}) };
}

/** The run a request for `pair` started or joined, if it is in the store yet. */
export async function runOfRequest(store: RunStore, pair: string, before: PairSnapshot, force: boolean): Promise<RunRecord | undefined> {
  const replaced = force ? before.active : undefined;
  const active = await store.activeRun(pair);
  if (active && active.runId !== replaced) return active;
  const last = await store.lastRun(pair);
  if (last && last.runId !== before.last && last.runId !== replaced) return last;
  return undefined;
}

export interface FollowOptions {
  store: RunStore;
  pair: string;
  before: PairSnapshot;
  force?: boolean;
  /** Chain events for the progress bars: started, landed, merge (0/1, then 1/1), finished. */
  observe?: (event: ChainEvent) => void;
  pollMs?: number;
  /** How long to wait for the run to appear (startRun refusing a request leaves none). */
  appearMs?: number;
  /** Throws to stop following (a signal, the stack's own idle check). */
  check?: () => void | Promise<void>;
  /** The id of the request sent (its message id): a refusal startRun recorded for it ends the wait with its reason. */
  requestId?: string;
  /**
   * When the request was sent (ms since the epoch, this machine's clock and startRun's the same):
   * a refusal recorded before it under the same id is an earlier request's (the emulator stack,
   * whose Pub/Sub emulator numbers messages from 1 each start, keeps earlier stacks' records).
   */
  sentAt?: number;
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for the request's run, then follows it to succeeded or failed; resolves with it and its landed count. */
export async function followRun(options: FollowOptions): Promise<{ run: RunRecord; landed: number }> {
  const { store, pair, observe } = options;
  const pollMs = options.pollMs ?? 1000;
  const sleep = options.sleep ?? wait;
  const appearBy = Date.now() + (options.appearMs ?? 300_000);
  let run: RunRecord | undefined;
  for (;;) {
    await options.check?.();
    run = await runOfRequest(store, pair, options.before, options.force ?? false);
    if (run) break;
    const refusal = options.requestId ? await store.getRefusal(options.requestId) : undefined;
    if (refusal && (options.sentAt === undefined || Date.parse(refusal.at) >= options.sentAt)) throw new InputError(`startRun refused the request: ${refusal.reason}`);
    if (Date.now() > appearBy) {
      throw new Error(`no run of ${pair} appeared within ${Math.round((options.appearMs ?? 300_000) / 1000)} s of the request: startRun may have refused it (see its logs)`);
    }
    await sleep(pollMs);
  }
  const runId = run.runId;
  observe?.({ type: 'started', runId, pair, expected: run.expected });
  let landed = -1;
  let merging = false;
  for (;;) {
    const count = await store.countCheckpoints(runId);
    if (count !== landed) {
      landed = count;
      observe?.({ type: 'landed', runId, feature: '', landed, expected: run.expected });
    }
    if (!merging && run.state !== 'extracting') {
      merging = true;
      observe?.({ type: 'merge', runId, progress: { step: 'merge', done: 0, total: 1 } });
    }
    if (run.state === 'succeeded' || run.state === 'failed') {
      if (run.state === 'succeeded') observe?.({ type: 'merge', runId, progress: { step: 'merge', done: 1, total: 1 } });
      observe?.({ type: 'finished', runId, state: run.state });
      return { run, landed };
    }
    await sleep(pollMs);
    await options.check?.();
    const next = await store.getRun(runId);
    if (!next) throw new Error(`run ${runId} disappeared from the run store`);
    run = next;
  }
}
