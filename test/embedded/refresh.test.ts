// `--refresh` on the embedded runtime, at small size with day shards so several shards exist:
// after minutes are appended (and an old label tail filled in, and a column added), a refresh
// follows the last succeeded version (same start, the labels' new end), reports the schema drift,
// and its output is identical, cell for cell and in row order, to a --no-reuse full build of the
// same window.

import assert from 'node:assert/strict';
import { startRun } from '../../shared/chain/startRun.js';
import { decodeRunRequest, type RunRequest } from '../../shared/chain/messages.js';
import type { RunRecord } from '../../shared/ports.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { summarise } from '../../shared/cli/summary.js';
import { openTest, settle, testConfig } from '../helpers/embedded.js';
import { buildMiniWarehouse } from '../helpers/miniWarehouse.js';
import { readOutput } from '../helpers/readOutput.js';
import { tempDir } from '../helpers/temp.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const LABELS = 'bqx_ml_v3_analytics_v2';
const SELECTED = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp'];
const NEW_END = 1500; // minutes from 2021-03-01 00:00: into the next day, so two day shards

/** Appends minutes [from, NEW_END) to the label table and the pair's feature tables, as the demo's --append does. */
async function appendMinutes(e: Embedded, from: number): Promise<void> {
  const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${NEW_END}) r(i)`;
  await e.warehouse.execute(`INSERT INTO ${LABELS}.targets_eurusd SELECT interval_time, i * 1.0, CASE WHEN i % 10 = 0 THEN NULL ELSE -i END FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${FEATURES}.agg_eurusd SELECT interval_time, 'eurusd', i * 10.0, i * 100.0 FROM (${keys}) WHERE i >= 150`);
  await e.warehouse.execute(`INSERT INTO ${FEATURES}.tri_agg_eur_usd_gbp SELECT interval_time, i + 0.5 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${FEATURES}.csi_mom_bqx_usd SELECT interval_time, i * 1.0 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${FEATURES}.mkt_regime SELECT interval_time, i * 0.25 FROM (${keys})`);
  await e.warehouse.execute(`INSERT INTO ${FEATURES}.cov_agg_eurusd_gbpusd SELECT interval_time, 'eurusd', 'gbpusd', i * 2.0 FROM (${keys})`);
}

describe('embedded chain: --refresh', function () {
  this.timeout(180_000);
  let e: Embedded;

  const run = async (request: Partial<RunRequest> = {}): Promise<RunRecord> => {
    const { run: started } = await startRun(e.deps, { pair: 'eurusd', ...request });
    const done = await settle(e, started.runId);
    assert.equal(done.state, 'succeeded', done.error);
    return done;
  };

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('refresh'), { BQX_MAX_GROUP_COLUMNS: '300', BQX_SHARD: 'day' }));
    await buildMiniWarehouse(e.warehouse);
    await e.warehouse.markChanged(FEATURES, [...SELECTED, 'mkt_regime_summary', 'agg_gbpjpy']);
  });
  afterEach(async () => {
    await e.close();
  });

  it('is refused while the pair has no succeeded version', async () => {
    await assert.rejects(startRun(e.deps, { pair: 'eurusd', refresh: true }), /no succeeded run to refresh from/);
  });

  it('decodes refresh on a run request and refuses a non-boolean', () => {
    assert.deepEqual(decodeRunRequest('{"pair": "eurusd", "refresh": true}', ['eur', 'usd']), { pair: 'eurusd', refresh: true });
    assert.throws(() => decodeRunRequest('{"pair": "eurusd", "refresh": "yes"}', ['eur', 'usd']), /refresh must be true or false/);
  });

  it('after an append, a filled-in label tail and an added column: follows the last version, reports the drift, equals a --no-reuse full build', async () => {
    const first = await run();
    assert.equal(first.labelRows, 120);
    await appendMinutes(e, 120);
    // Labels look ahead: rows near the previous end can change after the fact (nulls that now have values).
    await e.warehouse.execute(`UPDATE ${LABELS}.targets_eurusd SET target_bqx90_h30 = 7.0 WHERE target_bqx90_h30 IS NULL AND interval_time >= TIMESTAMPTZ '2021-03-01 01:00:00+00'`);
    await e.warehouse.execute(`ALTER TABLE ${FEATURES}.cov_agg_eurusd_gbpusd ADD COLUMN d DOUBLE DEFAULT 1.5`);
    await e.warehouse.markChanged(FEATURES, SELECTED);
    await e.warehouse.markChanged(LABELS, ['targets_eurusd']);

    const refreshed = await run({ refresh: true });
    assert.equal(refreshed.window.start, first.window.start, 'keeps the previous version\'s start');
    assert.equal(refreshed.window.end, '2021-03-02T01:00:00.000Z', 'extended to the label table\'s new end');
    assert.equal(refreshed.labelRows, NEW_END, 'rows grown by the appended label rows');
    assert.equal(refreshed.refresh?.from, first.runId);
    assert.deepEqual(refreshed.refresh?.drift, { tablesAdded: [], tablesRemoved: [], columnsAdded: ['cov_agg_eurusd_gbpusd.d'], columnsRemoved: [], typesChanged: [] });
    assert.equal(refreshed.refresh?.rebuiltShards, 2);
    const summary = summarise(refreshed, refreshed.expected, null);
    assert.equal(summary.refresh?.from, first.runId);
    const report = JSON.parse(Buffer.from(await e.output.read(refreshed.output!.report)).toString('utf8'));
    assert.deepEqual(report.drift.columnsAdded, ['cov_agg_eurusd_gbpusd.d']);

    const full = await run({ reuse: false, start: refreshed.window.start, end: refreshed.window.end });
    assert.equal(full.refresh, undefined);
    const [a, b] = await Promise.all([readOutput(e, refreshed.output!.manifest), readOutput(e, full.output!.manifest)]);
    assert.equal(a.length, NEW_END);
    assert.equal(refreshed.output!.columns, first.output!.columns + 1, 'the added column is in the refreshed version');
    assert.deepEqual(a, b, 'the refresh equals a --no-reuse full build, cell for cell, in row order');
    // The filled-in label tail is in the refreshed version.
    assert.equal(a.filter((r) => r.interval_time instanceof Date && r.interval_time < new Date('2021-03-01T02:00:00Z') && r.target_bqx90_h30 === 7n).length, 6);
  });
});
