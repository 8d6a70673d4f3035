// The bqx command as a user meets it: JSON summary, exit codes, one-line errors that change
// nothing, and a run killed mid-extract that the next `bqx run` resumes to completion.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import { readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { freshHome, holdWarehouse } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
const ROWS = 600;

function bqx(home: string, args: string[], env: Record<string, string> = {}, timeout = 300_000) {
  const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, ...env }, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `bqx args` in `home`, sends it Ctrl-C once its stderr matches `when`; its exit code and stderr. */
async function interrupted(home: string, args: string[], when: RegExp): Promise<{ exit: number | null; err: string }> {
  const child = spawn(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (when.test(err)) resolve();
    });
    child.once('exit', () => reject(new Error(`bqx ${args.join(' ')} ended before it could be interrupted:\n${err}`)));
  });
  child.kill('SIGINT');
  return { exit: await exited, err };
}

describe('bqx command line', function () {
  this.timeout(600_000);
  let home: string;
  let runId: string;

  before(async () => {
    home = await freshHome(ROWS);
  });

  it('run --json prints one JSON summary and exits 0 on success; --consolidate adds one file', async () => {
    const r = bqx(home, ['run', 'eurusd', '--rows', String(ROWS), '--json', '--consolidate']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'stdout holds exactly one JSON object');
    const s = JSON.parse(lines[0]!);
    assert.equal(s.status, 'succeeded');
    assert.equal(s.expected, 667);
    assert.equal(s.landed, 667);
    assert.equal(s.output.columns, 17_038);
    assert.equal(s.output.rows, ROWS);
    assert.ok(existsSync(s.output.manifest));
    assert.deepEqual(Object.keys(s).sort(), ['expected', 'extracted', 'landed', 'output', 'pair', 'reasons', 'reused', 'rowsRead', 'runId', 'status', 'timings', 'warnings']);
    assert.deepEqual(s.rowsRead, { features: s.rowsRead.features, labels: ROWS, total: s.rowsRead.features + ROWS });
    assert.ok(s.rowsRead.features >= 667 * ROWS * 0.5, 'every feature read from the warehouse');
    assert.deepEqual([s.extracted, s.reused, s.reasons], [667, 0, { 'no earlier checkpoint': 667 }]);
    assert.match(r.stderr, /extract\s+\[#+\]\s+667\/667/, 'progress bars on stderr');
    assert.match(r.stderr, /status\s+succeeded/, 'summary table on stderr');
    runId = s.runId;
    // Named in the JSON as in the table on stderr.
    const consolidated = path.join(path.dirname(s.output.manifest), 'training_eurusd.parquet');
    assert.equal(s.output.consolidated, consolidated);
    assert.match(r.stderr, new RegExp(`consolidated\\s+${consolidated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const { metadata } = readLocalFooter(consolidated);
    assert.equal(Number(metadata.num_rows), ROWS);
    assert.equal(metadata.schema.length - 1, 17_038);
    assert.equal(new Set(metadata.schema.slice(1).map((e) => e.name)).size, 17_038);
  });

  it('status and verify report the finished run', () => {
    const status = JSON.parse(bqx(home, ['status', runId, '--json']).stdout);
    assert.equal(status.status, 'succeeded');
    const v = bqx(home, ['verify', status.output.manifest]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^ok: 600 rows x 17038 columns/);
    // By run id, or by pair (its last run): the same dataset, looked up in the run store.
    const byManifest = JSON.parse(bqx(home, ['verify', status.output.manifest, '--json']).stdout);
    assert.equal(byManifest.ok, true);
    for (const target of [runId, 'eurusd']) {
      const byName = bqx(home, ['verify', target, '--json']);
      assert.equal(byName.code, 0, byName.stdout + byName.stderr);
      assert.deepEqual(JSON.parse(byName.stdout), byManifest);
    }
    const none = bqx(home, ['verify', 'gbpusd']);
    assert.equal(none.code === 0, false);
    assert.match(none.stderr, /^bqx: no run found for gbpusd\n$/);
  });

  it('status, report and verify answer while another process holds the warehouse; run is refused naming them', async () => {
    const holder = await holdWarehouse(home);
    try {
      const report = bqx(home, ['report', runId, '--json']);
      assert.equal(report.code, 0, report.stderr);
      assert.equal(JSON.parse(report.stdout).runId, runId);
      for (const args of [['status', runId], ['verify', runId]]) assert.equal(bqx(home, args).code, 0, args.join(' '));
      const refused = bqx(home, ['run', 'eurusd', '--quiet']);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, new RegExp(`in use by another process \\(PID ${holder.pid}\\): one bqx command at a time works on a BQX_HOME \\(\`bqx status\`, \`report\` and \`verify\` read it meanwhile\\)`));
    } finally {
      await holder.release();
    }
  });

  it('rerun --merge rebuilds the output of a finished run from its checkpoints, named by its id or by its pair (its last run)', () => {
    for (const target of [runId, 'eurusd']) {
      const r = bqx(home, ['rerun', target, '--merge', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout);
      assert.deepEqual([s.runId, s.status, s.output.columns], [runId, 'succeeded', 17_038]);
    }
  });

  const badInputs: [string, string[], Record<string, string>, RegExp][] = [
    ['an unknown pair', ['run', 'eurxyz'], {}, /^bqx: unknown pair "eurxyz"/],
    ['a path as pair', ['run', '../x'], {}, /^bqx: pair "\.\.\/x" must be six lower-case letters/],
    ['SQL in a pair', ['run', "eu'; drop table x; --"], {}, /must be six lower-case letters/],
    ['a pair with no run to rerun', ['rerun', 'gbpusd', '--missing'], {}, /^bqx: no run found for gbpusd$/m],
    ['SQL in a feature name', ['rerun', 'eurusd-20260101t000000-aaaaaa', '--features', 'agg_eurusd;drop'], {}, /feature "agg_eurusd;drop" is not a plain identifier/],
    ['a missing label table', ['run', 'eurusd'], { BQX_LABEL_TABLE_PREFIX: 'nope_' }, /^bqx: label table bqx_ml_v3_analytics_v2\.nope_eurusd not found/],
    ['a bad setting', ['run'], { BQX_MERGE_MEMORY_MB: 'lots' }, /^bqx: BQX_MERGE_MEMORY_MB="lots": must be a whole number/],
    ['an unknown option', ['run', '--fast'], {}, /^bqx: unknown option --fast/],
    ['an unknown run', ['status', 'eurusd-20200101t000000-zzzzzz'], {}, /^bqx: run eurusd-20200101t000000-zzzzzz not found/],
    ['a bad window', ['run', 'eurusd', '--start', 'yesterday'], {}, /^bqx: start "yesterday" must be an ISO-8601 time/],
    ['an unknown table to touch', ['demo', '--touch', 'agg_eurusd,no_such_table'], {}, /^bqx: unknown table "no_such_table"/],
    ['a bad duration to append', ['demo', '--append', '1w'], {}, /^bqx: duration "1w" must be a whole number from 1 and a unit/],
    ['no minutes to append', ['demo', '--append', '0m'], {}, /^bqx: duration "0m" must be a whole number from 1 and a unit \(m, h or d\)/],
    ['over a year to append', ['demo', '--append', '400d'], {}, /^bqx: duration 400d is over a year \(at most 366d, 8784h or 527040m\)\n$/],
  ];
  for (const [what, args, env, message] of badInputs) {
    it(`refuses ${what} with one line on stderr, exit 2, and changes nothing`, () => {
      const before = snapshot(home);
      const r = bqx(home, args, env);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.deepEqual(snapshot(home), before);
    });
  }

  it('refuses a corrupt manifest in verify with one line', () => {
    const file = path.join(tempDir('bad'), '_manifest.json');
    writeFileSync(file, '{"groups": 12');
    const r = bqx(home, ['verify', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^bqx: .*_manifest\.json is not a readable manifest/);
  });

  it('refuses a BQX_HOME that is a file, or under one, in one line before anything is written', () => {
    const file = path.join(tempDir('home-file'), 'notes.txt');
    writeFileSync(file, 'not a folder');
    for (const [home, why] of [[file, 'a file, not a folder'], [path.join(file, 'bqx'), `${file} is a file, not a folder`]] as const) {
      for (const args of [['run', 'eurusd', '--quiet'], ['status'], ['demo', '--rows', '100']]) {
        const r = bqx(home, args);
        assert.equal(r.code, 2, `${args.join(' ')} in ${home}: ${r.stderr}`);
        // Not "ENOTDIR: not a directory, mkdir '…/notes.txt/logs'" from deep inside, nor "no runs yet".
        assert.equal(r.stderr, `bqx: BQX_HOME=${JSON.stringify(home)}: ${why}\n`);
        assert.equal(r.stdout, '');
      }
    }
    assert.equal(readFileSync(file, 'utf8'), 'not a folder');
  });

  it('resumes a run killed mid-extract and completes it', async () => {
    const fresh = await freshHome(ROWS);
    const child = spawn(process.execPath, [BQX, 'run', 'eurusd', '--json'], { env: { ...process.env, BQX_HOME: fresh }, stdio: ['ignore', 'pipe', 'pipe'] });
    // Kill it once some checkpoints have landed, but long before all 667 have.
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/extract\s+\[#{2,}/.test(err)) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`bqx run ended before it could be killed:\n${err}`)));
    });
    await new Promise((r) => child.once('close', r));
    const landed = readdirSync(path.join(fresh, 'runstore', 'checkpoints'))
      .flatMap((d) => readdirSync(path.join(fresh, 'runstore', 'checkpoints', d))).length;
    assert.ok(landed > 0 && landed < 667, `${landed} checkpoints recorded before the kill`);
    const r = bqx(fresh, ['run', 'eurusd', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /has an active run .*: resuming it/);
    const s = JSON.parse(r.stdout);
    assert.equal(s.status, 'succeeded');
    assert.equal(s.landed, 667);
    assert.equal(s.output.columns, 17_038);
  });

  it('Ctrl-C during a run says what stays and how to go on, exits 130, and the next run resumes it', async () => {
    const fresh = await freshHome(ROWS);
    const { exit, err } = await interrupted(fresh, ['run', 'eurusd'], /extract\s+\[#{2,}/);
    assert.equal(exit, 130, err);
    const said = /bqx: interrupted: run (\S+) stays unfinished, with the checkpoints that landed: `bqx run eurusd` resumes it/.exec(err);
    assert.ok(said, err.slice(-500));
    const r = bqx(fresh, ['run', 'eurusd', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.runId, said[1], 'the interrupted run, resumed');
    assert.equal(s.status, 'succeeded');
    assert.equal(s.landed, 667);
    // A demo append cut off since (as `bqx demo --append` leaves demo.json then): a refresh is
    // refused before the demo is built again, which would drop its appends and touches.
    const demoJson = path.join(fresh, 'demo.json');
    const state = JSON.parse(readFileSync(demoJson, 'utf8'));
    writeFileSync(demoJson, JSON.stringify({ ...state, appending: true }));
    const before = snapshot(fresh);
    const refresh = bqx(fresh, ['run', 'eurusd', '--refresh']);
    assert.equal(refresh.code, 2, refresh.stderr);
    assert.match(refresh.stderr, /^bqx: a refresh follows the tables the last version read, and this run would build the demo again \(its last --append was cut off\): `bqx demo` builds it \(its appends and touches go\), then run without --refresh\n$/);
    assert.deepEqual(snapshot(fresh), before, 'nothing built or written');
  });

  it('Ctrl-C during the demo build says it stops unfinished, exits 130, and the next bqx demo builds it again; during an append, says what it leaves', async () => {
    const fresh = tempDir('demo-int');
    const { exit, err } = await interrupted(fresh, ['demo', '--rows', '300'], /demo\s+\[#{2,}/);
    assert.equal(exit, 130, err);
    assert.match(err, /\nbqx: interrupted: the demo build stops unfinished: the next `bqx demo` or `bqx run` builds it again\n$/);
    const again = bqx(fresh, ['demo', '--rows', '300']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /demo warehouse ready/);
    // An append cut off says what it leaves and how to go on.
    const append = await interrupted(fresh, ['demo', '--append', '3d'], /append\s+\[#{2,}/);
    assert.equal(append.exit, 130, append.err);
    assert.match(append.err, /\nbqx: interrupted: the append stops partway: some tables may have the new minutes and others not; `bqx demo --rows 300` builds the demo again\n$/);
    // Nothing is built on it: another append is refused, and the next bqx demo (or run) builds it again.
    const onTop = bqx(fresh, ['demo', '--append', '1d']);
    assert.equal(onTop.code, 2);
    assert.match(onTop.stderr, /^bqx: the demo warehouse's last --append was cut off \(some tables have its minutes, others not\): build it again with bqx demo --rows 300 \(or bqx run\)\n$/);
    const rebuilt = bqx(fresh, ['demo', '--pairs', 'eurusd,gbpusd']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.match(rebuilt.stderr, /building the demo warehouse again: the last --append was cut off: eurusd, gbpusd, 300 rows per table/);
    // Another size rebuilds it, says so, and keeps its pairs.
    const resized = bqx(fresh, ['demo', '--rows', '200']);
    assert.equal(resized.code, 0, resized.stderr);
    assert.match(resized.stderr, /^rebuilding the demo warehouse at 200 rows per table \(it had 300\): eurusd, gbpusd, every table with new values and a new data version, so the next run extracts every feature\n/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(fresh, 'demo.json'), 'utf8')).pairs, ['eurusd', 'gbpusd']);
  });

  describe('reuse by content and a demo that changes', () => {
    const run = (...extra: string[]) => {
      const r = bqx(home, ['run', 'eurusd', '--json', '--quiet', ...extra]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const verify = (manifest: string) => {
      const v = bqx(home, ['verify', manifest]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      return v.stdout;
    };

    it('a second run with nothing changed extracts nothing and reuses all 667 checkpoints', () => {
      const s = run();
      assert.deepEqual([s.status, s.extracted, s.reused, s.landed], ['succeeded', 0, 667, 667]);
      assert.match(verify(s.output.manifest), /^ok: 600 rows x 17038 columns/);
      // The same dataset as the first run's, file for file and byte for byte.
      const files = (manifest: string) => (JSON.parse(readFileSync(manifest, 'utf8')).groups as { files: string[] }[]).map((g) => g.files.map((f) => readFileSync(f)));
      const firstManifest = path.join(home, 'output', 'training', 'eurusd', runId, '_manifest.json');
      assert.deepEqual(files(s.output.manifest), files(firstManifest));
      // A rerun of one of its features extracts it: the summary counts it so, and why.
      const again = bqx(home, ['rerun', s.runId, '--features', 'agg_eurusd', '--json']);
      assert.equal(again.code, 0, again.stderr);
      const r = JSON.parse(again.stdout);
      assert.deepEqual([r.status, r.extracted, r.reused, r.reasons], ['succeeded', 1, 666, { rerun: 1 }]);
    });

    it('demo --touch of 3 tables, then a run: exactly those 3 are extracted, because their data changed', () => {
      const touched = ['agg_eurusd', 'tri_agg_bqx_eur_gbp_aud', 'csi_agg_bqx_eur'];
      const t = bqx(home, ['demo', '--touch', touched.join(',')]);
      assert.equal(t.code, 0, t.stderr);
      assert.match(t.stderr, /^touch\s+\[#+\]\s+3\/3 100%/m, 'a progress bar over the tables');
      assert.match(t.stderr.split('\n').at(-2)!, /^touched 3 table\(s\)/);
      const s = run();
      assert.deepEqual([s.extracted, s.reused, s.reasons], [3, 664, { 'data changed': 3 }]);
      const report = JSON.parse(readFileSync(path.join(path.dirname(s.output.manifest), 'report.json'), 'utf8'));
      assert.deepEqual(report.features.filter((f: { reason?: string }) => f.reason).map((f: { feature: string }) => f.feature).sort(), [...touched].sort());
      verify(s.output.manifest);
    });

    it('demo --append 2h adds 120 minutes to every table; a --no-reuse run has them and extracts all 667', () => {
      const a = bqx(home, ['demo', '--append', '2h'], {}, 900_000);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stderr, /^append\s+\[#+\]\s+669\/669 100%/m, 'a progress bar over the feature tables');
      assert.match(a.stderr.split('\n').at(-2)!, /^appended 120 minute\(s\) to 1 label table\(s\) and 669 feature tables/);
      const s = run('--no-reuse');
      assert.deepEqual([s.extracted, s.reused, s.reasons], [667, 0, { 'reuse turned off': 667 }]);
      assert.equal(s.output.rows, ROWS + 120);
      assert.match(verify(s.output.manifest), /^ok: 720 rows x 17038 columns/);
    });
  });
});

/** Every file under the home (logs aside): a refused command must create or remove none. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!p.includes(`${path.sep}logs${path.sep}`)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}
