// The fault sweep in the suite: every side effect of a small full-shape run crashed just before and
// just after, then 500 randomized schedules (seeded delivery order, 1 to 3 copies of each message,
// delays, 1 to 3 crashes), each checked against the invariants. A failure names the case and the
// command that replays it. Also: the checks catch what they exist for, a seed replays exactly, and
// a sample of crash points runs on the embedded runtime's own folder and file stores.

import assert from 'node:assert/strict';
import { checkRun } from './invariants.js';
import { CHAOTIC, ORDERLY, Simulation } from './simulation.js';
import { baseline, crashedRun, exhaustive, randomCrashes, randomized, sortOut, type Tally } from './sweep.js';
import { show, sweptFixture } from './scenarioTests.js';
import { COMPACT, onStores, openWorld } from './world.js';
import { requestRunId } from '../../shared/naming.js';

const SCHEDULES = 500;

describe('fault sweep: crash anywhere, deliver anything twice or out of order', function () {
  this.timeout(600_000);
  const swept = sweptFixture(COMPACT);

  it('numbers every side effect of the fault-free run: writes, run-store changes, claims, records, publishes, warehouse jobs', () => {
    const kinds = new Set(swept.reference.effects);
    for (const k of ['staging.write', 'run.create', 'publish', 'warehouse.extract', 'checkpoint.record', 'run.claim', 'run.update', 'warehouse.merge', 'output.write']) assert.ok(kinds.has(k), `no ${k} effect`);
    assert.equal(swept.reference.expected, 18);
    assert.equal(swept.reference.effects.filter((k) => k === 'checkpoint.record').length, 18);
    assert.ok(swept.reference.effects.length > 80, `${swept.reference.effects.length} side effects`);
  });

  it('replays a randomized schedule exactly from its seed', async () => {
    const play = async () => {
      const sim = new Simulation(4242, CHAOTIC);
      const world = await openWorld(swept.base, sim);
      try {
        for (const c of randomCrashes(sim, swept.reference.effects.length)) world.effects.crashAt(c.n, c.when);
        const run = await world.runPair('eurusd');
        return { effects: world.effects.log.map((e) => `${e.kind} ${e.in}`), crashes: world.effects.crashes, state: run?.state, time: sim.now() };
      } finally {
        await world.close();
      }
    };
    const [a, b] = [await play(), await play()];
    assert.ok(a.crashes.length > 0);
    assert.deepEqual(b, a);
  });

  it('catches what each invariant exists for: a lost event, different output, a second merge, a stray object, a reuse index entry pointing elsewhere, one missing', async () => {
    const tampered: string[][] = [];
    let entry = '';
    for (const tamper of [
      (w: Awaited<ReturnType<typeof openWorld>>) => void w.embedded.bus.published.set(w.config.topics.runEvents, []),
      async (w: Awaited<ReturnType<typeof openWorld>>, runId: string) => {
        // Output files sit in a (shard, group) grid: training/<pair>/<runId>/shard-<id>/group-NNN/.
        const object = (await w.output.list(`training/eurusd/${runId}/`)).find((o) => o.name.includes('/group-001/') && o.name.endsWith('.parquet'))!.name;
        const bytes = new Uint8Array(await w.output.read(object));
        bytes[bytes.length >> 1]! ^= 1;
        await w.output.write(object, bytes);
      },
      async (w: Awaited<ReturnType<typeof openWorld>>, runId: string) => void (await w.store.updateRun(runId, (r) => ({ ...r, mergeAttempts: 2 }))),
      async (w: Awaited<ReturnType<typeof openWorld>>) => void (await w.staging.write('runs/eurusd-20260105t000000-zzzzzz/manifest.json', '{}')),
      async (w: Awaited<ReturnType<typeof openWorld>>) => {
        entry = (await w.staging.list('checkpoints/index/mom_eurusd/'))[0]!.name;
        const value = JSON.parse(Buffer.from(await w.staging.read(entry)).toString('utf8')) as { runId: string };
        await w.staging.write(entry, JSON.stringify({ ...value, runId: 'eurusd-20260105t000000-zzzzzz' }));
      },
      async (w: Awaited<ReturnType<typeof openWorld>>) => void (await w.staging.deleteObjects([(await w.staging.list('checkpoints/index/reg_eurusd/'))[0]!.name])),
    ]) {
      const world = await openWorld(swept.base, new Simulation(1, ORDERLY));
      try {
        const run = await world.runPair('eurusd');
        await tamper(world, run!.runId);
        tampered.push(await checkRun(world, await world.store.getRun(run!.runId), swept.reference));
      } finally {
        await world.close();
      }
    }
    assert.deepEqual(tampered[0], ['completion event never published']);
    assert.deepEqual(tampered[1], ["output differs from the fault-free run's"]);
    assert.deepEqual(tampered[2], ['merge claimed 1 time(s), 2 merge attempt(s)']);
    assert.deepEqual(tampered[3], ["left outside the run's prefixes: staging/runs/eurusd-20260105t000000-zzzzzz/manifest.json"]);
    assert.deepEqual(tampered[4], [`reuse index entry ${entry} names run eurusd-20260105t000000-zzzzzz`, 'the checkpoint of mom_eurusd is not in the reuse index', `left outside the run's prefixes: staging/${entry}`]);
    assert.deepEqual(tampered[5], ['the checkpoint of reg_eurusd is not in the reuse index']);
  });

  it('crashes just before and just after every side effect: each run recovers, output byte-identical, 0 violations', async () => {
    const began = Date.now();
    const tally: Tally = new Map();
    const { violations, known } = sortOut(await exhaustive(swept.base, swept.reference, undefined, tally));
    const points = swept.reference.effects.length * 2;
    console.log(`      ${points} crash points over ${swept.reference.effects.length} side effects in ${((Date.now() - began) / 1000).toFixed(1)} s: ${violations.length} violations, ${known.length} known finding(s)${known.length ? ` (${known.map((k) => k.case).join(', ')})` : ''}; reconciler: ${JSON.stringify(Object.fromEntries(tally))}`);
    assert.deepEqual(violations, [], show(violations).join('\n'));
    // Some crashes only the reconciler can repair: a claim without the move to merging, a move without the request.
    for (const action of ['resent-extracts', 'claimed-merge', 'resent-merge']) assert.ok((tally.get(action) ?? 0) > 0, `the reconciler never had to ${action}`);
    // No known finding is left (invariants.ts KNOWN_FINDINGS is empty): every case is a clean recovery.
    assert.deepEqual(known, [], show(known).join('\n'));
  });

  it(`plays ${SCHEDULES} randomized schedules (order, 1-3 copies, delays, 1-3 crashes): 0 violations`, async () => {
    const began = Date.now();
    const { violations, known } = sortOut(await randomized(swept.base, swept.reference, Array.from({ length: SCHEDULES }, (_, i) => i + 1)));
    console.log(`      ${SCHEDULES} schedules in ${((Date.now() - began) / 1000).toFixed(1)} s: ${violations.length} violations, ${known.length} known finding(s)`);
    assert.deepEqual(violations, [], show(violations).join('\n'));
  });

  it('runs a sample of crash points on the embedded folder and file stores too', async () => {
    const files = onStores(swept.base, 'files');
    const onFiles = await baseline(files);
    assert.equal(onFiles.digest, swept.reference.digest, 'the same output on files as in memory');
    assert.deepEqual(onFiles.effects, swept.reference.effects, 'the same side effects on files as in memory');
    const n = onFiles.effects.length;
    const sample = [3, Math.floor(n / 2), onFiles.effects.indexOf('run.claim') + 1, onFiles.effects.indexOf('warehouse.merge') + 1, n - 1, n];
    for (const k of sample) {
      for (const when of ['before', 'after'] as const) {
        const problems = await crashedRun(files, onFiles, [{ n: k, when }], new Simulation(1, ORDERLY));
        assert.deepEqual(problems, [], `crash ${when} effect ${k} (${onFiles.effects[k - 1]}) on files`);
      }
    }
  });
});

// startRun dying between writing the run's manifest and creating the run (a finding of the sweep):
// the request is delivered again, and that delivery must resume the same run (the same id, derived
// from the request's message id and publish time) rather than start a second one and leave the
// first manifest under an id no run has, which retention, working from the run records, would
// never remove. Shown on the in-memory stores and on the embedded folder and file stores.

describe('fault sweep: startRun crashing between the manifest and the run record', function () {
  this.timeout(120_000);
  const swept = sweptFixture(COMPACT);
  /** The manifest write: startRun's first side effect, before run.create. */
  let manifestWrite: number;
  // After the fixture's own `before`, registered first.
  before(() => {
    manifestWrite = swept.reference.effects.indexOf('staging.write') + 1;
    assert.equal(swept.reference.effects[manifestWrite], 'run.create', `effects: ${swept.reference.effects.slice(0, 4).join(', ')}`);
  });

  for (const stores of ['memory', 'files'] as const) {
    it(`resumes the same run on redelivery and leaves no orphan manifest (${stores} stores)`, async () => {
      const on = onStores(swept.base, stores);
      for (const when of ['after', 'before'] as const) {
        assert.deepEqual(await crashedRun(on, swept.reference, [{ n: manifestWrite, when }], new Simulation(1, ORDERLY)), [], `crash ${when} the manifest write`);
        assert.deepEqual(await crashedRun(on, swept.reference, [{ n: manifestWrite + 1, when }], new Simulation(1, ORDERLY)), [], `crash ${when} run.create`);
      }
      // The run's id is the request's: one run record, and every staging object under its prefix.
      const world = await openWorld(on, new Simulation(1, ORDERLY));
      try {
        world.effects.crashAt(manifestWrite, 'after');
        const run = (await world.runPair('eurusd'))!;
        assert.equal(run.state, 'succeeded', run.error);
        const request = world.embedded.bus.published.get(world.config.topics.runRequests)![0]!;
        assert.equal(run.runId, requestRunId('eurusd', run.requestId!, new Date(request.publishTime)));
        assert.ok(run.requestId!.endsWith(`-${request.id}`), run.requestId);
        const { staging, store } = await world.inventory();
        assert.deepEqual(store.filter((d) => d.startsWith('runs/')).length, 1, store.join(', '));
        assert.deepEqual(staging.filter((o) => !o.startsWith(`runs/${run.runId}/`) && !o.startsWith('checkpoints/index/')), []);
        assert.equal(world.effects.log.filter((e) => e.kind === 'staging.write' && e.what === `runs/${run.runId}/manifest.json`).length, 2, 'the manifest written by both deliveries, at one name');
      } finally {
        await world.close();
      }
    });
  }
});
