// The demo is the same on every build (shared/demo/draws.ts): two builds of one size hold the same
// values cell for cell, in the column series (over LIST_MAX_ROWS keys) and the list series (up to
// it) alike, while no two tables draw the same noise; a touch moves the same table alike too.

import assert from 'node:assert/strict';
import { buildDemoWarehouse } from '../../shared/demo/generate.js';
import { touchTables } from '../../shared/demo/change.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, testConfig } from '../helpers/embedded.js';
import type { Config } from '../../shared/config.js';
import { tempDir } from '../helpers/temp.js';

const TABLES = ['agg_eurusd', 'mom_eurusd', 'reg_eurusd'];

describe('embedded: the demo is the same on every build', function () {
  this.timeout(120_000);
  const opened: Embedded[] = [];
  const c: Config = testConfig(tempDir('demo-draws-config'));
  after(async () => {
    for (const e of opened) await e.close();
  });

  /** A narrow demo of `rows` rows in a fresh home. */
  async function build(rows: number): Promise<Embedded> {
    const e = await openTest(testConfig(tempDir('demo-draws')));
    opened.push(e);
    await buildDemoWarehouse(e.warehouse, { pairs: ['eurusd'], rows, featuresDataset: c.featuresDataset, labelsDataset: c.labelsDataset, labelTablePrefix: c.labelTablePrefix, only: (t) => TABLES.includes(t) });
    return e;
  }

  /** Every value of a table, in key order, as one digest, and its share of null cells. */
  async function digest(e: Embedded, dataset: string, table: string): Promise<{ md5: string; nulls: number }> {
    const [row] = await e.warehouse.query(
      `SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY interval_time)) AS md5 FROM ${dataset}.${table} t`,
    );
    const [n] = await e.warehouse.query(`SELECT avg(CASE WHEN COLUMNS(* EXCLUDE (interval_time)) IS NULL THEN 1 ELSE 0 END) AS share FROM ${dataset}.${table}`);
    return { md5: String(row!.md5), nulls: Number(n!.share) };
  }

  for (const rows of [300, 6000]) {
    it(`two builds of ${rows.toLocaleString('en-US')} rows hold the same values; tables differ`, async () => {
      const [a, b] = [await build(rows), await build(rows)];
      const { featuresDataset: fds, labelsDataset: lds } = c;
      for (const table of TABLES) assert.deepEqual(await digest(a, fds, table), await digest(b, fds, table), table);
      assert.deepEqual(await digest(a, lds, 'targets_eurusd'), await digest(b, lds, 'targets_eurusd'));
      const digests = await Promise.all(TABLES.map((t) => digest(a, fds, t)));
      assert.equal(new Set(digests.map((d) => d.md5)).size, TABLES.length, 'each table its own values');
      // About 2 % of the cells are null, as random draws made them.
      const [first] = await a.warehouse.query(`SELECT count(*) FILTER (WHERE target_bqx45_h15 IS NULL)::DOUBLE / count(*) AS share FROM ${lds}.targets_eurusd WHERE interval_time < (SELECT max(interval_time) FROM ${lds}.targets_eurusd) - INTERVAL 2880 MINUTE`);
      if (rows > 3000) assert.ok(Math.abs(Number(first!.share) - 0.02) < 0.01, `label nulls ${first!.share}`);
      // A touch moves the same table alike in both homes.
      for (const e of [a, b]) await touchTables(e.warehouse, c, ['mom_eurusd']);
      assert.deepEqual(await digest(a, fds, 'mom_eurusd'), await digest(b, fds, 'mom_eurusd'));
      assert.notEqual((await digest(a, fds, 'mom_eurusd')).md5, digests[1]!.md5, 'the touch changed its values');
    });
  }
});
