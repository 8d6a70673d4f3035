import assert from 'node:assert/strict';
import { CONFIG_DEFAULTS, ConfigError, loadConfig } from '../../shared/config.js';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.runtime, 'embedded');
    assert.deepEqual(c.currencies, ['eur', 'gbp', 'aud', 'nzd', 'usd', 'cad', 'chf', 'jpy']);
    assert.equal(c.featuresDataset, 'bqx_ml_v3_features_v2');
    assert.equal(c.labelsDataset, 'bqx_ml_v3_analytics_v2');
    assert.equal(c.maxGroupColumns, 9900);
    assert.deepEqual(c.tableRules, ['{pair}', 'tri_*', 'mkt_*', 'var_*', 'csi_*', '!mkt_*_summary']);
    assert.equal(c.embedded.home, '.bqx');
    assert.equal(c.embedded.mergeMemoryMb, 2048);
    assert.equal(c.topics.runRequests, CONFIG_DEFAULTS.BQX_TOPIC_RUN_REQUESTS);
    assert.equal(c.shard, 'month');
    assert.equal(c.keep, 3);
    assert.equal(loadConfig({ BQX_SHARD: 'day', BQX_KEEP: '1' }).shard, 'day');
  });

  const bad: [Record<string, string>, string, RegExp][] = [
    [{ BQX_RUNTIME: 'cloud' }, 'BQX_RUNTIME', /"embedded" or "gcp"/],
    [{ BQX_MAX_GROUP_COLUMNS: 'abc' }, 'BQX_MAX_GROUP_COLUMNS', /whole number from 300 to 10000/],
    [{ BQX_MAX_GROUP_COLUMNS: '10001' }, 'BQX_MAX_GROUP_COLUMNS', /whole number/],
    [{ BQX_CURRENCIES: 'eur,usdx' }, 'BQX_CURRENCIES', /"usdx" is not a three-letter/],
    [{ BQX_CURRENCIES: 'eur' }, 'BQX_CURRENCIES', /at least two/],
    [{ BQX_CURRENCIES: 'eur,eur' }, 'BQX_CURRENCIES', /twice/],
    [{ BQX_FEATURES_DATASET: 'a-b; drop' }, 'BQX_FEATURES_DATASET', /dataset name/],
    [{ BQX_TABLE_RULES: '!mkt_*' }, 'BQX_TABLE_RULES', /at least one rule that selects/],
    [{ BQX_TABLE_RULES: "tri_*,x'" }, 'BQX_TABLE_RULES', /is not a table rule/],
    [{ BQX_LOG_LEVEL: 'loud' }, 'BQX_LOG_LEVEL', /debug, info, warn, error/],
    [{ BQX_RUNTIME: 'gcp' }, 'BQX_PROJECT', /is required/],
    [{ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx' }, 'BQX_STAGING_BUCKET', /is required/],
    [{ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'Demo_BQX', BQX_STAGING_BUCKET: 'b-1', BQX_OUTPUT_BUCKET: 'b-2' }, 'BQX_PROJECT', /project id/],
    [{ BQX_SHARD: 'year' }, 'BQX_SHARD', /one of month, week, day/],
    [{ BQX_KEEP: '0' }, 'BQX_KEEP', /whole number from 1 to 1000/],
    [{ BQX_COST_PER_TB_USD: '-1' }, 'BQX_COST_PER_TB_USD', /non-negative number/],
    [{ BQX_KEEPP: '10' }, 'BQX_KEEPP', /is not a bqx setting \(did you mean BQX_KEEP\?\)$/],
    [{ BQX_SHRAD: 'day', BQX_KEEP: '5' }, 'BQX_SHRAD', /did you mean BQX_SHARD\?/],
    [{ BQX_NOTHING_LIKE_IT: '1', BQX_ZZ: '' }, 'BQX_NOTHING_LIKE_IT', /is not a bqx setting \(the README's Configuration section lists them\); nor are BQX_ZZ$/],
  ];
  for (const [env, variable, reason] of bad) {
    it(`stops on ${variable}=${JSON.stringify(env[variable] ?? '')}, naming the variable and the value`, () => {
      assert.throws(() => loadConfig(env), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.variable, variable);
        assert.match(e.message, new RegExp(`^${variable}=`));
        assert.match(e.message, reason);
        return true;
      });
    });
  }

  it("takes the launcher's and the diagnostics' variables, and every other program's", () => {
    const c = loadConfig({ BQX_TSX: '1', BQX_DEBUG: '1', BQX_VERBOSE: '1', BQX_FOLLOW_POLL_MS: '50', BQXTEST_TAG: 'x', PATH: '/bin', bqx_keep: '9' });
    assert.equal(c.keep, 3);
  });

  it('accepts a complete GCP configuration', () => {
    const c = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'demo-bqx-staging', BQX_OUTPUT_BUCKET: 'demo-bqx-output' });
    assert.equal(c.gcp.project, 'demo-bqx');
    assert.equal(c.gcp.stagingBucket, 'demo-bqx-staging');
    assert.equal(c.gcp.maxBytesBilled, 5_000_000_000_000);
  });
});
