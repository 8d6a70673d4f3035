// An earlier dataset whose files were damaged after it was written (a file truncated by hand, a
// disk fault): a later run over the same window, or a refresh of it, used to share the damaged shard
// by reference, fail its own verification, and point at `bqx rerun --merge`, which shared it again
// and failed the same way, run after run. Now the start checks the earlier files' sizes against the
// bytes their dataset recorded and builds every shard again when one is off, saying so; and a rerun
// of a run that shared a file damaged since builds its shards itself.

import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { rerun } from '../../shared/chain/rerun.js';
import { startRun } from '../../shared/chain/startRun.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import type { RunRecord } from '../../shared/ports.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, succeededRun, testConfig } from '../helpers/embedded.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const TABLES = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp', 'mkt_regime_summary', 'agg_gbpjpy'];
const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();

describe('embedded chain: an earlier dataset with damaged files is built again, not shared', function () {
  this.timeout(120_000);
  let e: Embedded;

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('damaged'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day' }));
    await buildMiniWarehouse(e.warehouse);
    // Data versions known for every table, labels too: else nothing is reused or shared.
    await e.warehouse.markChanged(FEATURES, TABLES);
    await e.warehouse.markChanged('bqx_ml_v3_analytics_v2', ['targets_eurusd']);
  });
  afterEach(async () => {
    await e.close();
  });

  /** Truncates the first file of the dataset's first shard and group to 10 bytes; its recorded size. */
  const damage = async (run: RunRecord): Promise<number> => {
    const m = JSON.parse(Buffer.from(await e.output.read(run.output!.manifest)).toString('utf8')) as { shards: { groups: { objects: string[]; bytes: number }[] }[] };
    const group = m.shards[0]!.groups[0]!;
    assert.equal(group.objects.length, 1);
    truncateSync(e.output.uri(group.objects[0]!), 10);
    return group.bytes;
  };
  const verified = async (run: RunRecord) => (await verifyManifest(e.output.uri(run.output!.manifest))).ok;

  it('a run over the same window builds every shard from its reused checkpoints, says why, and gives the same rows', async () => {
    const first = await succeededRun(e);
    const rows = await readOutput(e, first.output!.manifest);
    const again = await succeededRun(e);
    assert.equal(again.sharing?.from, first.runId, 'with the files intact, the shards are shared');
    const recorded = await damage(again);
    assert.equal(await verified(again), false);
    const rebuilt = await succeededRun(e);
    assert.equal(rebuilt.sharing, undefined, 'nothing shared from the damaged dataset');
    assert.equal(rebuilt.reuse?.extracted, 0, 'the checkpoints are sound: every one reused');
    const said = new RegExp(`^${again.runId}'s files are damaged \\(shard 20210301 group 0: its files hold 10 bytes, the dataset recorded ${recorded}\\): this run built its shards again instead of sharing them \\(bqx verify ${again.runId}\\)$`);
    assert.match(rebuilt.warnings[0]!, said);
    const manifest = JSON.parse(Buffer.from(await e.output.read(rebuilt.output!.manifest)).toString('utf8')) as { warnings: string[] };
    assert.match(manifest.warnings[0]!, said);
    assert.ok(await verified(rebuilt));
    assert.deepEqual(await readOutput(e, rebuilt.output!.manifest), rows);
  });

  it('a refresh of a damaged version rebuilds every shard instead of growing the last by a part, equal to a full build', async () => {
    const first = await succeededRun(e, { end: minute(60) });
    await damage(first);
    const refreshed = await succeededRun(e, { refresh: true });
    assert.equal(refreshed.refresh?.from, first.runId);
    assert.equal(refreshed.refresh?.sharedShards, 0);
    assert.equal(refreshed.refresh?.shards?.grown, undefined, 'no part grown on the damaged files');
    assert.match(refreshed.refresh?.shards?.why ?? '', /^the previous version's files are damaged \(shard 20210301 group 0: its files hold 10 bytes/);
    assert.equal(refreshed.sharing, undefined);
    assert.match(refreshed.warnings[0]!, new RegExp(`^${first.runId}'s files are damaged`));
    const full = await succeededRun(e, { reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.ok(await verified(refreshed));
    assert.deepEqual(await readOutput(e, refreshed.output!.manifest), await readOutput(e, full.output!.manifest));
  });

  it('a run that builds only some column groups is not shared from when a group it would share is damaged; a damaged group it builds does not stop the sharing', async () => {
    // The key-only profile: the column profile of 320 columns, six times, is not what this test is about.
    await e.close();
    e = await openTest(testConfig(tempDir('damaged'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day', BQX_PROFILE: 'keys' }));
    await buildMiniWarehouse(e.warehouse);
    await e.warehouse.markChanged(FEATURES, TABLES);
    await e.warehouse.markChanged('bqx_ml_v3_analytics_v2', ['targets_eurusd']);
    // A table wider than a group (300 columns here): the narrow tables and labels in group 0, it in groups 1 and 2.
    const cols = Array.from({ length: 320 }, (_, k) => `i::DOUBLE + ${k} AS c${k}`).join(', ');
    await e.warehouse.execute(`CREATE TABLE ${FEATURES}.var_wide_eurusd AS SELECT interval_time, ${cols} FROM (SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(0, 120) r(i))`);
    await e.warehouse.markChanged(FEATURES, ['var_wide_eurusd']);
    const touch = async () => {
      await e.warehouse.execute(`UPDATE ${FEATURES}.mkt_regime SET r = coalesce(r, 0) + 1`);
      await e.warehouse.markChanged(FEATURES, ['mkt_regime']);
      return succeededRun(e);
    };
    const first = await succeededRun(e);
    const second = await touch();
    const built = second.sharing?.groups ?? [];
    const m = JSON.parse(Buffer.from(await e.output.read(second.output!.manifest)).toString('utf8')) as { shards: { groups: { index: number; objects: string[] }[] }[] };
    const groups = m.shards[0]!.groups;
    assert.ok(built.length > 0 && built.length < groups.length, `some groups built: ${built.join(',')} of ${groups.length}`);
    // A file of a group the next touch builds again: a copy source only, the sharing stands.
    truncateSync(e.output.uri(groups.find((g) => built.includes(g.index))!.objects[0]!), 10);
    const third = await touch();
    assert.deepEqual(third.sharing?.groups, built);
    assert.deepEqual(third.warnings.filter((w) => /damaged/.test(w)), []);
    // A file of a group it would share: nothing is shared.
    const m3 = JSON.parse(Buffer.from(await e.output.read(third.output!.manifest)).toString('utf8')) as typeof m;
    truncateSync(e.output.uri(m3.shards[0]!.groups.find((g) => !built.includes(g.index))!.objects[0]!), 10);
    const fourth = await touch();
    assert.equal(fourth.sharing, undefined);
    assert.match(fourth.warnings[0]!, new RegExp(`^${third.runId}'s files are damaged`));
    const full = await succeededRun(e, { reuse: false });
    assert.ok(await verified(fourth));
    assert.deepEqual(await readOutput(e, fourth.output!.manifest), await readOutput(e, full.output!.manifest));
    assert.ok(first.runId);
  });

  it('a run whose shared file was damaged before its merge fails verification; `rerun --merge` then builds the shards itself', async () => {
    const first = await succeededRun(e);
    const rows = await readOutput(e, first.output!.manifest);
    let damaged = false;
    e.bus.interceptDeliveries(async (_subscription, message, deliver) => {
      if (message.topic === e.deps.config.topics.mergeRequests && !damaged) {
        damaged = true;
        await damage(first);
      }
      await deliver();
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    assert.equal(started.sharing?.from, first.runId, 'the files were intact at the start');
    const failed = await settle(e, started.runId);
    assert.ok(damaged);
    assert.equal(failed.state, 'failed');
    assert.match(failed.error ?? '', /^output verification failed: shared shard 20210301 group 0 files hold 10 bytes/);
    await rerun(e.deps, failed.runId, { mode: 'merge' });
    const done = await settle(e, failed.runId);
    assert.equal(done.state, 'succeeded', done.error);
    assert.equal(done.sharing, undefined);
    assert.ok(await verified(done));
    assert.deepEqual(await readOutput(e, done.output!.manifest), rows);
  });
});
