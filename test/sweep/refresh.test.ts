// A refresh under the fault sweep (refreshScenario.ts): a first version of eurusd, then
// `{"refresh": true}` once its label table reaches further, crashed just before and just after
// every side effect of the refresh, and played under randomized schedules. Each recovers to the
// fault-free refresh's output, byte for byte, and once the next retention has run its world holds
// what the fault-free world holds then: the first day's shard it shares, the first version's
// checkpoints it builds on, every checkpoint it extracted in the reuse index, nothing else. A
// sample of crash points also runs on the embedded folder and file stores.
// `npm run sweep -- --scenario refresh` plays the same from the command line.

import assert from 'node:assert/strict';
import { REFRESH, REFRESH_SHAPE } from './refreshScenario.js';
import { ORDERLY, Simulation } from './simulation.js';
import { baseline, crashedRun } from './sweep.js';
import { faultFree, sweepTests, sweptFixture } from './scenarioTests.js';
import { onStores } from './world.js';

const SCHEDULES = 100;

describe('fault sweep: a refresh, crashed', function () {
  this.timeout(600_000);
  const swept = sweptFixture(REFRESH_SHAPE, REFRESH);

  it('the fault-free refresh extracts only the new minutes, shares the first day, grows the second by a part; retention keeps what it points at', async () => {
    const count = (kind: string) => swept.reference.effects.filter((k) => k === kind).length;
    assert.equal(count('warehouse.extract'), 18);
    assert.equal(count('checkpoint.record'), 18);
    assert.equal(count('warehouse.merge'), 1);
    // Retention ran after it: the first version's checkpoint records went, its files the refresh lists stayed.
    assert.ok(count('checkpoint.delete') > 0 && count('output.delete') > 0, JSON.stringify(swept.reference.effects));
    const after = swept.reference.after!;
    // Of the first version's output, the files the refresh lists: the first day's shard it shares,
    // and the second day's first part, which its grown shard begins with. Its manifest, report and profile went.
    const firstOutput = after.filter((n) => n.startsWith('output/training/eurusd/<first>/'));
    const shared = (n: string) => /\/shard-20200106\/group-\d+\/part-\d+\.parquet$/.test(n) || /\/shard-20200107\/group-\d+\/part-00000\.parquet$/.test(n);
    assert.ok(firstOutput.length === 8 && firstOutput.every(shared), `the first version's output kept: ${firstOutput.join(', ')}`);
    assert.ok(after.includes('staging/runs/<first>/features/mom_eurusd/part-00000.parquet'), 'the first version\'s checkpoint of mom_eurusd, which the refresh builds on, is kept');
    assert.ok(after.some((n) => n.startsWith('output/training/eurusd/<second>/shard-20200107/')), 'the refresh wrote the second day');
    assert.ok(!after.some((n) => n.startsWith('output/training/eurusd/<second>/shard-20200106/')), 'the refresh wrote the first day again');

    await faultFree(swept.base, REFRESH, async (_world, run) => {
      assert.deepEqual(run.reuse?.reasons, { 'new minutes only': 18 });
      assert.deepEqual(run.sharing?.shared, ['20200106']);
      assert.deepEqual(run.sharing?.grown?.map((g) => g.id), ['20200107']);
    });
  });

  it('the checks catch a refresh that lost a file it builds on, and a first version left whole', async () => {
    const found: string[][] = [];
    for (const tamper of ['remove a file', 'keep a file'] as const) {
      await faultFree(swept.base, REFRESH, async (world, run) => {
        const first = (await world.store.listRuns('eurusd')).find((r) => r.runId !== run.runId)!;
        if (tamper === 'remove a file') await world.staging.deleteObjects([`runs/${first.runId}/features/mom_eurusd/part-00000.parquet`]);
        else await world.output.write(`training/eurusd/${first.runId}/stray.json`, '{}');
        found.push(await REFRESH.check(world, run, swept.reference));
      });
    }
    assert.ok(found[0]!.some((p) => p.startsWith('1 checkpoint file(s) the run lists are gone')), found[0]!.join('; '));
    assert.ok(found[0]!.some((p) => p.startsWith('gone after the next retention: staging/runs/<first>/features/mom_eurusd/part-00000.parquet')), found[0]!.join('; '));
    assert.deepEqual(found[1], ['left after the next retention: output/training/eurusd/<first>/stray.json']);
  });

  sweepTests('the refresh', SCHEDULES, swept);

  it('runs a sample of crash points on the embedded folder and file stores too', async () => {
    const files = onStores(swept.base, 'files');
    const onFiles = await baseline(files, REFRESH);
    assert.equal(onFiles.digest, swept.reference.digest, 'the same refresh on files as in memory');
    // The file store names a record's file after its document, with .json.
    const documents = (names: readonly string[]) => names.map((n) => (n.startsWith('runstore/') ? n.replace(/\.json$/, '') : n)).sort();
    assert.deepEqual(documents(onFiles.after!), documents(swept.reference.after!), 'the same objects and records after the next retention on files as in memory');
    const kinds = onFiles.effects;
    for (const n of [kinds.indexOf('checkpoint.record') + 1, kinds.indexOf('warehouse.merge') + 1, kinds.indexOf('checkpoint.delete') + 1]) {
      for (const when of ['before', 'after'] as const) {
        assert.deepEqual(await crashedRun(files, onFiles, [{ n, when }], new Simulation(1, ORDERLY)), [], `crash ${when} effect ${n} (${kinds[n - 1]}) on files`);
      }
    }
  });
});
