// The shape every entry point shares. Event functions: decode the CloudEvent, call the core, and let
// the outcome carry the retry decision (shared/chain/retryRule.ts): return (204) when done or
// rejected for good, throw (500) to be delivered again. HTTP functions: JSON in, JSON out, errors
// as {error} with the status their class stands for.

import type { CloudEvent, Request, Response } from '@google-cloud/functions-framework';
import type { ChainDeps } from '../shared/chain/deps.js';
import { underRetryRule } from '../shared/chain/retryRule.js';
import { errorMessage } from '../shared/log.js';
import { ConflictError, InputError, NotFoundError } from '../shared/naming.js';
import type { FinalizedObject, LogFields } from '../shared/ports.js';
import { chainDeps } from './deps.js';
import { decodeMessagePublished, decodeObjectFinalized, eventId, labels, type PubSubMessage } from './events.js';

export type EventFunction = (event: CloudEvent<unknown>) => Promise<void>;

/** A function pushed from a Pub/Sub topic: `body` gets the decoded message. */
export function onMessage(step: string, body: (deps: ChainDeps, message: PubSubMessage) => Promise<unknown>): EventFunction {
  return async (event) => {
    const deps = await chainDeps();
    const id = eventId(event);
    const fields: LogFields = { step, eventId: id };
    await underRetryRule(deps.logger, `${step}: event ${id}`, fields, async () => {
      const message = decodeMessagePublished(event);
      Object.assign(fields, labels(message.attributes));
      await body(deps, message);
    });
  };
}

/** A function triggered by a Cloud Storage object finalized event. */
export function onObjectFinalized(step: string, body: (deps: ChainDeps, object: FinalizedObject) => Promise<unknown>): EventFunction {
  return async (event) => {
    const deps = await chainDeps();
    const id = eventId(event);
    await underRetryRule(deps.logger, `${step}: event ${id}`, { step, eventId: id }, async () => {
      await body(deps, decodeObjectFinalized(event));
    });
  };
}

export class MethodNotAllowed extends Error {
  constructor(method: string, readonly allow: string[]) {
    super(`method ${method} is not allowed here (allowed: ${allow.join(', ')})`);
    this.name = 'MethodNotAllowed';
  }
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The status an error stands for: 400 bad input, 404 unknown, 405 wrong method, 409 conflict, else 500. */
export function statusOf(error: unknown): number {
  if (error instanceof InputError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof MethodNotAllowed) return 405;
  if (error instanceof ConflictError) return 409;
  return 500;
}

/** An HTTP function answering JSON: what `body` returns, or `{error}` with the error's status. */
export function jsonFunction(step: string, body: (deps: ChainDeps, req: Request) => Promise<Reply>): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    let reply: Reply;
    try {
      reply = await body(await chainDeps(), req);
    } catch (error) {
      const status = statusOf(error);
      reply = { status, body: { error: errorMessage(error) }, ...(error instanceof MethodNotAllowed ? { headers: { Allow: error.allow.join(', ') } } : {}) };
      const deps = await chainDeps().catch(() => undefined);
      const log = `${step}: ${req.method} ${req.path.slice(0, 200)} -> ${status}: ${errorMessage(error)}`;
      if (status === 500) deps?.logger.error(log, { step });
      else deps?.logger.info(log, { step });
    }
    res.status(reply.status).set(reply.headers ?? {}).json(reply.body);
  };
}

/**
 * The request body as JSON: as the framework parsed it for JSON content types, else parsed here
 * from the raw bytes (so `curl -d '{...}'`, sent as a form, works too).
 */
export function jsonBody(req: Request, what: string): unknown {
  const text = bodyText(req, what);
  if (req.is('json')) return req.body;
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} is not valid JSON`);
  }
}

/** The request body as text, as it came (the framework keeps the raw bytes); refuses an empty one. */
export function bodyText(req: Request, what: string): string {
  const text = req.rawBody?.toString('utf8') ?? '';
  if (text.trim() === '') throw new InputError(`${what} is missing`);
  return text;
}
