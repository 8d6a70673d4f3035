// The fingerprint of a checkpoint: each of its four parts moves with its own input and no other,
// a table without a data version has none, and a run request can turn reuse off.

import assert from 'node:assert/strict';
import { decodeRunRequest } from '../../shared/chain/messages.js';
import { differingParts, featureFingerprint, isFingerprint, type FingerprintInput } from '../../shared/fingerprint.js';
import { InputError } from '../../shared/naming.js';

const base: FingerprintInput = {
  dataset: 'bqx_ml_v3_features_v2',
  table: { table: 'agg_eurusd', columns: [{ name: 'interval_time', type: 'TIMESTAMP' }, { name: 'pair', type: 'STRING' }, { name: 'a', type: 'FLOAT64' }] },
  version: '2025-01-01T00:00:00.000Z~abc/100',
  window: { start: '2025-01-01T00:00:00.000Z', end: '2025-02-01T00:00:00.000Z' },
  kept: ['a'],
  dropped: ['pair'],
};

describe('fingerprint', () => {
  const fp = featureFingerprint(base)!;

  it('is four hex parts, the same for the same inputs', () => {
    assert.ok(isFingerprint(fp), fp);
    assert.equal(featureFingerprint({ ...base, table: { ...base.table, columns: [...base.table.columns] } }), fp);
  });

  it('moves only the part whose input changed', () => {
    const cases: [Partial<FingerprintInput>, string[]][] = [
      [{ table: { ...base.table, columns: [...base.table.columns.slice(0, 2), { name: 'a', type: 'INT64' }] } }, ['schema']],
      [{ version: '2025-01-02T00:00:00.000Z~def/100' }, ['data']],
      [{ window: { ...base.window, end: '2025-03-01T00:00:00.000Z' } }, ['window']],
      [{ dropped: [], kept: ['pair', 'a'] }, ['settings']],
      [{ shard: 'day' }, ['settings']],
      [{ table: { ...base.table, table: 'agg_gbpusd' } }, ['schema', 'data']],
    ];
    for (const [change, parts] of cases) assert.deepEqual(differingParts(fp, featureFingerprint({ ...base, ...change })!), parts, JSON.stringify(change));
  });

  it('without a shard unit (BigQuery, whose checkpoints do not follow the grid) is what it was before the unit could be part of it', () => {
    // Pinned from the code before the shard unit was added: every checkpoint indexed on Google
    // Cloud stays reusable. A different unit moves the settings part (the embedded runtime).
    assert.equal(fp, '3087bf7ce8422640-84c7ef3de1a0260a-9fe63aedde838f5e-3311146e9a3292f5');
    assert.notEqual(featureFingerprint({ ...base, shard: 'month' }), featureFingerprint({ ...base, shard: 'week' }));
  });

  it('is undefined for a table whose data version is unknown', () => {
    assert.equal(featureFingerprint({ ...base, version: null }), undefined);
  });

  it('run requests take reuse: false, and refuse a reuse that is not a boolean', () => {
    assert.deepEqual(decodeRunRequest('{"pair":"eurusd","reuse":false}', ['eur', 'usd']), { pair: 'eurusd', reuse: false });
    assert.deepEqual(decodeRunRequest('eurusd', ['eur', 'usd']), { pair: 'eurusd' });
    assert.throws(() => decodeRunRequest('{"pair":"eurusd","reuse":"no"}', ['eur', 'usd']), (e: unknown) => e instanceof InputError && /reuse must be true or false/.test(e.message));
  });
});
