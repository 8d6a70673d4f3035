// The precompiled CLI the bench's `bqx` children run. shared/cli/bqx.mjs falls back to the
// TypeScript sources through tsx when a source is newer than the last `npm run build:cli`: a bench
// after an edit without a build then timed tsx compiling every module, in the chain's thread and in
// every worker thread (a 20,000-row refresh took 14-16 s against 9-10 s compiled, and its ratio to a
// full build moved too). The bench builds it first, so its children run as `npm ci` leaves a clone.

import { buildIfStale } from '../shared/cli/compiled.cjs';
import { REPO_ROOT } from './setid.js';

/** Builds the CLI when it is missing or older than a source; a build that fails stops the bench. */
export function ensureCompiledCli(log: (line: string) => void): void {
  if (!buildIfStale(REPO_ROOT, log)) throw new Error('npm run build:cli failed or left the CLI older than its sources');
}
