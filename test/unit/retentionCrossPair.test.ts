// Retention across pairs: reuse is by content, so gbpusd's newest run may point at a checkpoint of
// a shared table (mkt_*) that lives under an old eurusd run's folder. Collecting eurusd must not
// delete it, on the embedded stores (file run store, folder object store).

import assert from 'node:assert/strict';
import { paths } from '../../shared/naming.js';
import type { CheckpointRecord } from '../../shared/ports.js';
import { collectAll, collectGarbage } from '../../shared/retention.js';
import { WINDOW, retentionDeps, runRecord as run } from '../helpers/retentionDeps.js';

function checkpoint(runId: string, feature: string, files: string[]): CheckpointRecord {
  return { runId, feature, landedAt: WINDOW.start, files, rows: 10, sourceRows: 10, duplicates: 0, nullCounts: {}, minKey: null, maxKey: null, bytes: 4 };
}

describe('retention across pairs', () => {
  const OLD = 'eurusd-20240101t000000-aaaaaa';
  const NEW = 'eurusd-20240102t000000-bbbbbb';
  const OTHER = 'gbpusd-20240102t010000-cccccc';
  const shared = paths.checkpointPart(OLD, 'mkt_vol', 0);
  const ownOld = paths.checkpointPart(OLD, 'agg_eurusd', 0);

  async function world() {
    const deps = retentionDeps('retention-pairs');
    // The old eurusd run extracted both; the new one re-extracted its own table and reused mkt_vol
    // from the old run; gbpusd's newest run reused the same mkt_vol checkpoint too.
    for (const [r, state, at] of [[OLD, 'succeeded', '2024-01-01T00:00:00Z'], [NEW, 'succeeded', '2024-01-02T00:00:00Z'], [OTHER, 'succeeded', '2024-01-02T01:00:00Z']] as const) {
      await deps.store.createRun(run(r, 'extracting', at));
      await deps.store.updateRun(r, (x) => ({ ...x, state, transitions: [...x.transitions, { state, at }] }));
      await deps.staging.write(paths.manifest(r), '{}');
    }
    for (const name of [shared, ownOld, paths.checkpointPart(NEW, 'agg_eurusd', 0)]) await deps.staging.write(name, 'PAR1');
    await deps.store.recordCheckpoint(checkpoint(OLD, 'mkt_vol', [shared]));
    await deps.store.recordCheckpoint(checkpoint(OLD, 'agg_eurusd', [ownOld]));
    await deps.store.recordCheckpoint(checkpoint(NEW, 'agg_eurusd', [paths.checkpointPart(NEW, 'agg_eurusd', 0)]));
    await deps.store.recordCheckpoint(checkpoint(OTHER, 'mkt_vol', [shared]));
    return deps;
  }

  it("keeps a file another pair's newest run reuses when the run that wrote it is removed", async () => {
    const deps = await world();
    const result = await collectGarbage(deps, 'eurusd', 1);
    assert.deepEqual(result.kept, [NEW]);
    assert.deepEqual(result.removed, [OLD]);
    assert.equal(await deps.staging.size(ownOld), undefined, "the old run's own checkpoint goes");
    assert.equal(await deps.staging.size(shared), 4, "gbpusd's reused checkpoint stays");
  });

  it('does the same through collectAll, pair after pair', async () => {
    const deps = await world();
    await collectAll(deps, ['eurusd', 'gbpusd'], 1);
    assert.equal(await deps.staging.size(ownOld), undefined);
    assert.equal(await deps.staging.size(shared), 4);
  });
});
