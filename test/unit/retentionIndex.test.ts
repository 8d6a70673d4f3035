// Retention and the reuse index (staging checkpoints/index/<feature>/<fingerprint>.json): every
// refresh indexes all its features under new fingerprints (their window grew), so gc keeps only
// the entries that the checkpoints it keeps name (their records' fingerprints, and an active run's
// manifest, whose landings index before they record); a feature whose kept record predates
// fingerprints on records keeps all its entries. On the embedded stores.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { reuseIndex } from '../../shared/chain/reuse.js';
import { paths } from '../../shared/naming.js';
import type { CheckpointRecord } from '../../shared/ports.js';
import { collectAll, collectGarbage } from '../../shared/retention.js';
import { WINDOW, retentionDeps, runRecord as run } from '../helpers/retentionDeps.js';
const OLD = 'eurusd-20240101t000000-aaaaaa';
const NEW = 'eurusd-20240102t000000-bbbbbb';
const OTHER = 'gbpusd-20240102t010000-cccccc';
const ACTIVE = 'audusd-20240102t020000-dddddd';

/** A fingerprint of four parts, each the digit repeated. */
const fp = (digit: string) => Array.from({ length: 4 }, () => digit.repeat(16)).join('-');

function checkpoint(runId: string, feature: string, fingerprint?: string, reusedFrom?: string): CheckpointRecord {
  const file = paths.checkpointPart(reusedFrom ?? runId, feature, 0);
  return {
    runId, feature, landedAt: WINDOW.start, files: [file], rows: 10, sourceRows: 10, duplicates: 0, nullCounts: {}, minKey: null, maxKey: null, bytes: 4,
    ...(reusedFrom ? { reusedFrom } : {}), ...(fingerprint ? { fingerprint } : {}),
  };
}

describe('retention: the reuse index', () => {
  /** Entries gc must keep, and those it must remove. */
  const kept = [
    reuseIndex.entry('agg_eurusd', fp('2')), // the newest eurusd run's own checkpoint
    reuseIndex.entry('mkt_vol', fp('3')), // reused by the newest eurusd run from the old one
    reuseIndex.entry('csi_usd', fp('4')), // gbpusd's record names no fingerprint (written before records did): both stay
    reuseIndex.entry('csi_usd', fp('5')),
    reuseIndex.entry('agg_audusd', fp('6')), // indexed by the active run's landing, not yet recorded
  ];
  const removed = [
    reuseIndex.entry('agg_eurusd', fp('1')), // the old run's (an earlier window): its record goes with the run
    reuseIndex.entry('agg_eurusd', fp('0')), // named by no record at all
    reuseIndex.entry('tri_eur', fp('7')), // a table no kept run has
  ];

  async function world(activeManifest = JSON.stringify({ runId: ACTIVE, features: [{ feature: 'agg_audusd', fingerprint: fp('6') }] })) {
    const deps = retentionDeps('retention-index');
    for (const [r, state, at] of [[OLD, 'succeeded', '2024-01-01T00:00:00Z'], [NEW, 'succeeded', '2024-01-02T00:00:00Z'], [OTHER, 'succeeded', '2024-01-02T01:00:00Z'], [ACTIVE, 'extracting', '2024-01-02T02:00:00Z']] as const) {
      await deps.store.createRun(run(r, 'extracting', at));
      if (state !== 'extracting') await deps.store.updateRun(r, (x) => ({ ...x, state, transitions: [...x.transitions, { state, at }] }));
      await deps.staging.write(paths.manifest(r), r === ACTIVE ? activeManifest : '{}');
    }
    const records = [
      checkpoint(OLD, 'agg_eurusd', fp('1')),
      checkpoint(OLD, 'mkt_vol', fp('3')),
      checkpoint(NEW, 'agg_eurusd', fp('2')),
      checkpoint(NEW, 'mkt_vol', fp('3'), OLD),
      checkpoint(OTHER, 'csi_usd'),
    ];
    for (const r of records) {
      await deps.store.recordCheckpoint(r);
      for (const f of r.files) await deps.staging.write(f, 'PAR1');
    }
    for (const entry of [...kept, ...removed]) await deps.staging.write(entry, '{}');
    return deps;
  }

  const index = async (deps: Awaited<ReturnType<typeof world>>) => (await deps.staging.list('checkpoints/index/')).map((o) => o.name).sort();

  it('keeps the entries the kept checkpoints name (records, an active run\'s manifest, records without fingerprints), removes the rest, and a dry run counts them', async () => {
    const deps = await world();
    const dry = await collectGarbage(deps, 'eurusd', 1, undefined, true);
    assert.deepEqual(await index(deps), [...kept, ...removed].sort(), 'a dry run removes nothing');
    const result = await collectGarbage(deps, 'eurusd', 1);
    assert.deepEqual(result.removed, [OLD]);
    assert.deepEqual(await index(deps), [...kept].sort());
    assert.equal(result.objects, dry.objects, 'the dry run counted the entries too');
    assert.equal(await deps.staging.size(paths.checkpointPart(OLD, 'mkt_vol', 0)), 4, 'the reused checkpoint stays with its entry');
  });

  it('prunes nothing while an active run\'s fingerprints cannot be read (its manifest half there)', async () => {
    const deps = await world('{"features": [');
    await collectGarbage(deps, 'eurusd', 1);
    assert.deepEqual(await index(deps), [...kept, ...removed].sort());
  });

  it('through collectAll, lists and prunes the index once for every pair', async () => {
    const deps = await world();
    const lists = sinon.spy(deps.staging, 'list');
    await collectAll(deps, ['eurusd', 'gbpusd', 'audusd'], 1);
    lists.restore();
    assert.equal(lists.getCalls().filter((c) => c.args[0] === 'checkpoints/index/').length, 1);
    assert.deepEqual(await index(deps), [...kept].sort());
  });
});
