// The messages of the chain, decoded from untrusted input: typed, then validated, never cast.

import { assertIdentifier, assertRunId, InputError, pairOfRunId, validatePair } from '../naming.js';
import type { Window } from '../ports.js';

export interface RunRequest {
  pair: string;
  start?: string;
  end?: string;
  force?: boolean;
  /** false: extract every feature, reusing no earlier checkpoint. */
  reuse?: boolean;
  /** true: build the next version of the pair's last succeeded dataset (shared/chain/refresh.ts). */
  refresh?: boolean;
  /** The message's id, when it came as a message: its redeliveries carry the same id. */
  requestId?: string;
  /** When that message was published (ISO time): with requestId, it fixes the run's id (naming.ts requestRunId). */
  requestedAt?: string;
}

/**
 * Set on the follow-up message a handler publishes for work still running in the warehouse
 * (shared/chain/pending.ts): which poll this is, and when the first one found the work running.
 */
export interface PollState {
  poll?: number;
  since?: string;
}

export interface ExtractRequest extends PollState {
  runId: string;
  pair: string;
  feature: string;
}

export interface MergeRequest extends PollState {
  runId: string;
  pair: string;
}

export interface RunEvent {
  type: 'run.succeeded' | 'run.failed';
  runId: string;
  pair: string;
  status: 'succeeded' | 'failed';
  error?: string;
  expected: number;
  landed: number;
  output?: { manifest: string; report: string; rows: number; columns: number; files: string[]; bytes: number };
  warnings: string[];
  timings: Record<string, number>;
  bytesProcessed?: number;
  /** The run's on-demand cost: its jobs' billed bytes, priced (RunRecord costUsd). */
  costUsd?: number;
  bytesBilled?: number;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} is not valid JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An ISO-8601 time with an explicit zone (or a date, taken as UTC midnight), normalised to UTC ISO;
 * refuses anything else. Each field is checked against the calendar, because `Date` rolls an
 * impossible one over: `2020-02-30` would silently have been March 1st.
 */
export function parseTime(value: unknown, what: string): string {
  const parts = typeof value === 'string' ? ISO_TIME.exec(value) : null;
  if (!parts) throw new InputError(`${what} ${JSON.stringify(value)} must be an ISO-8601 time such as 2020-01-01T00:00:00Z`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', zone] = parts;
  if (parts[4] !== undefined && zone === undefined) {
    throw new InputError(`${what} ${JSON.stringify(value)} has no zone: bqx's times are UTC, so add Z (${value}Z) or an offset such as +01:00`);
  }
  const fields = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const back = new Date(fields);
  const asWritten = back.getUTCFullYear() === Number(y) && back.getUTCMonth() === Number(mo) - 1 && back.getUTCDate() === Number(d) && back.getUTCHours() === Number(h) && back.getUTCMinutes() === Number(mi) && back.getUTCSeconds() === Number(s);
  const date = new Date(parts[4] === undefined ? `${y}-${mo}-${d}T00:00:00Z` : parts[0]);
  if (!asWritten || Number.isNaN(date.getTime())) throw new InputError(`${what} ${JSON.stringify(value)} is not a valid time (no such date, time of day or offset)`);
  return date.toISOString();
}

export function parseWindow(start: unknown, end: unknown): Partial<Window> {
  const window: Partial<Window> = {};
  if (start !== undefined) window.start = parseTime(start, 'start');
  if (end !== undefined) window.end = parseTime(end, 'end');
  if (window.start && window.end && window.start >= window.end) throw new InputError(`start ${window.start} must be before end ${window.end}`);
  return window;
}

/** A run request: a bare pair name (`eurusd`) or JSON `{pair, start?, end?, force?, reuse?, refresh?}`. */
export function decodeRunRequest(body: string | unknown, currencies: readonly string[]): RunRequest {
  let value: unknown = body;
  if (typeof body === 'string') {
    const text = body.trim();
    value = text.startsWith('{') ? parseJson(text, 'run request') : { pair: text.toLowerCase() };
  }
  const r = record(value, 'run request');
  const unknownKeys = Object.keys(r).filter((k) => !['pair', 'start', 'end', 'force', 'reuse', 'refresh'].includes(k));
  if (unknownKeys.length > 0) throw new InputError(`run request has unknown field(s): ${unknownKeys.join(', ')}`);
  const pair = validatePair(typeof r.pair === 'string' ? r.pair.toLowerCase() : r.pair, currencies);
  if (r.force !== undefined && typeof r.force !== 'boolean') throw new InputError('force must be true or false');
  if (r.reuse !== undefined && typeof r.reuse !== 'boolean') throw new InputError('reuse must be true or false');
  if (r.refresh !== undefined && typeof r.refresh !== 'boolean') throw new InputError('refresh must be true or false');
  const window = parseWindow(r.start, r.end);
  return { pair, ...window, ...(r.force !== undefined ? { force: r.force } : {}), ...(r.reuse !== undefined ? { reuse: r.reuse } : {}), ...(r.refresh ? { refresh: true } : {}) };
}

export function decodeExtractRequest(body: string | unknown): ExtractRequest {
  const r = record(typeof body === 'string' ? parseJson(body, 'extract request') : body, 'extract request');
  const runId = assertRunId(r.runId);
  const feature = assertIdentifier(r.feature, 'feature');
  const pair = pairOfRunId(runId);
  if (r.pair !== pair) throw new InputError(`extract request pair ${JSON.stringify(r.pair)} does not match run ${runId}`);
  return { runId, pair, feature, ...decodePollState(r) };
}

export function decodeMergeRequest(body: string | unknown): MergeRequest {
  const r = record(typeof body === 'string' ? parseJson(body, 'merge request') : body, 'merge request');
  const runId = assertRunId(r.runId);
  const pair = pairOfRunId(runId);
  if (r.pair !== pair) throw new InputError(`merge request pair ${JSON.stringify(r.pair)} does not match run ${runId}`);
  return { runId, pair, ...decodePollState(r) };
}

/** `poll` (a whole number from 1) and `since` (an ISO time) come together or not at all. */
function decodePollState(r: Record<string, unknown>): PollState {
  if (r.poll === undefined && r.since === undefined) return {};
  if (!Number.isSafeInteger(r.poll) || (r.poll as number) < 1) throw new InputError(`poll ${JSON.stringify(r.poll)} must be a whole number from 1`);
  return { poll: r.poll as number, since: parseTime(r.since, 'since') };
}

/** Attributes set on every message, so subscriptions can filter and logs can be joined. */
export function attributes(fields: { pair: string; runId?: string; feature?: string }): Record<string, string> {
  const out: Record<string, string> = { pair: fields.pair };
  if (fields.runId) out.runId = fields.runId;
  if (fields.feature) out.feature = fields.feature;
  return out;
}
