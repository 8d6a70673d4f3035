// The retry rule every event handler follows (STYLE.md): a thrown error means "try again later"
// (HTTP 500 on Google Cloud, a redelivery on the embedded bus); an event that can never succeed
// (malformed, unknown pair, an invalid checkpoint) is logged as an ERROR naming the problem and
// acknowledged, so it is not retried forever.

import { CheckpointError } from '../checkpoint.js';
import { errorMessage } from '../log.js';
import { InputError } from '../naming.js';
import type { LogFields, Logger } from '../ports.js';

/** Errors no retry can fix: bad input, and checkpoints that fail their checks. */
export function neverSucceeds(error: unknown): error is InputError | CheckpointError {
  return error instanceof InputError || error instanceof CheckpointError;
}

/**
 * Runs `body`; if it fails for good, logs `<what> can never succeed: <reason>` as an ERROR with
 * `fields` and returns normally. Any other error is thrown on, so the event is delivered again.
 */
export async function underRetryRule(logger: Logger, what: string, fields: LogFields, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (!neverSucceeds(error)) throw error;
    logger.error(`${what} can never succeed: ${errorMessage(error)}`, fields);
  }
}
