// `npm run sweep` as typed (test/sweep/cli.ts): `--first-seed` plays the schedules it names and
// says which, and is refused where it would mean nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sweep = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'test/sweep/cli.ts', ...args], { cwd: root, encoding: 'utf8' });

describe('npm run sweep', function () {
  this.timeout(120_000);

  it('--first-seed F plays the schedules F..F+N-1 after the crash points and names them in the summary', () => {
    const out = sweep('--scenario', 'rerun', '--schedules', '2', '--first-seed', '7', '--json');
    assert.equal(out.status, 0, out.stderr);
    const summary = JSON.parse(out.stdout) as { schedules: number; seeds: number[]; crashPoints: number; violations: unknown[] };
    assert.equal(summary.schedules, 2);
    assert.deepEqual(summary.seeds, [7, 8]);
    assert.ok(summary.crashPoints > 0, 'the crash points were not played');
    assert.deepEqual(summary.violations, []);
  });

  it('refuses --first-seed with --seed, and a first seed of 0, with exit code 2 and the reason', () => {
    const both = sweep('--seed', '3', '--first-seed', '9');
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--first-seed chooses the randomized schedules of a whole sweep: not with --seed/);
    const zero = sweep('--first-seed', '0');
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /--first-seed must be 1 or more/);
  });
});
