// Focused chain tests on a small hand-made warehouse: one window for every feature,
// deduplication, dropped metadata, and a corrupt checkpoint.

import assert from 'node:assert/strict';
import {promises as fs} from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { InProcessBus } from '../../shared/adapters/local/bus.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import { startRun } from '../../shared/chain/startRun.js';
import { InputError } from '../../shared/naming.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, testConfig } from '../helpers/embedded.js';
import { MINI_ROWS, buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

describe('embedded chain, small warehouse', function () {
  this.timeout(120_000);
  const sandbox = sinon.createSandbox();
  let e: Embedded;
  beforeEach(async () => {
    const home = tempDir('mini');
    e = await openTest(testConfig(home, { BQX_MAX_GROUP_COLUMNS: '300' }));
    await buildMiniWarehouse(e.warehouse);
  });
  afterEach(async () => {
    sandbox.restore();
    await e.close();
  });

  it('extracts every feature for one and the same window, and the output has the window\'s label rows', async () => {
    const start = '2021-03-01T00:20:00Z';
    const end = '2021-03-01T01:30:00Z'; // keys 20 .. 89
    const { run: started } = await startRun(e.deps, { pair: 'eurusd', start: new Date(start).toISOString(), end: new Date(end).toISOString() });
    assert.equal(started.expected, 5, 'agg, tri, csi, mkt_regime, cov: not the summary, not gbpjpy');
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    assert.equal(run.labelRows, 70);
    const checkpoints = await e.store.listCheckpoints(run.runId);
    for (const c of checkpoints) {
      assert.ok(c.minKey! >= run.window.start && c.maxKey! < run.window.end, `${c.feature}: ${c.minKey}..${c.maxKey}`);
      const marker = JSON.parse(Buffer.from(await e.staging.read(`runs/${run.runId}/features/${c.feature}/_SUCCESS.json`)).toString('utf8'));
      assert.deepEqual(marker.window, run.window);
    }
    const rows = await readOutput(e, run.output!.manifest);
    assert.equal(rows.length, 70);
    const first = rows[0]!;
    assert.equal((first.interval_time as Date).toISOString(), '2021-03-01T00:20:00.000Z');
    // Values line up by key: agg a = i * 10, late tri x = i + 0.5 from i = 60, null before.
    rows.forEach((r, n) => {
      const i = 20 + n;
      assert.equal(r.agg_a, i * 10);
      assert.equal(r.agg_b, i % 7 === 0 ? null : i * 100);
      assert.equal(r.tri_agg_eur_usd_gbp_x, i >= 60 ? i + 0.5 : null);
      assert.equal(r.target_bqx45_h15, i);
      assert.equal(r.cov_agg_gbpusd_c, i * 2);
    });
    assert.ok(!Object.keys(first).some((k) => /pair/.test(k)), 'metadata columns dropped');
  });

  it('narrows a window asked wider than the label rows to them: a later default run is the same window, reusing every checkpoint and sharing the shards', async () => {
    await e.warehouse.markChanged('bqx_ml_v3_features_v2', ['agg_eurusd', 'tri_agg_eur_usd_gbp', 'csi_mom_bqx_usd', 'mkt_regime', 'cov_agg_eurusd_gbpusd']);
    await e.warehouse.markChanged('bqx_ml_v3_analytics_v2', ['targets_eurusd']);
    const { run: started } = await startRun(e.deps, { pair: 'eurusd', start: '2021-01-01T00:00:00.000Z', end: '2030-01-01T00:00:00.000Z' });
    const wide = await settle(e, started.runId);
    assert.equal(wide.state, 'succeeded', wide.error);
    const labels = { start: '2021-03-01T00:00:00.000Z', end: new Date(Date.UTC(2021, 2, 1) + MINI_ROWS * 60_000).toISOString() };
    assert.deepEqual(wide.window, labels);
    assert.equal(wide.labelRows, MINI_ROWS);
    const { run: next } = await startRun(e.deps, { pair: 'eurusd' });
    const again = await settle(e, next.runId);
    assert.deepEqual(again.window, labels);
    assert.equal(again.reuse?.extracted, 0);
    assert.equal(again.sharing?.from, wide.runId);
    // Inside the labels' range, a window stays as asked.
    const { run: inner } = await startRun(e.deps, { pair: 'eurusd', start: '2021-03-01T00:20:00.000Z', end: '2021-03-01T01:30:00.000Z' });
    assert.deepEqual(inner.window, { start: '2021-03-01T00:20:00.000Z', end: '2021-03-01T01:30:00.000Z' });
    await settle(e, inner.runId);
  });

  it('keeps the first row by value for each duplicate key and reports how many were removed', async () => {
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    const csi = (await e.store.listCheckpoints(run.runId)).find((c) => c.feature === 'csi_mom_bqx_usd')!;
    assert.equal(csi.duplicates, MINI_ROWS / 4);
    assert.equal(csi.rows, MINI_ROWS);
    const rows = await readOutput(e, run.output!.manifest);
    rows.forEach((r, i) => assert.equal(r.csi_mom_bqx_usd_x, i, 'the smaller duplicate is kept'));
    assert.ok(run.warnings.some((w) => /mkt_regime/.test(w) && /entirely null/.test(w)));
    assert.ok(run.warnings.some((w) => /tri_agg_eur_usd_gbp \(50\.0%/.test(w)));
    const report = JSON.parse(Buffer.from(await e.output.read(run.output!.report)).toString('utf8'));
    assert.equal(report.features.find((f: { feature: string }) => f.feature === 'agg_eurusd').sourceRows, MINI_ROWS);
  });

  it('fails the run, naming the feature, when a checkpoint is corrupt; writes no output', async () => {
    const extract = e.warehouse.extract.bind(e.warehouse);
    sandbox.stub(e.warehouse, 'extract').callsFake(async (job) => {
      const result = await extract(job);
      if (job.feature === 'mkt_regime' && result.state === 'done') await e.staging.write(result.files[0]!, 'this is not parquet, just text long enough');
      return result;
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'failed');
    assert.match(run.error!, /^checkpoint of mkt_regime is invalid: file runs\/.*\/part-00000\.parquet is not readable parquet/);
    assert.deepEqual(await e.output.list('training/'), []);
    const event = JSON.parse(e.bus.published.get(e.deps.config.topics.runEvents)![0]!.data);
    assert.equal(event.status, 'failed');
    assert.equal(event.error, run.error);
    // The pair is free again.
    assert.equal(await e.store.activeRun('eurusd'), undefined);
  });

  it('refuses a pair with no label table, and a window with no label rows, before creating anything', async () => {
    await assert.rejects(startRun(e.deps, { pair: 'gbpjpy' }), (err: unknown) => err instanceof InputError && /label table bqx_ml_v3_analytics_v2\.targets_gbpjpy not found/.test(err.message));
    await assert.rejects(startRun(e.deps, { pair: 'eurusd', start: '2030-01-01T00:00:00.000Z', end: '2030-01-02T00:00:00.000Z' }), /has no rows in/);
    assert.deepEqual(await e.staging.list('runs/'), []);
    assert.equal(await e.store.activeRun('eurusd'), undefined);
  });

  it('does not redo a checkpoint that is already complete, and re-sends its marker instead', async () => {
    const quiet = { ...e.deps, bus: new InProcessBus() }; // no subscribers: nothing runs by itself
    const { run } = await startRun(quiet, { pair: 'eurusd' });
    const extract = sandbox.spy(e.warehouse, 'extract');
    const finalized: string[] = [];
    e.staging.onFinalize((o) => finalized.push(o.name));
    const request = { runId: run.runId, pair: 'eurusd', feature: 'agg_eurusd' };
    assert.equal(await extractFeature(quiet, request), 'extracted');
    assert.equal(await extractFeature(quiet, request), 'already-complete');
    assert.equal(extract.callCount, 1);
    const marker = `runs/${run.runId}/features/agg_eurusd/_SUCCESS.json`;
    assert.equal(finalized.filter((n) => n === marker).length, 2, 'the marker was written again');
  });

  it('lands a checkpoint uploaded by hand (checkpoint.parquet) and completes the run', async () => {
    // The warehouse cannot extract mkt_regime: an operator uploads the checkpoint by hand.
    const extract = e.warehouse.extract.bind(e.warehouse);
    sandbox.stub(e.warehouse, 'extract').callsFake(async (job) => {
      if (job.feature === 'mkt_regime') throw new InputError('table mkt_regime is not readable here');
      return extract(job);
    });
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    await e.bus.idle();
    assert.equal((await e.store.getRun(started.runId))!.state, 'extracting');
    assert.equal(await e.store.countCheckpoints(started.runId), 4);
    const file = path.join(tempDir('hand'), 'checkpoint.parquet');
    await e.warehouse.execute(
      `COPY (SELECT interval_time, r FROM bqx_ml_v3_features_v2.mkt_regime WHERE interval_time >= $1::TIMESTAMPTZ AND interval_time < $2::TIMESTAMPTZ ORDER BY 1) TO '${file}' (FORMAT parquet)`,
      [started.window.start, started.window.end],
    );
    await e.staging.write(`runs/${started.runId}/features/mkt_regime/checkpoint.parquet`, await fs.readFile(file));
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    const landed = (await e.store.listCheckpoints(run.runId)).find((c) => c.feature === 'mkt_regime')!;
    assert.deepEqual(landed.files, [`runs/${run.runId}/features/mkt_regime/checkpoint.parquet`]);
    assert.equal(landed.rows, MINI_ROWS);
  });
});
