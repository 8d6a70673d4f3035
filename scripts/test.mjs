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
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The files whose tests took 8 s or more in that run, slowest first (the rest took under 8 s each; the refresh, drift and touch sweeps, 45, 28 and 19 s, came later). */
const SLOWEST_FIRST = [
  'test/integration/chain.test.ts',
  'test/embedded/cli.test.ts',
  'test/integration/cli.test.ts',
  'test/embedded/demoBuild.test.ts',
  'test/embedded/refresh.test.ts',
  'test/sweep/sweep.test.ts',
  'test/sweep/refresh.test.ts',
  'test/sweep/drift.test.ts',
  'test/sweep/touch.test.ts',
  'test/gcp/googleSqlPlan.test.ts',
  'test/embedded/chain.test.ts',
  'test/embedded/groupSharing.test.ts',
  'test/sweep/emulators.test.ts',
  'test/embedded/retention.test.ts',
  'test/embedded/diskRoom.test.ts',
  'test/embedded/keyedExtract.test.ts',
  'test/gcp/bigQuerySql.test.ts',
  'test/gcp/firestoreRunStore.contract.test.ts',
  'test/embedded/reuse.test.ts',
  'test/unit/parquetDoubles.test.ts',
  'test/gcp/firestoreRunStore.test.ts',
  'test/merge-reference.test.ts',
  'test/embedded/rerun.test.ts',
  'test/embedded/cli-quick.test.ts',
  'test/embedded/profileReuse.test.ts',
  'test/terraform/terraform.test.ts',
  'test/embedded/view.test.ts',
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const all = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts') && !f.split(path.sep).includes('node_modules'))
  .map((f) => ['test', ...f.split(path.sep)].join('/'))
  .sort();
const gone = SLOWEST_FIRST.filter((f) => !all.includes(f));
if (gone.length > 0) process.stderr.write(`scripts/test.mjs: no longer a test file, left out of the order: ${gone.join(', ')}\n`);
const files = [...SLOWEST_FIRST.filter((f) => all.includes(f)), ...all.filter((f) => !SLOWEST_FIRST.includes(f))];

const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const run = spawnSync(process.execPath, [mocha, ...files, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (run.error) throw run.error;
// Ended by a signal (Ctrl-C): the shell's convention, 128 + its number.
process.exitCode = run.status ?? 128 + (run.signal ? (os.constants.signals[run.signal] ?? 0) : 1);
