// An in-process message bus with Pub/Sub's semantics: at-least-once delivery, retries with
// exponential backoff, a dead-letter list after N attempts, bounded concurrency per subscription.
// Tests can make it deliver every message twice, or fail a share of deliveries.

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

  constructor(private faults: BusFaults = {}, private onError: (sub: string, m: BusMessage, e: unknown) => void = () => {}) {
    this.random = mulberry32(faults.seed ?? 1);
  }

  setFaults(faults: BusFaults): void {
    this.faults = faults;
    this.random = mulberry32(faults.seed ?? 1);
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
      publishTime: new Date().toISOString(),
      deliveryAttempt: 1,
    };
    const log = this.published.get(topic) ?? [];
    log.push(message);
    this.published.set(topic, log);
    for (const sub of this.subscriptions.filter((s) => s.topic === topic)) {
      const copies = this.faults.duplicate ? 2 : 1;
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
    this.maybeIdle();
  }

  private enqueue(sub: Subscription, message: BusMessage): void {
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
      await sub.handler(message);
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
        this.pending++;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.pending--;
          if (!this.closed) this.enqueue(sub, { ...message, deliveryAttempt: message.deliveryAttempt + 1 });
          else this.maybeIdle();
        }, delay);
        this.timers.add(timer);
      }
    }
    this.pending--;
    this.pump(sub);
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
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
