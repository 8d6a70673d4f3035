// The disk check on the embedded runtime: a run the folders cannot hold is refused before it writes
// anything (no run claimed, no manifest, no checkpoint), BQX_DISK_CHECK=off runs it anyway, and
// `bqx demo` refuses a build larger than the disk.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { existsSync, readdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { sizeText } from '../../shared/chain/diskRoom.js';
import { rerun } from '../../shared/chain/rerun.js';
import { startRun } from '../../shared/chain/startRun.js';
import { paths } from '../../shared/naming.js';
import { createView, viewPaths } from '../../shared/view/createView.js';
import { demoRunBytes, demoTableBytes } from '../../shared/demo/size.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { freshHome, openTest, settle, testConfig } from '../helpers/embedded.js';
import { main } from '../../shared/cli/main.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');

describe('embedded disk check', function () {
  this.timeout(120_000);
  let e: Embedded | undefined;

  afterEach(async () => {
    sinon.restore();
    await e?.close();
    e = undefined;
  });

  it('refuses a run its folders cannot hold before writing anything; BQX_DISK_CHECK=off runs it', async () => {
    const home = tempDir('disk');
    e = await openTest(testConfig(home));
    await buildMiniWarehouse(e.warehouse);
    // Both stores on one file system with 1 KB free: the mini pair's run writes about 60 KB.
    const tight = { free: 1000, volume: 'v', where: home };
    sinon.stub(e.staging, 'room').resolves(tight);
    sinon.stub(e.output, 'room').resolves(tight);
    await assert.rejects(startRun(e.deps, { pair: 'eurusd' }), (error: Error) => {
      assert.equal(error.name, 'InputError');
      assert.match(error.message, /^not enough disk for this run: it writes about \d+ KB \(checkpoints \d+ KB, dataset \d+ KB\) and .* has 1 KB free/);
      return true;
    });
    assert.equal(await e.store.lastRun('eurusd'), undefined, 'no run claimed');
    assert.deepEqual(await e.staging.list(''), [], 'nothing in staging');
    assert.deepEqual(await e.output.list(''), [], 'nothing in output');
    await e.close();

    e = await openTest(testConfig(home, { BQX_DISK_CHECK: 'off' }));
    sinon.restore();
    sinon.stub(e.staging, 'room').resolves(tight);
    const { run } = await startRun(e.deps, { pair: 'eurusd' });
    assert.equal((await settle(e, run.runId)).state, 'succeeded');
  });

  it('a rerun is checked too: its merge counts what an earlier merge of the run wrote as room', async () => {
    const home = tempDir('disk');
    e = await openTest(testConfig(home));
    await buildMiniWarehouse(e.warehouse);
    const { run } = await startRun(e.deps, { pair: 'eurusd' });
    assert.equal((await settle(e, run.runId)).state, 'succeeded');
    const tight = { free: 1000, volume: 'v', where: home };
    sinon.stub(e.staging, 'room').resolves(tight);
    sinon.stub(e.output, 'room').resolves(tight);
    // Its dataset is there: merging again writes the same files over it.
    await rerun(e.deps, run.runId, { mode: 'merge' });
    assert.equal((await settle(e, run.runId)).state, 'succeeded');
    // Without it (a merge that failed and was cleared), the same 1 KB is too little.
    await e.output.deletePrefix(paths.outputDir('eurusd', run.runId));
    await assert.rejects(rerun(e.deps, run.runId, { mode: 'merge' }), /^InputError: not enough disk for this run: it writes about \d+ KB and /);
    assert.equal((await e.store.getRun(run.runId))!.state, 'succeeded', 'the run was not reopened');
  });

  it('a view is checked too, and refused before the warehouse writes any of it', async () => {
    const home = tempDir('disk');
    e = await openTest(testConfig(home));
    await buildMiniWarehouse(e.warehouse);
    const { run } = await startRun(e.deps, { pair: 'eurusd' });
    const done = await settle(e, run.runId);
    assert.equal(done.state, 'succeeded');
    sinon.stub(e.output, 'room').resolves({ free: 1000, volume: 'v', where: home });
    const view = sinon.spy(e.warehouse, 'view');
    const deps = { config: e.deps.config, warehouse: e.warehouse, output: e.output, clock: { now: () => new Date() } };
    await assert.rejects(createView(deps, done, { name: 'narrow', drop: [] }), /^InputError: not enough disk for view narrow: it writes about \d+ KB and .* has 1 KB free\. .*choose fewer columns/);
    assert.equal(view.callCount, 0);
    assert.deepEqual(await e.output.list(viewPaths.dir('eurusd', run.runId, 'narrow')), []);
  });

  it('`bqx run --consolidate` checks the one file too: on a disk the run fills, the run succeeds and the file is refused', async function () {
    this.timeout(180_000);
    const home = await freshHome(600);
    // A disk with room for the run that is full once its dataset is written (its _manifest.json
    // there): the run succeeds, and the consolidated file (82 MB) no longer fits.
    const written = () => readdirSync(path.join(home, 'output', 'training', 'eurusd'), { withFileTypes: true }).some((d) => existsSync(path.join(home, 'output', 'training', 'eurusd', d.name, '_manifest.json')));
    const free = () => (existsSync(path.join(home, 'output', 'training', 'eurusd')) && written() ? 1e6 : 1e11);
    // The file system's own answer is faked (a stub on the store class would miss the CLI's copy of it under mocha's loader).
    sinon.stub(fs, 'statfsSync').callsFake(() => ({ bavail: free() / 4096, bsize: 4096 }) as fs.StatsFs);
    const stderr = sinon.stub(process.stderr, 'write');
    const stdout = sinon.stub(process.stdout, 'write');
    let code: number;
    try {
      code = await main(['run', 'eurusd', '--consolidate', '--quiet', '--json'], { ...process.env, BQX_HOME: home });
    } finally {
      stderr.restore();
      stdout.restore();
    }
    const said = stderr.getCalls().map((c) => String(c.args[0])).join('');
    assert.equal(code, 2, said);
    assert.match(said, /^bqx: not enough disk for the consolidated file: it writes about \d+ MB and .* has 1 MB free\. .*leave out --consolidate/m);
    const e2 = await openTest(testConfig(home));
    try {
      const last = (await e2.store.lastRun('eurusd'))!;
      assert.equal(last.state, 'succeeded');
      assert.ok(!existsSync(path.join(home, 'output', 'training', 'eurusd', last.runId, 'training_eurusd.parquet')), 'no consolidated file');
    } finally {
      await e2.close();
    }
  });

  it('runs where the folders hold it: the check reads their real free space', async () => {
    const home = tempDir('disk');
    e = await openTest(testConfig(home));
    await buildMiniWarehouse(e.warehouse);
    const room = sinon.spy(e.staging, 'room');
    const { run } = await startRun(e.deps, { pair: 'eurusd' });
    assert.equal((await settle(e, run.runId)).state, 'succeeded');
    assert.equal(room.callCount, 1);
    assert.ok((await room.firstCall.returnValue)!.free > 0);
  });

  it('`bqx demo --rows 10000000` and `bqx run --rows 10000000` are refused before building anything (exit 2)', function () {
    const home = tempDir('disk');
    const space = statfsSync(home);
    const need = demoTableBytes(['eurusd'], 10_000_000);
    if (space.bavail * space.bsize >= need + demoRunBytes(10_000_000)) {
      console.log(`      SKIPPED: this disk has ${space.bavail * space.bsize} bytes free, room for a 10,000,000-row demo (${need} bytes): nothing to refuse`);
      this.skip();
    }
    for (const args of [['demo', '--rows', '10000000'], ['run', 'eurusd', '--rows', '10000000']]) {
      const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home }, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`bqx: not enough disk for the demo at 10000000 rows: its tables take about ${sizeText(need)}`), r.stderr);
      if (args[0] === 'run') assert.ok(r.stderr.includes(`and the first run writes about ${sizeText(demoRunBytes(10_000_000))} more`), r.stderr);
      assert.match(r.stderr, /About --rows \d+ fits/);
      assert.ok(!existsSync(path.join(home, 'demo.json')), 'no demo build started');
      assert.ok(!existsSync(path.join(home, 'warehouse.tables')) || readdirSync(path.join(home, 'warehouse.tables')).length === 0);
    }
  });
});
