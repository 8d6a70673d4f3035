// A small hand-made warehouse for focused tests: a few feature tables under the default rules,
// with a late starter, duplicate keys, nulls and rows outside the label range.

import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { embeddedPaths } from '../../shared/runtime/embedded.js';

export const MINI_ROWS = 120;

export async function buildMiniWarehouse(w: DuckDbWarehouse): Promise<void> {
  const keys = (from: number, to: number) =>
    `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;
  await w.execute('CREATE SCHEMA IF NOT EXISTS bqx_ml_v3_features_v2');
  await w.execute('CREATE SCHEMA IF NOT EXISTS bqx_ml_v3_analytics_v2');
  await w.execute(`CREATE TABLE bqx_ml_v3_analytics_v2.targets_eurusd AS SELECT interval_time, i * 1.0 AS target_bqx45_h15, CASE WHEN i % 10 = 0 THEN NULL ELSE -i END AS target_bqx90_h30 FROM (${keys(0, MINI_ROWS)})`);
  // Rows outside the label range on both sides, a pair column to drop.
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.agg_eurusd AS SELECT interval_time, 'eurusd' AS pair, i * 10.0 AS a, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 100.0 END AS b FROM (${keys(-30, MINI_ROWS + 30)})`);
  // Starts late: only the last half of the range.
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.tri_agg_eur_usd_gbp AS SELECT interval_time, i + 0.5 AS x FROM (${keys(MINI_ROWS / 2, MINI_ROWS)})`);
  // Duplicate keys with different values: the first by all columns is kept (x ascending).
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.csi_mom_bqx_usd AS SELECT interval_time, i * 1.0 AS x FROM (${keys(0, MINI_ROWS)}) UNION ALL SELECT interval_time, i * 1.0 + 1000 AS x FROM (${keys(0, MINI_ROWS)}) WHERE i % 4 = 0`);
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.mkt_regime AS SELECT interval_time, CAST(NULL AS DOUBLE) AS r FROM (${keys(0, MINI_ROWS)})`);
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.mkt_regime_summary AS SELECT interval_time, 1.0 AS s FROM (${keys(0, 5)})`);
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.cov_agg_eurusd_gbpusd AS SELECT interval_time, 'eurusd' AS pair1, 'gbpusd' AS pair2, i * 2.0 AS c FROM (${keys(0, MINI_ROWS)})`);
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.agg_gbpjpy AS SELECT interval_time, 1.0 AS a FROM (${keys(0, MINI_ROWS)})`);
}

/** The embedded warehouse of a BQX_HOME (staging as its store), as `bqx` opens it; close it after. */
export async function openHomeWarehouse(home: string): Promise<DuckDbWarehouse> {
  const where = embeddedPaths(home);
  const store = new FolderObjectStore(where.staging);
  return DuckDbWarehouse.open(where.warehouse, store, store, { memoryMb: 256 });
}
