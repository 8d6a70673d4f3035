// Retention on the embedded runtime (small warehouse): what kept runs reference survives wherever
// it lives, so do the checkpoints a newer failed run reused (for its rerun), `bqx gc --keep 1`
// leaves the latest dataset verifiable, and after ten runs BQX_HOME holds the kept datasets and one
// set of checkpoints.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { rerun } from '../../shared/chain/rerun.js';
import { startRun } from '../../shared/chain/startRun.js';
import { touchTables } from '../../shared/demo/change.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import { collectAll, collectGarbage } from '../../shared/retention.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, testConfig } from '../helpers/embedded.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');

async function runOnce(e: Embedded, options: { reuse?: boolean } = {}): Promise<string> {
  const { run: started } = await startRun(e.deps, { pair: 'eurusd', ...options });
  const run = await settle(e, started.runId);
  assert.equal(run.state, 'succeeded', run.error);
  return run.runId;
}

/** Files (not folders) under `dir`, relative, with sizes; `.tmp` scratch left out. */
function files(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== '.tmp') walk(p);
      } else out.set(path.relative(dir, p), statSync(p).size);
    }
  };
  walk(dir);
  return out;
}

describe('embedded retention', function () {
  this.timeout(180_000);
  let home: string;
  let e: Embedded;

  beforeEach(async () => {
    home = tempDir('retention');
  });
  afterEach(async () => {
    await e?.close();
  });

  it('after ten runs with the default retention, BQX_HOME holds the 3 kept datasets and one set of checkpoints', async () => {
    e = await openTest(testConfig(home));
    await buildMiniWarehouse(e.warehouse);
    const runs: string[] = [];
    for (let i = 0; i < 10; i++) runs.push(await runOnce(e));
    const kept = runs.slice(-3);

    const outputs = readdirSync(path.join(home, 'output', 'training', 'eurusd')).sort();
    assert.deepEqual(outputs, [...kept].sort(), 'the last three datasets, no other');
    for (const runId of kept) assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', runId, '_manifest.json'))).problems, []);

    const staging = [...files(path.join(home, 'staging')).keys()];
    const parquet = staging.filter((f) => f.endsWith('.parquet'));
    const newest = await e.store.listCheckpoints(runs[9]!);
    assert.deepEqual(parquet.sort(), newest.flatMap((c) => c.files).sort(), 'the checkpoints are the newest run\'s, one set');
    assert.ok(staging.every((f) => f.startsWith(`runs/${runs[9]}/`) || kept.some((k) => f === `runs/${k}/manifest.json`)), staging.join('\n'));
    for (const runId of runs.slice(0, 7)) {
      const run = await e.store.getRun(runId);
      assert.equal(run?.collected?.scope, 'all', `${runId} was collected`);
      assert.equal(await e.store.countCheckpoints(runId), 0);
      assert.ok(!existsSync(path.join(home, 'runstore', 'checkpoints', runId)), `${runId}'s emptied checkpoint folder went too`);
    }
    assert.equal((await e.store.getRun(runs[7]!))?.collected?.scope, 'checkpoints');

    // With nothing left to remove (as most of the reconciler's calls find), no checkpoint record is read.
    const reads = sinon.spy(e.store, 'listCheckpoints');
    const again = await collectAll(e.deps, ['eurusd', 'gbpusd'], 3);
    reads.restore();
    assert.deepEqual(again.map((r) => [r.pair, r.objects, r.removed, r.trimmed]), [['eurusd', 0, [], []], ['gbpusd', 0, [], []]]);
    assert.equal(reads.callCount, 0);
  });

  it('counts runs that built nothing with the dataset they repeat: with BQX_KEEP 2 both versions stay, and of the repeats the first and the newest; the ones between go', async () => {
    e = await openTest(testConfig(home, { BQX_MAX_GROUP_COLUMNS: '300' }));
    await buildMiniWarehouse(e.warehouse);
    // Versions recorded as every bqx write does: checkpoints are reused, and shards shared.
    const features = 'bqx_ml_v3_features_v2';
    await e.warehouse.markChanged(features, ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp', 'mkt_regime_summary', 'agg_gbpjpy']);
    await e.warehouse.markChanged('bqx_ml_v3_analytics_v2', ['targets_eurusd']);
    const first = await runOnce(e);
    await touchTables(e.warehouse, { featuresDataset: features, labelsDataset: 'bqx_ml_v3_analytics_v2', labelTablePrefix: 'targets_', metadataColumns: ['pair', 'pair1', 'pair2'] }, ['agg_eurusd']);
    const second = await runOnce(e);
    const repeats = [await runOnce(e), await runOnce(e), await runOnce(e)];
    const filesOf = async (runId: string) => (await e.store.getRun(runId))!.output!.files.slice().sort();
    assert.notDeepEqual(await filesOf(second), await filesOf(first), 'the touch built another dataset');
    for (const [i, r] of repeats.entries()) {
      assert.deepEqual(await filesOf(r), await filesOf(second), `${r} built nothing: the second dataset's files`);
      assert.equal((await e.store.getRun(r))!.sharing?.from, i === 0 ? second : repeats[i - 1], 'shared from the run before it');
    }

    // The retention after each success (BQX_KEEP 3) removed each repeat once a newer one came.
    for (const runId of repeats.slice(0, 2)) {
      assert.equal((await e.store.getRun(runId))!.collected?.scope, 'all', `${runId} removed`);
      assert.deepEqual(await e.output.list(`training/eurusd/${runId}/`), [], `${runId}'s folder went`);
    }
    const result = await collectGarbage(e.deps, 'eurusd', 2);
    // Counted run by run, the last two were kept: two repeats of one dataset, the first version gone.
    assert.deepEqual(result.kept, [repeats[2], second, first]);
    assert.deepEqual(result.removed, []);
    for (const runId of result.kept) assert.deepEqual((await verifyManifest(e.output.uri(`training/eurusd/${runId}/_manifest.json`))).problems, [], runId);
    // A new version counts: with BQX_KEEP 2 the first goes, the second's first and newest runs stay.
    await touchTables(e.warehouse, { featuresDataset: features, labelsDataset: 'bqx_ml_v3_analytics_v2', labelTablePrefix: 'targets_', metadataColumns: ['pair', 'pair1', 'pair2'] }, ['mkt_regime']);
    const third = await runOnce(e);
    const after = await collectGarbage(e.deps, 'eurusd', 2);
    assert.deepEqual(after.kept, [third, repeats[2], second]);
    assert.deepEqual(after.removed, [first]);
    for (const runId of after.kept) assert.deepEqual((await verifyManifest(e.output.uri(`training/eurusd/${runId}/_manifest.json`))).problems, [], runId);
  });

  it('keeps what a kept run points at under another run\'s prefix: a reused checkpoint and a shared shard file', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '5' }));
    await buildMiniWarehouse(e.warehouse);
    const [old, newer] = [await runOnce(e), await runOnce(e)];
    // The newer run's checkpoint of agg_eurusd lives under the old run's prefix (as a checkpoint
    // reused across runs by content would), and its dataset points at the old run's first shard
    // file of group 0 (same rows, same bytes): shared by reference.
    const newAgg = (await e.store.listCheckpoints(newer)).find((c) => c.feature === 'agg_eurusd')!;
    const reused = newAgg.files.map((f) => f.replace(newer, old));
    for (const [i, f] of newAgg.files.entries()) await e.staging.write(reused[i]!, await e.staging.read(f));
    await e.store.deleteCheckpoint(newer, 'agg_eurusd');
    await e.store.recordCheckpoint({ ...newAgg, files: reused });
    await e.staging.deletePrefix(`runs/${newer}/features/agg_eurusd/`);
    const manifestObject = `training/eurusd/${newer}/_manifest.json`;
    const m = JSON.parse(Buffer.from(await e.output.read(manifestObject)).toString('utf8'));
    const shared = m.shards[0].groups[0].objects[0].replace(newer, old);
    await e.output.deletePrefix(m.shards[0].groups[0].objects[0]);
    m.shards[0].groups[0] = { ...m.shards[0].groups[0], objects: [shared], files: [e.output.uri(shared)] };
    m.groups[0] = { ...m.groups[0], objects: [shared], files: [e.output.uri(shared)] };
    await e.output.write(manifestObject, JSON.stringify(m));
    // The run record lists the dataset's files as its manifest does (both written by the merge).
    const original = m.shards[0].groups[0].objects[0].replace(old, newer);
    await e.store.updateRun(newer, (r) => ({ ...r, output: { ...r.output!, files: r.output!.files.map((f) => (f === original ? shared : f)) } }));
    assert.ok((await e.store.getRun(newer))!.output!.files.includes(shared));
    assert.deepEqual((await verifyManifest(e.output.uri(manifestObject))).problems, []);

    const result = await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual(result.kept, [newer]);
    assert.deepEqual(result.removed, [old]);
    const left = (await e.staging.list(`runs/${old}/`)).map((o) => o.name).sort();
    assert.deepEqual(left, reused, 'the reused checkpoint, nothing else');
    assert.deepEqual((await e.output.list(`training/eurusd/${old}/`)).map((o) => o.name), [shared], 'the shared shard file, nothing else');
    assert.deepEqual((await verifyManifest(e.output.uri(manifestObject))).problems, [], 'the kept dataset is whole');
    assert.deepEqual((await e.store.getRun(old))!.collected!.left, [shared], 'the removed run\'s record names the file left for the kept dataset');

    // A rerun of the kept dataset's merge builds that shard itself (the run it shared from is
    // removed): the file left in the old folder is listed by nothing now, and the next retention
    // removes it by its name, with no folder listed.
    await rerun(e.deps, newer, { mode: 'merge' });
    assert.equal((await settle(e, newer)).state, 'succeeded');
    assert.ok(!(await e.store.getRun(newer))!.output!.files.includes(shared), 'the rerun lists its own file');
    const list = sinon.spy(e.output, 'list');
    await collectGarbage(e.deps, 'eurusd', 1);
    assert.ok(!list.getCalls().some((c) => String(c.args[0]).includes(old)), 'the old folder is not listed');
    list.restore();
    assert.deepEqual(await e.output.list(`training/eurusd/${old}/`), [], 'the file no dataset lists is gone');
    assert.equal((await e.store.getRun(old))!.collected!.left, undefined);
    assert.deepEqual((await verifyManifest(e.output.uri(manifestObject))).problems, [], 'the kept dataset is whole');
    // And a new run still builds (the newest run's checkpoints are where its records say).
    await runOnce(e);
  });

  it('refuses to rerun a dataset whose files a later dataset shares: its merge would rewrite them under that dataset', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '5' }));
    await buildMiniWarehouse(e.warehouse);
    const [first, second] = [await runOnce(e), await runOnce(e)];
    const own = (await e.store.getRun(second))!.output!.files[0]!;
    const shared = own.replace(second, first);
    await e.store.updateRun(second, (r) => ({ ...r, output: { ...r.output!, files: r.output!.files.map((f) => (f === own ? shared : f)) } }));
    for (const mode of ['merge', 'missing'] as const) {
      await assert.rejects(rerun(e.deps, first, { mode }), new RegExp(`run ${first}'s files are shared by the dataset of run ${second}: rerunning it would rewrite that dataset too; start a new run instead \\(bqx run eurusd\\)`));
    }
    const kept = (await e.store.getRun(first))!;
    assert.equal(kept.state, 'succeeded', 'a refused rerun changes nothing');
    // The later dataset itself can be rerun: nothing lists its files.
    await rerun(e.deps, second, { mode: 'merge' });
    assert.equal((await settle(e, second)).state, 'succeeded');
  });

  it('bqx gc --dry-run counts a file two removed runs list once, as the removal does', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '5' }));
    await buildMiniWarehouse(e.warehouse);
    const [first, second] = [await runOnce(e), await runOnce(e)];
    // The second dataset shares the first's first file of group 0 (a refresh's shared shard).
    const manifestObject = `training/eurusd/${second}/_manifest.json`;
    const m = JSON.parse(Buffer.from(await e.output.read(manifestObject)).toString('utf8'));
    const own = m.shards[0].groups[0].objects[0] as string;
    const shared = own.replace(second, first);
    await e.output.deletePrefix(own);
    m.shards[0].groups[0] = { ...m.shards[0].groups[0], objects: [shared], files: [e.output.uri(shared)] };
    m.groups[0] = { ...m.groups[0], objects: [shared], files: [e.output.uri(shared)] };
    await e.output.write(manifestObject, JSON.stringify(m));
    await e.store.updateRun(second, (r) => ({ ...r, output: { ...r.output!, files: r.output!.files.map((f) => (f === own ? shared : f)) } }));
    await runOnce(e, { reuse: false });
    const outputBefore = files(path.join(home, 'output'));
    const dry = await collectGarbage(e.deps, 'eurusd', 1, undefined, true);
    assert.deepEqual(files(path.join(home, 'output')), outputBefore, 'a dry run removes nothing');
    const done = await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual(done.removed, [first, second]);
    assert.deepEqual({ objects: dry.objects, bytes: dry.bytes }, { objects: done.objects, bytes: done.bytes }, 'what the dry run said is what went');
    const after = files(path.join(home, 'output'));
    const freed = [...outputBefore].filter(([f]) => !after.has(f));
    assert.ok(freed.some(([f]) => f === shared), 'the shared file went');
    assert.ok(done.bytes >= freed.reduce((n, [, size]) => n + size, 0), 'each output file counted once');
  });

  it('clears what a failed merge wrote, keeps that run\'s checkpoints, and a rerun of its merge then builds it whole', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '3' }));
    await buildMiniWarehouse(e.warehouse);
    const first = await runOnce(e);
    // A merge that wrote every file, then failed (as a disk that fills at its end would).
    const merge = sinon.stub(e.warehouse, 'merge').callsFake(async function (this: unknown, ...args) {
      await merge.wrappedMethod.apply(e.warehouse, args);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const failed = await settle(e, started.runId);
    merge.restore();
    assert.equal(failed.state, 'failed');
    assert.match(failed.error ?? '', /ENOSPC/);
    assert.equal(failed.output, undefined);
    const left = (await e.output.list(`training/eurusd/${failed.runId}/`)).map((o) => o.name);
    assert.ok(left.some((n) => n.endsWith('.parquet')), `the failed merge left files: ${left.join(', ')}`);
    const checkpoints = (await e.staging.list(`runs/${failed.runId}/`)).map((o) => o.name);

    const result = await collectGarbage(e.deps, 'eurusd', 3);
    assert.deepEqual(result.kept, [first]);
    assert.deepEqual(result.removed, []);
    assert.deepEqual(result.cleared, [failed.runId]);
    assert.equal(result.objects, left.length);
    assert.deepEqual(await e.output.list(`training/eurusd/${failed.runId}/`), [], 'nothing of the unfinished output is left');
    assert.deepEqual((await e.staging.list(`runs/${failed.runId}/`)).map((o) => o.name), checkpoints, 'its checkpoints stay, for a rerun');
    assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', first, '_manifest.json'))).problems, [], 'the kept dataset is whole');
    assert.deepEqual((await collectGarbage(e.deps, 'eurusd', 3)).cleared, [], 'a second call finds nothing more');

    await rerun(e.deps, failed.runId, { mode: 'merge' });
    const again = await settle(e, failed.runId);
    assert.equal(again.state, 'succeeded', again.error);
    assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', failed.runId, '_manifest.json'))).problems, []);
  });

  it('keeps the checkpoints a newer failed run reused from an older one, so a rerun of its merge still builds it', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '3' }));
    await buildMiniWarehouse(e.warehouse);
    // Versions as every bqx write records them (the mini warehouse is plain SQL): checkpoints are reused by them.
    await e.warehouse.markChanged('bqx_ml_v3_features_v2', ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp', 'mkt_regime_summary', 'agg_gbpjpy']);
    const first = await runOnce(e);
    const merge = sinon.stub(e.warehouse, 'merge').rejects(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const failed = await settle(e, started.runId);
    merge.restore();
    assert.equal(failed.state, 'failed');
    const reused = (await e.store.listCheckpoints(failed.runId)).filter((c) => c.reusedFrom === first).flatMap((c) => c.files);
    assert.ok(reused.length > 0, 'the failed run reused the first run\'s checkpoints');
    // A full extract succeeds after it: its retention trims the first run, the older kept dataset.
    await runOnce(e, { reuse: false });
    assert.equal((await e.store.getRun(first))?.collected?.scope, 'checkpoints', 'the first run was trimmed');
    for (const file of reused) assert.notEqual(await e.staging.size(file), undefined, `${file}, which the failed run lists, stays`);
    await rerun(e.deps, failed.runId, { mode: 'merge' });
    const again = await settle(e, failed.runId);
    assert.equal(again.state, 'succeeded', again.error);
    assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', failed.runId, '_manifest.json'))).problems, []);
  });

  it('reruns a kept dataset retention trimmed: its merge while its checkpoints are all there, with mode "missing" once they are gone', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '2' }));
    await buildMiniWarehouse(e.warehouse);
    await e.warehouse.markChanged('bqx_ml_v3_features_v2', ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp', 'mkt_regime_summary', 'agg_gbpjpy']);
    const first = await runOnce(e);
    const second = await runOnce(e);
    const reused = await e.store.listCheckpoints(second);
    assert.ok(reused.length > 0 && reused.every((c) => c.reusedFrom === first), 'the second run reused every checkpoint of the first');
    // The second run's retention trimmed the first (the older of two kept), removing nothing: the second points at all of it.
    assert.equal((await e.store.getRun(first))?.collected?.scope, 'checkpoints');
    await rerun(e.deps, first, { mode: 'merge' });
    const merged = await settle(e, first);
    assert.equal(merged.state, 'succeeded', merged.error);
    assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', first, '_manifest.json'))).problems, []);

    // A full extract: its retention removes the first run and trims the second, whose checkpoints (the first's files) go with it.
    await runOnce(e, { reuse: false });
    assert.equal((await e.store.getRun(second))?.collected?.scope, 'checkpoints');
    assert.equal(await e.staging.size(reused[0]!.files[0]!), undefined, 'the second run\'s checkpoint files are gone');
    await assert.rejects(rerun(e.deps, second, { mode: 'merge' }), new RegExp(`run ${second} has ${reused.length} feature\\(s\\) without a checkpoint; ${reused.length} feature\\(s\\)' checkpoints were removed by retention .*: rerun with mode "missing" first \\(bqx rerun --missing\\)`));
    await assert.rejects(rerun(e.deps, second, { mode: 'features', features: [reused[0]!.feature] }), /not named.*rerun with mode "missing" first/);
    assert.equal((await e.store.getRun(second))?.state, 'succeeded', 'a refused rerun changes nothing');
    const { features } = await rerun(e.deps, second, { mode: 'missing' });
    assert.deepEqual([...features].sort(), reused.map((c) => c.feature).sort());
    const rebuilt = await settle(e, second);
    assert.equal(rebuilt.state, 'succeeded', rebuilt.error);
    assert.ok((await e.store.listCheckpoints(second)).every((c) => c.reusedFrom === undefined), 'extracted again, each into the run\'s own folder');
    assert.deepEqual((await verifyManifest(path.join(home, 'output', 'training', 'eurusd', second, '_manifest.json'))).problems, []);
  });

  it('bqx gc --keep 1 leaves the latest dataset verifiable, never touches an active run, and says what it did', async () => {
    e = await openTest(testConfig(home, { BQX_KEEP: '10' }));
    await buildMiniWarehouse(e.warehouse);
    const runs = [await runOnce(e), await runOnce(e), await runOnce(e)];
    // An active run (one that went back to extracting, as `bqx rerun` does).
    const { run: active } = await startRun(e.deps, { pair: 'eurusd' });
    await e.bus.idle();
    await e.store.updateRun(active.runId, (r) => ({ ...r, state: 'extracting' }));
    const activeOutput = (await e.output.list(`training/eurusd/${active.runId}/`)).map((o) => o.name);
    const activeFiles = (await e.staging.list(`runs/${active.runId}/`)).map((o) => o.name);
    await e.close();

    const env = { ...process.env, BQX_HOME: home };
    // --dry-run first: what would go, and nothing gone.
    const before = [...files(home)];
    const dry = spawnSync(process.execPath, [BQX, 'gc', '--keep', '1', '--dry-run', '--json'], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(dry.status, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout);
    assert.equal(planned.dryRun, true);
    const dryText = spawnSync(process.execPath, [BQX, 'gc', '--keep', '1', '--dry-run'], { env, encoding: 'utf8', timeout: 120_000 });
    assert.match(dryText.stdout, /^eurusd: kept 1 dataset\(s\) \(newest .*\); would remove 2 older run\(s\), .* \(--dry-run: nothing removed\)$/m);
    assert.deepEqual([...files(home)].filter(([f]) => !f.startsWith('logs')), before.filter(([f]) => !f.startsWith('logs')), 'no file removed or changed');
    const gc = spawnSync(process.execPath, [BQX, 'gc', '--keep', '1', '--json'], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(gc.status, 0, gc.stderr);
    const report = JSON.parse(gc.stdout);
    assert.equal(report.keep, 1);
    assert.equal(report.dryRun, undefined);
    // What the dry run said is what went.
    const pick = (r: { pairs: { pair: string; kept: string[]; removed: string[]; trimmed: string[]; objects: number; bytes: number }[] }) => r.pairs.map(({ pair, kept, removed, trimmed, objects, bytes }) => ({ pair, kept, removed, trimmed, objects, bytes }));
    assert.deepEqual(pick(planned), pick(report));
    assert.ok(report.pairs[0].objects > 0);
    assert.deepEqual(report.pairs.map((p: { pair: string; kept: string[]; removed: string[] }) => [p.pair, p.kept, p.removed]), [['eurusd', [runs[2]], [runs[0], runs[1]]]]);
    const latest = path.join(home, 'output', 'training', 'eurusd', runs[2]!, '_manifest.json');
    const verify = spawnSync(process.execPath, [BQX, 'verify', latest], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^ok: 120 rows/);
    assert.deepEqual(readdirSync(path.join(home, 'output', 'training', 'eurusd')).sort(), [runs[2], active.runId].sort());
    // A removed run's record stays: status says its dataset went; report, verify and view refuse it alike, in one line.
    const gone = spawnSync(process.execPath, [BQX, 'status', runs[0]!, '--json'], { env, encoding: 'utf8', timeout: 120_000 });
    const removed = JSON.parse(gone.stdout);
    assert.equal(removed.output.manifest, null);
    assert.match(removed.removed, /^\d{4}-\d\d-\d\dT/);
    assert.match(spawnSync(process.execPath, [BQX, 'status', runs[0]!], { env, encoding: 'utf8', timeout: 120_000 }).stdout, /manifest +- \(the dataset was removed by retention at /);
    for (const command of [['report', runs[0]!], ['verify', runs[0]!], ['view', runs[0]!, '--name', 'v']]) {
      const r = spawnSync(process.execPath, [BQX, ...command], { env, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 2, command.join(' '));
      assert.equal(r.stderr, `bqx: run ${runs[0]}'s dataset was removed by retention at ${removed.removed} (bqx gc, or after a later run's success)\n`, command.join(' '));
    }
    const text = spawnSync(process.execPath, [BQX, 'gc', 'eurusd', 'gbpusd'], { env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^eurusd: kept 1 dataset\(s\) \(newest .*\); removed 0 older run\(s\)/);
    assert.match(text.stdout, /\ngbpusd: no succeeded dataset yet; removed 0 older run\(s\), checkpoints of 0 kept one\(s\): 0 object\(s\), 0 KB\n$/, 'a pair named is answered for');
    e = await openTest(testConfig(home));
    assert.deepEqual((await e.staging.list(`runs/${active.runId}/`)).map((o) => o.name), activeFiles, 'the active run is untouched');
    assert.deepEqual((await e.output.list(`training/eurusd/${active.runId}/`)).map((o) => o.name), activeOutput);
    assert.ok(activeFiles.length > 10 && activeOutput.length >= 3);
  });
});
