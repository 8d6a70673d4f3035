import assert from 'node:assert/strict';
import { InputError, allPairs, assertIdentifier, assertRunId, newRunId, parseStagingObject, requestRunId, paths, quoteIdent, validatePair } from '../../shared/naming.js';
import { loadConfig } from '../../shared/config.js';

const currencies = loadConfig({}).currencies;

describe('identifier rules', () => {
  it('knows the 28 pairs, in market order', () => {
    const pairs = allPairs(currencies);
    assert.equal(pairs.length, 28);
    for (const p of ['eurusd', 'gbpusd', 'audusd', 'nzdusd', 'usdjpy', 'usdcad', 'usdchf', 'eurgbp', 'gbpjpy', 'chfjpy']) assert.ok(pairs.includes(p), p);
    assert.ok(!pairs.includes('usdeur'));
  });

  const hostilePairs = ['../x', 'eurusd; drop table x', "eur'sd", 'EURUSD', 'eurxxx', 'eureur', '', 'eurusdx', 'usdeur'];
  for (const p of hostilePairs) {
    it(`refuses the pair ${JSON.stringify(p)} with an InputError`, () => {
      assert.throws(() => validatePair(p, currencies), InputError);
    });
  }

  it('suggests the market order for a reversed pair', () => {
    assert.throws(() => validatePair('usdeur', currencies), /did you mean eurusd/);
  });

  it('quotes plain identifiers per dialect and refuses anything else', () => {
    assert.equal(quoteIdent('agg_eurusd', 'bigquery'), '`agg_eurusd`');
    assert.equal(quoteIdent('agg_eurusd', 'duckdb'), '"agg_eurusd"');
    for (const bad of ['a`b', 'a"b', 'a b', '1abc', 'a;drop', '', 'x'.repeat(129), 'a.b']) {
      assert.throws(() => quoteIdent(bad, 'duckdb'), InputError, bad);
    }
    assert.throws(() => assertIdentifier(42), InputError);
  });

  it('makes run ids that carry the pair and time, and parse back', () => {
    const id = newRunId('eurusd', new Date('2026-01-02T03:04:05.678Z'), () => 0.5);
    assert.equal(id, 'eurusd-20260102t030405-ssssss');
    assert.equal(assertRunId(id), id);
    assert.throws(() => assertRunId('eurusd-2026/../x'), InputError);
  });

  it('gives a request the same run id on every delivery: its pair, publish time and a digest of its message id', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const id = requestRunId('eurusd', 'session-17', at);
    assert.match(id, /^eurusd-20260102t030405-[a-z0-9]{6}$/);
    assert.equal(assertRunId(id), id);
    assert.equal(requestRunId('eurusd', 'session-17', new Date(at)), id);
    const others = new Set(['session-18', 'session-170', '17', 'other-17'].map((r) => requestRunId('eurusd', r, at)));
    assert.equal(others.size, 4);
    assert.ok(!others.has(id));
    assert.notEqual(requestRunId('gbpusd', 'session-17', at).slice(7), id.slice(7), 'the pair is part of the digest');
  });

  it('builds object paths from validated parts only, and parses staging names back', () => {
    const id = 'eurusd-20260102t030405-abc123';
    assert.equal(paths.checkpointPart(id, 'agg_eurusd', 0), `runs/${id}/features/agg_eurusd/part-00000.parquet`);
    assert.equal(paths.marker(id, 'agg_eurusd'), `runs/${id}/features/agg_eurusd/_SUCCESS.json`);
    assert.equal(paths.outputShardGroupPart('eurusd', id, '20240101', 1, 2), `training/eurusd/${id}/shard-20240101/group-001/part-00002.parquet`);
    assert.throws(() => paths.outputShardDir('eurusd', id, '../x'), InputError);
    assert.throws(() => paths.featureDir(id, '../../etc'), InputError);
    assert.throws(() => paths.manifest('../../x'), InputError);
    assert.deepEqual(parseStagingObject(`runs/${id}/features/agg_eurusd/_SUCCESS.json`), { runId: id, feature: 'agg_eurusd', file: '_SUCCESS.json', kind: 'marker' });
    assert.equal(parseStagingObject(`runs/${id}/features/agg_eurusd/part-00000.parquet`)?.kind, 'part');
    assert.equal(parseStagingObject(`runs/${id}/manifest.json`), undefined);
    assert.equal(parseStagingObject(`runs/not-a-run/features/x/_SUCCESS.json`), undefined);
    assert.equal(parseStagingObject(`other/${id}/features/x/_SUCCESS.json`), undefined);
  });
});
