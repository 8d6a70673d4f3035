import assert from 'node:assert/strict';
import { nameHasPair, selectTables } from '../../shared/catalog.js';
import { loadConfig } from '../../shared/config.js';
import { demoTables } from '../../shared/demo/names.js';
import { allPairs } from '../../shared/naming.js';

const config = loadConfig({});
const pairs = allPairs(config.currencies);
// A catalog of every pair's tables plus the shared ones and a few that belong to no pair.
const catalog = [...demoTables(pairs).map((t) => t.table), 'audit_log', 'tmp_scratch', 'regimes_eurusdx'];

describe('table selection rules', () => {
  it('finds 667 tables for every pair in a catalog of all 28 pairs', () => {
    assert.ok(catalog.length > 5000, `catalog has ${catalog.length} tables`);
    for (const pair of pairs) {
      const selected = selectTables(catalog, pair, config.tableRules);
      assert.equal(selected.length, 667, pair);
    }
  });

  it('splits eurusd into the five rules of DATA.md', () => {
    const selected = selectTables(catalog, 'eurusd', config.tableRules);
    const count = (p: (t: string) => boolean) => selected.filter(p).length;
    assert.equal(count((t) => t.startsWith('tri_')), 194);
    assert.equal(count((t) => t.startsWith('mkt_')), 10);
    assert.equal(count((t) => t.startsWith('var_')), 63);
    assert.equal(count((t) => t.startsWith('csi_')), 144);
    assert.equal(count((t) => nameHasPair(t, 'eurusd')), 256);
    assert.ok(!selected.includes('mkt_vol_summary'), 'summary tables are excluded');
    assert.ok(selected.includes('cov_agg_eurusd_gbpusd') && selected.includes('corr_bqx_ibkr_eurusd_ewa'));
    assert.ok(!selected.some((t) => nameHasPair(t, 'gbpjpy') && !nameHasPair(t, 'eurusd')), 'no table of another pair alone');
    assert.deepEqual(selected, [...selected].sort(), 'sorted by name');
  });

  it('matches the pair only as a whole name token', () => {
    assert.ok(nameHasPair('lag_eurusd_45', 'eurusd'));
    assert.ok(!nameHasPair('lag_xeurusd_45', 'eurusd'));
    assert.ok(!nameHasPair('lag_eurusdx', 'eurusd'));
  });

  it('follows configured rules: globs, {pair} inside a glob, and exclusions', () => {
    const tables = ['a_eurusd', 'b_eurusd_x', 'tri_1', 'keep_me', 'keep_me_not'];
    assert.deepEqual(selectTables(tables, 'eurusd', ['b_{pair}_*', 'keep_*', '!*_not']), ['b_eurusd_x', 'keep_me']);
  });
});
