// The two CloudEvents the chain is driven by, decoded from untrusted input: typed, then validated,
// never cast. A Pub/Sub push body reaches a cloudevent function as a messagePublished event (the
// Functions Framework converts it); Eventarc delivers Cloud Storage's object finalized event.

import { InputError, assertRunId, isIdentifier } from '../shared/naming.js';
import type { FinalizedObject, LogFields } from '../shared/ports.js';

export const MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';
export const OBJECT_FINALIZED = 'google.cloud.storage.object.v1.finalized';

export interface PubSubMessage {
  messageId: string;
  /** When Pub/Sub published it (ISO time, the same on every redelivery), when the event says. */
  publishTime?: string;
  /** The message data, base64-decoded, as UTF-8 text. */
  data: string;
  attributes: Record<string, string>;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DIGITS = /^\d{1,19}$/;
/** Cloud Storage limits: bucket names up to 222 characters, object names up to 1024 bytes. */
const MAX_BUCKET = 222;
const MAX_NAME_BYTES = 1024;

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new InputError(`${what} must be a JSON object`);
  }
  return Object.fromEntries(Object.entries(value));
}

function eventOfType(event: unknown, type: string): Record<string, unknown> {
  const e = object(event, 'the event');
  if (e.type !== type) throw new InputError(`event type ${JSON.stringify(e.type)} is not ${type}`);
  return e;
}

/** The event's id for logs, whatever shape the event has (at most 128 characters). */
export function eventId(event: unknown): string {
  const id = typeof event === 'object' && event !== null && 'id' in event ? event.id : undefined;
  return typeof id === 'string' ? id.slice(0, 128) : '(no id)';
}

export function decodeMessagePublished(event: unknown): PubSubMessage {
  const e = eventOfType(event, MESSAGE_PUBLISHED);
  const message = object(object(e.data, 'the event data').message, 'the event data.message');
  if (typeof message.data !== 'string' || message.data === '') throw new InputError('the Pub/Sub message has no data');
  if (!BASE64.test(message.data)) throw new InputError('the Pub/Sub message data is not valid base64');
  let data: string;
  try {
    data = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(message.data, 'base64'));
  } catch {
    throw new InputError('the Pub/Sub message data is not UTF-8 text');
  }
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(object(message.attributes ?? {}, 'the message attributes'))) {
    if (typeof value !== 'string') throw new InputError(`message attribute ${JSON.stringify(key)} is not a string`);
    attributes[key] = value;
  }
  const messageId = typeof message.messageId === 'string' ? message.messageId : eventId(event);
  const publishTime = time(message.publishTime) ?? time(e.time);
  return { messageId, data, attributes, ...(publishTime ? { publishTime } : {}) };
}

/** An RFC 3339 time (Pub/Sub gives up to nanoseconds) as ISO to the millisecond; undefined if it is none. */
function time(value: unknown): string | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function decodeObjectFinalized(event: unknown): FinalizedObject & { generation?: string } {
  const e = eventOfType(event, OBJECT_FINALIZED);
  let data: unknown = e.data;
  if (typeof data === 'string' || data instanceof Uint8Array) {
    try {
      data = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      throw new InputError('the storage event data is not valid JSON');
    }
  }
  const d = object(data, 'the storage event data');
  if (typeof d.bucket !== 'string' || d.bucket === '' || d.bucket.length > MAX_BUCKET) throw new InputError(`bucket ${JSON.stringify(d.bucket)} is not a bucket name`);
  if (typeof d.name !== 'string' || d.name === '' || Buffer.byteLength(d.name) > MAX_NAME_BYTES) {
    throw new InputError(`object name ${JSON.stringify(d.name)?.slice(0, 80)} is not an object name`);
  }
  const size = Number(int64(d.size, 'size'));
  if (!Number.isSafeInteger(size)) throw new InputError(`object size ${JSON.stringify(d.size)} is too large`);
  const generation = d.generation === undefined ? undefined : int64(d.generation, 'generation');
  return { bucket: d.bucket, name: d.name, size, ...(generation !== undefined ? { generation } : {}) };
}

/** Storage sends int64 fields as decimal strings; whole numbers are accepted too. */
function int64(value: unknown, what: string): string {
  if ((typeof value === 'string' && DIGITS.test(value)) || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) return String(value);
  throw new InputError(`object ${what} ${JSON.stringify(value)} is not a whole number`);
}

/** Log labels from message attributes: only the ones that are valid pair, run id or feature. */
export function labels(attributes: Record<string, string>): LogFields {
  const out: LogFields = {};
  if (attributes.pair !== undefined && /^[a-z]{6}$/.test(attributes.pair)) out.pair = attributes.pair;
  if (attributes.runId !== undefined && valid(() => assertRunId(attributes.runId))) out.runId = attributes.runId;
  if (attributes.feature !== undefined && isIdentifier(attributes.feature)) out.feature = attributes.feature;
  return out;
}

function valid(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
