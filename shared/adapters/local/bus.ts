// An in-process message bus with Pub/Sub's semantics: at-least-once delivery, retries with
// exponential backoff, a dead-letter list after N attempts, bounded concurrency per subscription.
// Tests can make it deliver every message twice, or fail a share of deliveries, or hand the
// timing to a scheduler (a seeded one and a fake clock make every run replayable from its seed).

import type { MessageBus } from '../../ports.js';

export interface BusMessage {
  id: string;
  topic: string;
  data: string;
  attributes: Record<string, string>;
  publishTime: string;
  /** 1 on the first delivery, as Pub/Sub's deliveryAttempt. */
  deliveryAttempt: number;
}

export interface SubscriptionOptions {
  concurrency?: number;
  maxAttempts?: number;
  /** First retry delay; doubles each attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface BusFaults {
  /** Deliver every message twice (the second copy after the first completes or concurrently). */
  duplicate?: boolean;
  /** Share (0..1) of deliveries that fail before reaching the handler, as a crashed instance would. */
  failRate?: number;
  /** Seed for the failure draw, so a failing test can be replayed. */
  seed?: number;
}

/**
 * Takes over the bus's timing, for deterministic simulation: deliveries run one at a time, in the
 * order `pick` chooses among the ready ones, and delays and retry backoffs wait on `now`/`advanceTo`
 * (a fake clock) instead of timers. Nothing runs until `idle()` is awaited, which drives it.
 */
export interface BusScheduler {
  /** The scheduler's time, in ms. */
  now(): number;
  /** Moves time forward to `ms` when nothing is ready before then. */
  advanceTo(ms: number): void;
  /** Index (0..ready-1) of the delivery to run next; the ready ones are in the order they became due. */
  pick(ready: number): number;
  /** Copies of a published message to deliver (at-least-once: any message may come twice). */
  copies(message: BusMessage): number;
  /** Extra delay (ms) before a copy or a retry becomes due. */
  delayMs(message: BusMessage): number;
  /** Time (ms) a delivery takes: the clock moves on by it once the handler returns. */
  handlingMs(message: BusMessage): number;
}

/** Runs each delivery; a test can wrap it (say, to know which delivery a side effect belongs to). */
export type DeliveryInterceptor = (subscription: string, message: BusMessage, deliver: () => Promise<void>) => Promise<void>;

interface Due {
  at: number;
  seq: number;
  sub: Subscription;
  message: BusMessage;
}

export interface DeadLetter {
  subscription: string;
  message: BusMessage;
  error: string;
}

interface Subscription {
  name: string;
  topic: string;
  handler: (message: BusMessage) => Promise<void>;
  options: Required<SubscriptionOptions>;
  queue: BusMessage[];
  running: number;
}

export class InProcessBus implements MessageBus {
  readonly deadLetters: DeadLetter[] = [];
  /** Every message published, per topic, in order: what a test or the CLI inspects. */
  readonly published = new Map<string, BusMessage[]>();
  private subscriptions: Subscription[] = [];
  private nextId = 1;
  private pending = 0; // queued + running + waiting for a retry
  private idleWaiters: (() => void)[] = [];
  private random: () => number;
  private timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private scheduler: BusScheduler | undefined;
  private due: Due[] = [];
  private dueSeq = 0;
  private driving: Promise<void> | undefined;
  private intercept: DeliveryInterceptor = (_s, _m, deliver) => deliver();

  constructor(private faults: BusFaults = {}, private onError: (sub: string, m: BusMessage, e: unknown) => void = () => {}) {
    this.random = mulberry32(faults.seed ?? 1);
  }

  setFaults(faults: BusFaults): void {
    this.faults = faults;
    this.random = mulberry32(faults.seed ?? 1);
  }

  /** Hands the timing to a scheduler (before anything is published): see BusScheduler. */
  useScheduler(scheduler: BusScheduler): void {
    this.scheduler = scheduler;
  }

  /** Wraps every delivery from now on. */
  interceptDeliveries(intercept: DeliveryInterceptor): void {
    this.intercept = intercept;
  }

  subscribe(topic: string, name: string, handler: (message: BusMessage) => Promise<void>, options: SubscriptionOptions = {}): void {
    this.subscriptions.push({
      name,
      topic,
      handler,
      options: { concurrency: 4, maxAttempts: 5, minBackoffMs: 10, maxBackoffMs: 1000, ...options },
      queue: [],
      running: 0,
    });
  }

  async publish(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    if (this.closed) throw new Error('bus is closed');
    const message: BusMessage = {
      id: String(this.nextId++),
      topic,
      data: typeof data === 'string' ? data : JSON.stringify(data),
      attributes: { ...attributes },
      publishTime: new Date(this.scheduler ? this.scheduler.now() : Date.now()).toISOString(),
      deliveryAttempt: 1,
    };
    const log = this.published.get(topic) ?? [];
    log.push(message);
    this.published.set(topic, log);
    for (const sub of this.subscriptions.filter((s) => s.topic === topic)) {
      const copies = this.scheduler ? this.scheduler.copies(message) : this.faults.duplicate ? 2 : 1;
      for (let i = 0; i < copies; i++) this.enqueue(sub, { ...message });
    }
    return message.id;
  }

  async publishMany(topic: string, items: { data: unknown; attributes?: Record<string, string> }[]): Promise<string[]> {
    const ids: string[] = [];
    for (const item of items) ids.push(await this.publish(topic, item.data, item.attributes));
    return ids;
  }

  /** Resolves once nothing is queued, running, or waiting to be retried. */
  idle(): Promise<void> {
    if (this.scheduler) return this.drive();
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retries and refuses new messages; what is queued is dropped (as when a process dies). */
  close(): void {
    this.closed = true;
    this.pending -= this.timers.size;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.subscriptions) {
      this.pending -= s.queue.length;
      s.queue = [];
    }
    this.pending -= this.due.length;
    this.due = [];
    this.maybeIdle();
  }

  /** Scheduler mode: runs due deliveries one at a time, moving the clock when none is due. */
  private drive(): Promise<void> {
    this.driving ??= (async () => {
      const scheduler = this.scheduler!;
      while (!this.closed && this.due.length > 0) {
        const now = scheduler.now();
        const ready = this.due.filter((d) => d.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
        if (ready.length === 0) {
          scheduler.advanceTo(Math.min(...this.due.map((d) => d.at)));
          continue;
        }
        const next = ready[Math.min(ready.length - 1, Math.max(0, scheduler.pick(ready.length)))]!;
        this.due.splice(this.due.indexOf(next), 1);
        next.sub.running++;
        await this.deliver(next.sub, next.message);
        scheduler.advanceTo(scheduler.now() + Math.max(0, scheduler.handlingMs(next.message)));
      }
    })().finally(() => {
      this.driving = undefined;
    });
    return this.driving;
  }

  private schedule(sub: Subscription, message: BusMessage, afterMs: number): void {
    const scheduler = this.scheduler!;
    this.pending++;
    this.due.push({ at: scheduler.now() + afterMs + Math.max(0, scheduler.delayMs(message)), seq: this.dueSeq++, sub, message });
  }

  private enqueue(sub: Subscription, message: BusMessage): void {
    if (this.scheduler) return this.schedule(sub, message, 0);
    this.pending++;
    sub.queue.push(message);
    this.pump(sub);
  }

  private pump(sub: Subscription): void {
    while (!this.closed && sub.running < sub.options.concurrency && sub.queue.length > 0) {
      const message = sub.queue.shift()!;
      sub.running++;
      void this.deliver(sub, message);
    }
  }

  private async deliver(sub: Subscription, message: BusMessage): Promise<void> {
    let failed: unknown;
    try {
      const rate = this.faults.failRate ?? 0;
      if (rate > 0 && this.random() < rate) throw new Error('injected delivery failure');
      await this.intercept(sub.name, message, () => sub.handler(message));
    } catch (error) {
      failed = error;
    }
    sub.running--;
    if (failed !== undefined && !this.closed) {
      this.onError(sub.name, message, failed);
      if (message.deliveryAttempt >= sub.options.maxAttempts) {
        this.deadLetters.push({ subscription: sub.name, message, error: failed instanceof Error ? failed.message : String(failed) });
      } else {
        const delay = Math.min(sub.options.maxBackoffMs, sub.options.minBackoffMs * 2 ** (message.deliveryAttempt - 1));
        const retry = { ...message, deliveryAttempt: message.deliveryAttempt + 1 };
        if (this.scheduler) this.schedule(sub, retry, delay);
        else {
          this.pending++;
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.pending--;
            if (!this.closed) this.enqueue(sub, retry);
            else this.maybeIdle();
          }, delay);
          this.timers.add(timer);
        }
      }
    }
    this.pending--;
    if (!this.scheduler) this.pump(sub);
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** A small seeded PRNG, so injected failures are reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
