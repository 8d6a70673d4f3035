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
let perInvocation: (() => ChainDeps) | undefined;

export function chainDeps(): Promise<ChainDeps> {
  if (perInvocation) return Promise.resolve(perInvocation());
  deps ??= build();
  return deps;
}

/**
 * Replaces the dependencies of every entry point in this process; undefined builds them again from
 * the environment. A function is called once per invocation: the emulator fault sweep gives each
 * invocation ports of its own, so a crash planned there kills that invocation and no other.
 */
export function setDeps(replacement: ChainDeps | (() => ChainDeps) | undefined): void {
  perInvocation = typeof replacement === 'function' ? replacement : undefined;
  deps = replacement && typeof replacement !== 'function' ? Promise.resolve(replacement) : undefined;
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
