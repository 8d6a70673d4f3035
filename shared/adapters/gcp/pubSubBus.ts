// The message bus port on Pub/Sub. One Topic object per name, kept, with client-side batching so
// the fan-out of hundreds of extract requests goes out in a few requests. Data is JSON (a string
// is sent as it is); attributes pass through. PUBSUB_EMULATOR_HOST is honoured by the client.

import type { PubSub, Topic } from '@google-cloud/pubsub';
import type { MessageBus } from '../../ports.js';

export const PUBLISH_BATCHING = { maxMessages: 100, maxMilliseconds: 50 } as const;

/** The bytes of a message: strings and bytes as they are, anything else as JSON. */
export function encodeData(data: unknown): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const json = JSON.stringify(data);
  if (json === undefined) throw new Error(`cannot publish ${typeof data} as a message`);
  return Buffer.from(json, 'utf8');
}

function checkAttributes(attributes: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!attributes) return undefined;
  for (const [k, v] of Object.entries(attributes)) {
    if (typeof v !== 'string') throw new Error(`message attribute ${k} must be a string, got ${typeof v}`);
  }
  return attributes;
}

export class PubSubBus implements MessageBus {
  private readonly topics = new Map<string, Topic>();

  constructor(private readonly pubsub: PubSub) {}

  async publish(topic: string, data: unknown, attributes?: Record<string, string>): Promise<string> {
    const attrs = checkAttributes(attributes);
    return this.topic(topic).publishMessage({ data: encodeData(data), ...(attrs ? { attributes: attrs } : {}) });
  }

  async publishMany(topic: string, items: { data: unknown; attributes?: Record<string, string> }[]): Promise<string[]> {
    const t = this.topic(topic);
    // All are queued at once and sent in batches; the ids come back in input order.
    return Promise.all(
      items.map((item) => {
        const attrs = checkAttributes(item.attributes);
        return t.publishMessage({ data: encodeData(item.data), ...(attrs ? { attributes: attrs } : {}) });
      }),
    );
  }

  /** Sends what is queued and closes the client. */
  async close(): Promise<void> {
    await Promise.all([...this.topics.values()].map((t) => t.flush()));
    await this.pubsub.close();
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = this.pubsub.topic(name, { batching: { ...PUBLISH_BATCHING } });
      this.topics.set(name, topic);
    }
    return topic;
  }
}
