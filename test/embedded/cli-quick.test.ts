// The quick commands: help, status and bad input answer without the warehouse. Their timing is
// measured by `npm run bench` (quick commands); here, what they answer, and that status neither
// creates the warehouse nor needs it (it works while another process holds the DuckDB file).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');

function bqx(home: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bqx quick commands', function () {
  this.timeout(120_000);

  it('--help prints the usage and exits 0', () => {
    const r = bqx(tempDir('quick'), ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^bqx: builds one ML training dataset per FX pair/);
    assert.match(r.stdout, /bqx status \[runId\|pair\]/);
    assert.equal(r.stderr, '');
  });

  it('answers the same through tsx (BQX_TSX=1) as through the precompiled CLI when there is one', () => {
    const home = tempDir('quick');
    for (const args of [['--help'], ['run', 'xx']]) {
      const either = bqx(home, args);
      const tsx = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, BQX_TSX: '1' }, encoding: 'utf8', timeout: 60_000 });
      assert.deepEqual({ code: tsx.status, stdout: tsx.stdout, stderr: tsx.stderr }, either, args.join(' '));
    }
  });

  it('a reader that closes stdout first (`bqx ... | head -c 0`) does not end the command: it says so on stderr and exits with its own code', async () => {
    const home = tempDir('quick');
    for (const [args, code] of [[['--help'], 0], [['status', '--json'], 0]] as const) {
      const child = spawn(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the command writes
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(exit, code, `${args.join(' ')}: ${stderr}`);
      if (code === 0) assert.equal(stderr, 'bqx: stdout was closed by its reader; carrying on without it\n');
      assert.doesNotMatch(stderr, /EPIPE|Unhandled/, args.join(' '));
    }
  });

  it('on a new home, refuses demo --touch and --append (nothing of the demo to change) and run --refresh (nothing to follow, embedded or on the emulator stack) at once, building and writing nothing', () => {
    const home = tempDir('quick');
    const cases: [string[], RegExp][] = [
      [['demo', '--touch', 'agg_eurusd'], /^bqx: no demo warehouse here to touch \(--touch changes only tables bqx demo built\): build one with bqx demo \(or bqx run\)\n$/],
      [['demo', '--append', '1d'], /^bqx: no demo warehouse here to append to: build one with bqx demo \(or bqx run\)\n$/],
      // An option given twice is refused, not cut down to its last value.
      [['view', 'eurusd', '--name', 't', '--include', 'agg_*', '--include', 'mom_*'], /^bqx: --include is given twice \("agg_\*" and "mom_\*"\): give it once, as one comma-separated list\n$/],
      [['gc', '--keep', '3', '--keep', '1'], /^bqx: --keep is given twice \("3" and "1"\): give it once\n$/],
      // One target at most: the rest is refused, not ignored.
      [['status', 'eurusd', 'gbpusd'], /^bqx: status takes one run id or pair, got eurusd gbpusd\n$/],
      [['run', 'eurusd', '--project', 'p'], /^bqx: --project is for --target gcp \(bqx run \.\.\. --target gcp --project P\)\n$/],
      [['run', 'eurusd', '--refresh'], /^bqx: pair eurusd has no succeeded run to refresh from: run it without --refresh first\n$/],
      // The stack's records are its kept Firestore export: none here, so it is refused before the emulators start.
      [['run', 'eurusd', '--stack', 'emulators', '--refresh'], /^bqx: pair eurusd has no succeeded run of the emulator stack to refresh from: run it with --stack emulators, without --refresh, first\n$/],
    ];
    for (const [args, message] of cases) {
      const r = bqx(home, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(existsSync(path.join(home, 'demo.json')), false, `${args.join(' ')} built no demo`);
    }
    assert.equal(existsSync(path.join(home, 'warehouse.tables')), false, 'no feature table was written');
  });

  it('--target gcp without a project or without credentials: one line naming the fix, exit 2, no stack trace and no request', () => {
    const home = tempDir('quick');
    const env: NodeJS.ProcessEnv = { ...process.env, BQX_HOME: home, GOOGLE_APPLICATION_CREDENTIALS: path.join(home, 'missing-key.json') };
    for (const v of ['BQX_PROJECT', 'PUBSUB_EMULATOR_HOST', 'FIRESTORE_EMULATOR_HOST']) delete env[v];
    const cli = (args: string[]) => spawnSync(process.execPath, [BQX, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    for (const args of [['status', '--target', 'gcp'], ['run', 'eurusd', '--target', 'gcp']]) {
      const r = cli(args);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, 'bqx: --target gcp needs the Google Cloud project of the deployed chain: --project P, or BQX_PROJECT\n', args.join(' '));
    }
    for (const [args, services] of [
      [['status', '--target', 'gcp', '--project', 'demo-x'], 'pubsub, firestore'],
      [['run', 'eurusd', '--target', 'gcp', '--project', 'demo-x'], 'pubsub, firestore'],
      [['plan', 'eurusd', '--target', 'gcp', '--project', 'demo-x', '--sql-out', path.join(home, 'plan')], 'bigquery'],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^bqx: no Google Cloud credentials for ${services}: run \`gcloud auth application-default login\``), args.join(' '));
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      assert.ok(!existsSync(path.join(home, 'plan')), 'the plan wrote nothing');
    }
    const r = cli(['plan', 'eurusd', '--project', 'demo-x', '--sql-out', path.join(home, 'plan')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^bqx: --project is for --target gcp/);
  });

  it('status, gc and view on a new home say there are no runs, naming the home, and leave nothing behind', () => {
    const home = tempDir('quick');
    const r = bqx(home, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `no runs yet in BQX_HOME=${home}: try \`bqx run eurusd\`\n`);
    const gc = bqx(home, ['gc', '--dry-run']);
    assert.equal(gc.stdout, `no runs in BQX_HOME=${home} yet: nothing to collect\n`);
    assert.equal(bqx(home, ['view', 'eurusd', '--name', 'x']).code, 2);
    assert.deepEqual(readdirSync(home), [], 'a misspelt home is left as it was');
    const json = bqx(home, ['status', '--json']);
    assert.deepEqual(JSON.parse(json.stdout), []);
    // A home only the emulator stack has run on: its runs are the stack's own, and status says where they are.
    const kept = path.join(home, 'emulators', 'firestore');
    mkdirSync(kept, { recursive: true });
    writeFileSync(path.join(kept, 'current.json'), JSON.stringify({ export: 'export-1' }));
    const stacked = bqx(home, ['status']);
    assert.equal(stacked.stdout, `no runs yet in BQX_HOME=${home}: try \`bqx run eurusd\` (the runs of \`bqx run --stack emulators\` are the stack's own, kept in ${kept}: each stack's summary shows its run)\n`);
    assert.equal(bqx(home, ['status', 'eurusd']).stderr, `bqx: no runs for pair eurusd (the runs of \`bqx run --stack emulators\` are the stack's own, kept in ${kept}: each stack's summary shows its run)\n`);
    assert.deepEqual(JSON.parse(bqx(home, ['status', '--json']).stdout), []);
  });

  it('status answers while another process holds the warehouse open', async () => {
    const home = tempDir('quick');
    const store = new FolderObjectStore(path.join(home, 'scratch'));
    const warehouse = await DuckDbWarehouse.open(path.join(home, 'warehouse.duckdb'), store, store, { memoryMb: 256 });
    try {
      const r = bqx(home, ['status', 'eurusd']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, 'bqx: no runs for pair eurusd\n');
    } finally {
      await warehouse.close();
    }
  });

  it('refuses a misspelt setting before it builds or removes anything, naming the setting meant', () => {
    const home = tempDir('quick');
    const r = bqx(home, ['run', 'eurusd'], { BQX_KEPP: '10' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, 'bqx: BQX_KEPP="10": is not a bqx setting (did you mean BQX_KEEP?)\n');
    assert.equal(r.stdout, '');
    assert.equal(existsSync(path.join(home, 'warehouse.duckdb')), false);
  });

  const bad: [string[], RegExp][] = [
    [['frobnicate'], /^bqx: unknown command "frobnicate"/],
    [['run', 'xx'], /^bqx: pair "xx" must be six lower-case letters/],
    [['status', '--fast'], /^bqx: unknown option --fast/],
    [['verify'], /^bqx: verify needs the path of a _manifest\.json, a run id or a pair/],
  ];
  for (const [args, message] of bad) {
    it(`refuses \`bqx ${args.join(' ')}\` with one line and exit 2`, () => {
      const home = tempDir('quick');
      const r = bqx(home, args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(existsSync(path.join(home, 'warehouse.duckdb')), false);
    });
  }
});
