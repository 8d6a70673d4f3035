// `bqx run <pair> --stack emulators` as a user meets it: the same JSON summary as the embedded run,
// every process it started gone when it ends (also after Ctrl-C), a refresh of the stack's last
// dataset after `demo --append` (`--stack emulators --refresh`), and one line when gcloud or java
// is missing (those refusals run everywhere; the rest skip, saying so, without gcloud/java).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import path from 'node:path';
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import { emulatorsMissing, until } from '../../shared/runtime/emulators.js';
import { embeddedPaths } from '../../shared/runtime/paths.js';
import { freshHome } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
const ROWS = 600;
// The summary comparison needs a real run, not the full width: the pair's own tables and its
// covariance tables (93 features) keep it cheap; the full-width chain on the emulators is proven by
// test/integration/chain.test.ts.
const NARROW = { BQX_TABLE_RULES: '*_{pair},cov_*_{pair}_*' };
const NARROW_FEATURES = 93;

function bqx(home: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, ...env }, encoding: 'utf8', timeout: 420_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Processes whose environment carries `tag`: what a command started, wherever it was reparented. */
function tagged(tag: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`BQXTEST_TAG=${tag}\0`)) found.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

describe('integration: bqx run --stack emulators', function () {
  this.timeout(480_000);
  let home: string;
  /** The stack's last succeeded run on `home` (the Ctrl-C test's, resumed): what a refresh follows. */
  let lastStackRun: string | undefined;

  before(async function () {
    const missing = await emulatorsMissing();
    if (missing) {
      console.log(`SKIPPED: emulator stack CLI tests because ${missing}`);
      return this.skip();
    }
    home = await freshHome(ROWS);
  });

  it('prints the same JSON summary as the embedded run, and leaves no process behind', async () => {
    const tag = `stack-${process.pid}-${Date.now()}`;
    const stack = bqx(home, ['run', 'eurusd', '--stack', 'emulators', '--json'], { ...NARROW, BQXTEST_TAG: tag });
    assert.equal(stack.code, 0, stack.stderr);
    const lines = stack.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout holds exactly one JSON object');
    const s = JSON.parse(lines[0]!);
    assert.deepEqual([s.status, s.expected, s.landed, s.output.rows, s.output.files], ['succeeded', NARROW_FEATURES, NARROW_FEATURES, ROWS, 3]); // one month, three column groups
    assert.ok(s.output.columns > 2000, `${s.output.columns} columns`);
    assert.deepEqual((await verifyManifest(s.output.manifest)).problems, []);
    assert.match(stack.stderr, /emulator stack\s+\d+\.\d s to start/);
    assert.deepEqual(tagged(tag), [], 'the emulators and their Java servers are stopped');

    const embedded = bqx(home, ['run', 'eurusd', '--json'], NARROW);
    assert.equal(embedded.code, 0, embedded.stderr);
    const e = JSON.parse(embedded.stdout);
    assert.deepEqual(Object.keys(s).sort(), Object.keys(e).sort());
    assert.deepEqual(Object.keys(s.timings).sort(), Object.keys(e.timings).sort());
    const same = (x: typeof s) => ({ pair: x.pair, status: x.status, expected: x.expected, landed: x.landed, rows: x.output.rows, columns: x.output.columns, files: x.output.files, warnings: x.warnings });
    assert.deepEqual(same(s), same(e));
    // The stack's checkpoints are in the same staging folder: the embedded run reuses them all.
    assert.deepEqual([s.extracted, s.reused, e.extracted, e.reused], [NARROW_FEATURES, 0, 0, NARROW_FEATURES]);
    assert.notEqual(s.runId, e.runId);
  });

  it('says at once why startRun refused the request (here: no table matches the rules), exit 2, leaving no process behind', async () => {
    const tag = `refused-${process.pid}-${Date.now()}`;
    const r = bqx(home, ['run', 'eurusd', '--stack', 'emulators', '--quiet'], { BQX_TABLE_RULES: 'nothing_{pair}', BQXTEST_TAG: tag });
    assert.equal(r.code, 2, r.stderr);
    // Not the wait for a run that never appears (180 s): startRun's own reason.
    assert.match(r.stderr, /^bqx: startRun refused the request: no feature tables for pair "eurusd" in dataset \w+ \(rules: nothing_\{pair\}\)\n$/);
    assert.ok(await until(() => tagged(tag).length === 0, 15_000), `nothing left running: ${tagged(tag).join(', ')}`);
  });

  it('stops everything it started on Ctrl-C, and exits non-zero; the next stack resumes the run it left', async () => {
    const tag = `sigint-${process.pid}-${Date.now()}`;
    // --no-reuse: the home has runs already; this one must be busy extracting when interrupted
    // (at its first landing: 92 of its 93 extracts are still to come).
    const child = spawn(process.execPath, [BQX, 'run', 'eurusd', '--stack', 'emulators', '--no-reuse'], { env: { ...process.env, ...NARROW, BQX_HOME: home, BQXTEST_TAG: tag }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.ok(await until(() => /extract\s+\[/.test(stderr) || child.exitCode !== null, 120_000, 100), 'the run got going');
    assert.ok(tagged(tag).length >= 3, 'bqx, gcloud and the emulators are running');
    child.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0);
    assert.match(stderr, /bqx: interrupted by SIGINT: the emulator stack was stopped/);
    assert.ok(await until(() => tagged(tag).length === 0, 15_000), `nothing left running: ${tagged(tag).join(', ')}`);

    // Its run records were kept (BQX_HOME/emulators/firestore), its messages were not: the next
    // stack sends its missing extracts again and the request joins it, as `bqx run` resumes.
    // With BQX_KEEP=1 its reconciler then removes the first test's stack dataset, and only that:
    // the embedded runs' datasets are the embedded store's, which the stack does not know.
    const where = embeddedPaths(home);
    const datasets = () => readdirSync(path.join(where.output, 'training', 'eurusd')).sort();
    const embeddedRuns = new Set((await new FileRunStore(where.store).listRuns('eurusd')).map((r) => r.runId));
    const earlier = datasets();
    assert.ok(earlier.some((d) => !embeddedRuns.has(d)), `an earlier stack's dataset is there: ${earlier.join(', ')}`);
    const next = bqx(home, ['run', 'eurusd', '--stack', 'emulators', '--json'], { ...NARROW, BQX_KEEP: '1' });
    assert.equal(next.code, 0, next.stderr);
    const s = JSON.parse(next.stdout.trim());
    assert.deepEqual([s.status, s.landed, s.expected], ['succeeded', NARROW_FEATURES, NARROW_FEATURES]);
    assert.equal(s.reused, 0, 'the interrupted --no-reuse run, finished, not a new run reusing its checkpoints');
    const log = readFileSync(path.join(home, 'logs', 'bqx.log'), 'utf8');
    assert.match(log, new RegExp(`stack: resumed 1 run\\(s\\) an earlier stack left active: ${s.runId} \\(resent-extracts\\)`));
    assert.deepEqual((await verifyManifest(s.output.manifest)).problems, []);
    assert.deepEqual(datasets(), [...earlier.filter((d) => embeddedRuns.has(d)), s.runId].sort(), 'the stack kept its last dataset and removed its earlier one');
    assert.match(log, /retention: kept 1 dataset\(s\) \(1 run\(s\)\), removed 1 run\(s\)/);
    // Four stacks have stopped on this home: the last one's export is the one kept.
    const kept = readdirSync(path.join(home, 'emulators', 'firestore')).sort();
    assert.deepEqual([kept.length, kept[0]], [2, 'current.json']);
    assert.match(kept[1]!, /^export-\d+$/);
    lastStackRun = s.runId;
  });

  it('refreshes the stack\'s last dataset after `demo --append 2h` (--refresh): the new minutes only, verified; retention (BQX_KEEP=1) leaves of the earlier datasets only the files it lists', async function () {
    if (!lastStackRun) return this.skip(); // the Ctrl-C test failed before its stack finished a run
    const appended = bqx(home, ['demo', '--append', '2h']);
    assert.equal(appended.code, 0, appended.stderr);
    const tag = `refresh-${process.pid}-${Date.now()}`;
    const r = bqx(home, ['run', 'eurusd', '--stack', 'emulators', '--refresh', '--json'], { ...NARROW, BQX_KEEP: '1', BQXTEST_TAG: tag });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout.trim());
    assert.deepEqual([s.status, s.landed, s.output.rows], ['succeeded', NARROW_FEATURES, ROWS + 120]);
    assert.equal(s.refresh?.from, lastStackRun, 'it follows the stack\'s last dataset');
    assert.deepEqual([s.extracted, s.reasons], [NARROW_FEATURES, { 'new minutes only': NARROW_FEATURES }]);
    // Each feature read its new minutes only (a few duplicate keys of the demo's over), not the 720 rows of the window.
    assert.ok(s.rowsRead.features >= NARROW_FEATURES * 100 && s.rowsRead.features <= NARROW_FEATURES * 120 * 1.1, `${s.rowsRead.features} feature rows read`);
    assert.deepEqual((await verifyManifest(s.output.manifest)).problems, []);
    assert.ok(await until(() => tagged(tag).length === 0, 15_000), `nothing left running: ${tagged(tag).join(', ')}`);
    const where = embeddedPaths(home);
    const embeddedRuns = new Set((await new FileRunStore(where.store).listRuns('eurusd')).map((x) => x.runId));
    // BQX_KEEP=1: of the stack's earlier datasets only the files the refreshed one lists are left
    // (its grown shard keeps the earlier version's files and adds a part).
    const pairFolder = path.join(where.output, 'training', 'eurusd');
    const manifest = JSON.parse(readFileSync(s.output.manifest, 'utf8')) as { shards: { groups: { objects: string[] }[] }[] };
    const listed = new Set(manifest.shards.flatMap((shard) => shard.groups.flatMap((g) => g.objects)));
    const earlierFiles = readdirSync(pairFolder)
      .filter((d) => !embeddedRuns.has(d) && d !== s.runId)
      .flatMap((d) => readdirSync(path.join(pairFolder, d), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(where.output, path.join(e.parentPath, e.name))));
    assert.ok(earlierFiles.length > 0, 'the refresh grew the earlier version\'s shard: its files are listed');
    assert.deepEqual(earlierFiles.filter((f) => !listed.has(f)), [], 'nothing of the earlier stack datasets is left but what the refreshed one lists');
  });
});

describe('integration: bqx run --stack, refused before anything starts', function () {
  const emptyHome = () => tempDir('nostack');

  it('says in one line that gcloud and java are needed when they are not on PATH', () => {
    const r = bqx(emptyHome(), ['run', 'eurusd', '--stack', 'emulators', '--json'], { PATH: tempDir('empty-path') });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'bqx: the emulator stack needs the Google Cloud CLI and java: gcloud/java not found (missing: gcloud, java)\n');
  });

  it('refuses a stack it does not know, and --consolidate', () => {
    const unknown = bqx(emptyHome(), ['run', 'eurusd', '--stack', 'gcp']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'bqx: --stack must be "emulators", got "gcp"\n');
    const consolidate = bqx(emptyHome(), ['run', 'eurusd', '--stack', 'emulators', '--consolidate']);
    assert.equal(consolidate.code, 2);
    assert.equal(consolidate.stderr, 'bqx: --consolidate is not available with --stack emulators\n');
  });
});
