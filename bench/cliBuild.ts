// The precompiled CLI the bench's `bqx` children run. shared/cli/bqx.mjs falls back to the
// TypeScript sources through tsx when a source is newer than the last `npm run build:cli`: a bench
// after an edit without a build then timed tsx compiling every module, in the chain's thread and in
// every worker thread (a 20,000-row refresh took 14-16 s against 9-10 s compiled, and its ratio to a
// full build moved too). The bench builds it first, so its children run as `npm ci` leaves a clone.

import { execFileSync } from 'node:child_process';
import { compiledMain } from '../shared/cli/compiled.cjs';
import { REPO_ROOT } from './setid.js';

/** Builds the CLI when it is missing or older than a source. */
export function ensureCompiledCli(log: (line: string) => void): void {
  if (compiledMain(REPO_ROOT) !== null) return;
  log('the precompiled CLI is older than the sources: npm run build:cli ...');
  execFileSync('npm', ['run', 'build:cli', '--silent'], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (compiledMain(REPO_ROOT) === null) throw new Error('npm run build:cli left the CLI older than its sources');
}
