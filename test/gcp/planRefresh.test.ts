// `bqx plan --refresh`: the statements a refresh would send to BigQuery. Over a window of three day
// shards whose previous version ended inside the second day, every extract and count reads only
// [previous end, end), the merge's keys read from the start of the shard holding the previous
// end, and each export writes one of the two shards it builds, sorting no more than that shard.

import assert from 'node:assert/strict';
import path from 'node:path';
import sinon from 'sinon';
import { main } from '../../shared/cli/main.js';
import { loadConfig } from '../../shared/config.js';
import { recordPlan } from '../../shared/plan/recordPlan.js';
import { shardGrid } from '../../shared/shards.js';
import { buildMiniWarehouse, openHomeWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();
const WINDOW = { start: minute(0), end: minute(3000) };
const SINCE = minute(1500);

describe('bqx plan --refresh', function () {
  this.timeout(60_000);
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    home = tempDir('plan-refresh');
    env = { BQX_HOME: home, BQX_SHARD: 'day', BQX_JOIN_BATCH_TABLES: '2' };
    const w = await openHomeWarehouse(home);
    try {
      await buildMiniWarehouse(w);
      const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(120, 3000) r(i)`;
      await w.execute(`INSERT INTO bqx_ml_v3_analytics_v2.targets_eurusd SELECT interval_time, i * 1.0, -i FROM (${keys})`);
      await w.execute(`INSERT INTO bqx_ml_v3_features_v2.mkt_regime SELECT interval_time, i * 0.25 FROM (${keys})`);
    } finally {
      await w.close();
    }
  });

  it('extracts read only the new range; the merge builds only the grown and the new shard, one export per shard', async () => {
    const config = loadConfig(env);
    const w = await openHomeWarehouse(home);
    try {
      const full = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW });
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE } });
      const grid = shardGrid(WINDOW, 'day');
      assert.deepEqual(plan.refresh, { since: SINCE, extractRange: { start: SINCE, end: WINDOW.end }, mergeWindow: { start: grid[1]!.start, end: WINDOW.end }, shards: 2, sharedShards: 1 });
      const reads = plan.statements.filter((s) => s.step === 'extract' || s.step === 'extract_counts');
      assert.equal(reads.length, 2 * plan.manifest.features.length);
      for (const s of reads) assert.deepEqual(s.params, { start: new Date(SINCE), end: new Date(WINDOW.end) }, `${s.step} of ${s.labels.feature}`);
      for (const s of full.statements.filter((x) => x.step === 'extract')) assert.deepEqual(s.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
      const keys = plan.statements.find((s) => s.step === 'keys')!;
      assert.deepEqual(keys.params, { start: new Date(grid[1]!.start), end: new Date(WINDOW.end) }, 'the keys of the shards it builds');
      const exports = plan.statements.filter((s) => s.step === 'export');
      assert.equal(exports.length, 2 * plan.mergePlan.groups.length);
      assert.equal(full.statements.filter((s) => s.step === 'export').length, 3 * full.mergePlan.groups.length);
      for (const s of exports) {
        assert.match(s.sql, /WHERE `k`.`interval_time` >= @start AND `k`.`interval_time` < @end\nORDER BY `k`.`interval_time`$/);
        const shard = grid.find((g) => new Date(g.start).getTime() === (s.params.start as Date).getTime() && new Date(g.end).getTime() === (s.params.end as Date).getTime());
        assert.ok(shard && shard.index > 0, `an export sorts one built shard, got [${String(s.params.start)}, ${String(s.params.end)})`);
      }
    } finally {
      await w.close();
    }
  });

  it('bqx plan --since prints what the refresh reads and builds; --refresh without a version to follow is refused', async () => {
    const dir = path.join(tempDir('plan-refresh-out'), 'sql');
    let stdout = '';
    const out = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    const err = sinon.stub(process.stderr, 'write').callsFake(() => true);
    let codes: number[];
    try {
      codes = [
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--start', WINDOW.start, '--end', WINDOW.end, '--since', SINCE, '--json'], env),
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--refresh'], env),
      ];
    } finally {
      out.restore();
      err.restore();
    }
    assert.deepEqual(codes, [0, 2]);
    const printed = JSON.parse(stdout.trim().split('\n')[0]!);
    assert.deepEqual({ shards: printed.refresh.shards, shared: printed.refresh.sharedShards }, { shards: 2, shared: 1 });
    assert.equal(printed.summary.byKind.export, 2);
  });
});
