// `bqx --help`, `bqx status` and a bad input answer without loading DuckDB's native library (about
// 0.24 s of the 1 s they may take, issue 12): a static import of a module that brings it (a demo
// change's helpers, once) made every one of them take 0.36 s instead of 0.17-0.20 s.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
// Loaded before the CLI: at exit, says whether a DuckDB shared object is mapped into the process.
const PROBE = `data:text/javascript,${encodeURIComponent(
  "import fs from 'node:fs'; process.on('exit', () => { if (fs.readFileSync('/proc/self/maps', 'utf8').includes('duckdb')) process.stderr.write('PROBE: duckdb loaded\\n'); });",
)}`;

describe('bqx quick commands load no DuckDB', function () {
  this.timeout(60_000);

  before(function () {
    if (!existsSync('/proc/self/maps')) {
      console.log('    SKIPPED: no /proc/self/maps on this system (not Linux): cannot see which shared libraries a command loads');
      this.skip();
    }
  });

  for (const [what, args] of [
    ['--help', ['--help']],
    ['status of an empty home', ['status']],
    ['a bad pair', ['run', 'EUR/USD']],
  ] as const) {
    it(`${what}`, () => {
      const r = spawnSync(process.execPath, ['--import', PROBE, BQX, ...args], { env: { ...process.env, BQX_HOME: tempDir('quick') }, encoding: 'utf8', timeout: 30_000 });
      assert.ok(r.status === 0 || r.status === 2, `${what}: exit ${r.status}\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /PROBE: duckdb loaded/, `${what} loaded DuckDB's native library`);
    });
  }
});
