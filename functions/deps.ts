// What the entry points run on: ChainDeps built once per instance, on first use, from the
// environment (loadConfig) and the Google Cloud adapters. A bad configuration is logged once, as
// an ERROR naming the variable and its value, and then fails every invocation with that error
// (HTTP 500, so events are kept and retried rather than lost while the deployment is fixed).
// Tests and the emulator stack put their own dependencies in with setDeps().

import { gcpAdapters } from '../shared/adapters/gcp/index.js';
import type { ChainDeps } from '../shared/chain/deps.js';
import { loadConfig } from '../shared/config.js';
import { errorMessage, jsonLogger, systemClock } from '../shared/log.js';

let deps: Promise<ChainDeps> | undefined;

export function chainDeps(): Promise<ChainDeps> {
  deps ??= build();
  return deps;
}

/** Replaces the dependencies of every entry point in this process; undefined builds them again from the environment. */
export function setDeps(replacement: ChainDeps | undefined): void {
  deps = replacement ? Promise.resolve(replacement) : undefined;
}

async function build(): Promise<ChainDeps> {
  try {
    const config = loadConfig();
    const logger = jsonLogger(config.logLevel);
    const adapters = gcpAdapters(config, { logger, clock: systemClock });
    return { config, ...adapters, clock: systemClock, logger, manifests: new Map() };
  } catch (error) {
    jsonLogger().error(`configuration is invalid: ${errorMessage(error)}; every invocation fails until it is fixed`, { step: 'config' });
    throw error;
  }
}
