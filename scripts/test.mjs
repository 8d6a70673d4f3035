#!/usr/bin/env node
// npm test: every test file under test/ through mocha, the slowest files first. Mocha runs the
// files two at a time (.mocharc.json) in the order it is given them. The order of a glob is the
// file system's (the 111 s emulator file came 52nd of 109, the 68 s sweep 62nd), so long files
// could start late and leave one worker running them alone at the end. Started first, the long
// files run side by side and the short ones fill in behind them
// (696 tests, 2026-12-06, two pairs of runs: 9 min 28 s and 9 min 34 s in glob order, 8 min 45 s
// and 9 min 11 s slowest first). Arguments go on to mocha after the files. A file missing from
// SLOWEST_FIRST still runs, in name order after them; a name there that no longer exists is said,
// not fatal.
// First it builds the precompiled CLI if a source is newer (`npm run build:cli`, about 2 s): the
// tests' worker threads then run its compiled worker modules instead of compiling theirs through
// tsx (shared/adapters/local/threadPool.ts), and the `bqx` the tests spawn runs it too.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../shared/cli/compiled.cjs';

/**
 * The files whose tests took 10 s or more, slowest first, as measured file by file in one
 * `npm test` (804 tests, 2026-12-08 03:45-03:58, 12 min 51 s; test time summed per file from the
 * spec reporter, so a file's `before` hooks are not in its figure); the rest took under 10 s each.
 * Except the first two: one builds the demo the workers share (test/helpers/embedded.ts
 * demoWarehouse) and the other builds its own meanwhile, where two files that both start from the
 * shared demo had one worker wait for the other's build (about 10 s idle).
 * A file missing here runs after all of these, in name order: test/sweep/relabel.test.ts (60 s)
 * was missing, so it started among the last files and could hold one worker alone at the end.
 */
const SLOWEST_FIRST = [
  'test/embedded/cli.test.ts', // 141 s
  'test/embedded/demoBuild.test.ts', // 38 s, and its own demo build
  'test/integration/chain.test.ts', // 87 s
  'test/integration/cli.test.ts', // 91 s with its refresh test (41 s when that one was skipped)
  'test/embedded/refresh.test.ts', // 82 s
  'test/sweep/emulators.test.ts', // 81 s
  'test/embedded/groupSharing.test.ts', // 65 s
  'test/sweep/sweep.test.ts', // 65 s
  'test/sweep/relabel.test.ts', // 60 s
  'test/sweep/drift.test.ts', // 60 s
  'test/sweep/refresh.test.ts', // 46 s
  'test/gcp/googleSqlPlan.test.ts', // 46 s
  'test/embedded/retention.test.ts', // 37 s
  'test/embedded/profileByGroup.test.ts', // 33 s
  'test/embedded/chain.test.ts', // 31 s
  'test/sweep/touch.test.ts', // 26 s
  'test/embedded/cli-quick.test.ts', // 21 s
  'test/embedded/keyedExtract.test.ts', // 16 s
  'test/embedded/diskRoom.test.ts', // 16 s
  'test/embedded/reuse.test.ts', // 15 s
  'test/sweep/cli.test.ts', // 14 s
  'test/gcp/firestoreRunStore.test.ts', // 13 s
  'test/embedded/profile.test.ts', // 13 s
  'test/unit/parquetDoubles.test.ts', // 13 s
  'test/terraform/terraform.test.ts', // 11 s
  'test/merge-reference.test.ts', // 10 s
  'test/gcp/firestoreRunStore.contract.test.ts', // 10 s
  'test/embedded/view.test.ts', // 10 s
  'test/integration/gcpTarget.test.ts', // 10 s
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const all = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts') && !f.split(path.sep).includes('node_modules'))
  .map((f) => ['test', ...f.split(path.sep)].join('/'))
  .sort();
const gone = SLOWEST_FIRST.filter((f) => !all.includes(f));
if (gone.length > 0) process.stderr.write(`scripts/test.mjs: no longer a test file, left out of the order: ${gone.join(', ')}\n`);
const files = [...SLOWEST_FIRST.filter((f) => all.includes(f)), ...all.filter((f) => !SLOWEST_FIRST.includes(f))];

// The tests still run without a current build: their threads and the bqx they spawn then compile through tsx.
if (!buildIfStale(root, (line) => process.stderr.write(`scripts/test.mjs: ${line}\n`))) {
  process.stderr.write('scripts/test.mjs: the build failed; the tests run from the sources through tsx\n');
}

const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const run = spawnSync(process.execPath, [mocha, ...files, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (run.error) throw run.error;
// Ended by a signal (Ctrl-C): the shell's convention, 128 + its number.
process.exitCode = run.status ?? 128 + (run.signal ? (os.constants.signals[run.signal] ?? 0) : 1);
