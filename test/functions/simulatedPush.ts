// A Pub/Sub push subscription with a dead-letter policy, on a simulated clock, delivering to a
// function entry point as the deployed subscription does (terraform/main.tf, section 10): one
// delivery at a time (concurrency 1); a delivery fails when the handler throws or runs past its
// timeout or the ack deadline; a failed delivery comes back after an exponential backoff
// (minimum_backoff doubling up to maximum_backoff) and, at max_delivery_attempts, goes to the
// dead-letter topic instead. Every message published is a new message with a delivery count of 0.

import type { CloudEvent } from '@google-cloud/functions-framework';
import { MESSAGE_PUBLISHED } from '../../functions/events.js';
import type { MessageBus } from '../../shared/ports.js';

export interface SimClock {
  now(): Date;
  advance(ms: number): void;
  set(ms: number): void;
}

export function simClock(startMs: number): SimClock {
  let now = startMs;
  return { now: () => new Date(now), advance: (ms) => void (now += ms), set: (ms) => void (now = Math.max(now, ms)) };
}

export interface PushSettings {
  maxDeliveryAttempts: number;
  minBackoffSeconds: number;
  maxBackoffSeconds: number;
  timeoutSeconds: number;
  ackDeadlineSeconds: number;
}

interface Queued {
  id: string;
  data: unknown;
  attributes: Record<string, string>;
  deliveries: number;
  availableAt: number;
}

export interface Delivery {
  id: string;
  attempt: number;
  at: number;
  ms: number;
  outcome: 'acked' | 'failed' | 'timed-out';
}

export class SimulatedPush {
  readonly deliveries: Delivery[] = [];
  readonly deadLetters: Queued[] = [];
  private readonly queue: Queued[] = [];
  private next = 1;

  constructor(
    readonly topic: string,
    private readonly settings: PushSettings,
    private readonly clock: SimClock,
    private readonly handler: (event: CloudEvent<unknown>) => Promise<void>,
  ) {}

  publish(data: unknown, attributes: Record<string, string> = {}): string {
    const id = String(this.next++);
    this.queue.push({ id, data, attributes, deliveries: 0, availableAt: this.clock.now().getTime() });
    return id;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** When the next delivery is due, or undefined when nothing is queued. */
  nextDue(): number | undefined {
    return this.queue.length === 0 ? undefined : Math.min(...this.queue.map((q) => q.availableAt));
  }

  /** Delivers the message due first; the clock moves to its time, then by what the handler spends. */
  async deliverOne(): Promise<void> {
    const due = this.nextDue();
    if (due === undefined) return;
    const index = this.queue.findIndex((q) => q.availableAt === due);
    const [message] = this.queue.splice(index, 1) as [Queued];
    this.clock.set(due);
    message.deliveries++;
    const began = this.clock.now().getTime();
    let outcome: Delivery['outcome'];
    try {
      await this.handler(this.event(message));
      outcome = 'acked';
    } catch {
      outcome = 'failed';
    }
    const ms = this.clock.now().getTime() - began;
    // Cut off by the function timeout, or redelivered by Pub/Sub at the ack deadline: not acknowledged.
    if (outcome === 'acked' && ms > Math.min(this.settings.timeoutSeconds, this.settings.ackDeadlineSeconds) * 1000) outcome = 'timed-out';
    this.deliveries.push({ id: message.id, attempt: message.deliveries, at: began, ms, outcome });
    if (outcome === 'acked') return;
    if (message.deliveries >= this.settings.maxDeliveryAttempts) {
      this.deadLetters.push(message);
      return;
    }
    const backoff = Math.min(this.settings.maxBackoffSeconds, this.settings.minBackoffSeconds * 2 ** (message.deliveries - 1));
    this.queue.push({ ...message, availableAt: this.clock.now().getTime() + backoff * 1000 });
  }

  /** The CloudEvent the Functions Framework makes of a push delivery. */
  private event(message: Queued): CloudEvent<unknown> {
    const text = typeof message.data === 'string' ? message.data : JSON.stringify(message.data);
    return {
      specversion: '1.0',
      id: `${this.topic}-${message.id}-${message.deliveries}`,
      type: MESSAGE_PUBLISHED,
      source: `//pubsub.googleapis.com/projects/demo-bqx/topics/${this.topic}`,
      data: { message: { data: Buffer.from(text).toString('base64'), attributes: message.attributes, messageId: message.id }, subscription: `projects/demo-bqx/subscriptions/${this.topic}-push` },
    };
  }
}

/** A message bus whose topics are simulated push subscriptions; other topics are only recorded. */
export class SimulatedBus implements MessageBus {
  readonly subscriptions = new Map<string, SimulatedPush>();
  readonly published: { topic: string; data: unknown }[] = [];

  async publish(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    this.published.push({ topic, data });
    return this.subscriptions.get(topic)?.publish(data, attributes) ?? String(this.published.length);
  }

  async publishMany(topic: string, items: { data: unknown; attributes?: Record<string, string> }[]): Promise<string[]> {
    return Promise.all(items.map((i) => this.publish(topic, i.data, i.attributes)));
  }
}
