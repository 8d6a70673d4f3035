// The fault sweep through the deployed entry points on the real Pub/Sub and Firestore emulators
// (emulatorWorld.ts; skipped, saying so, without gcloud/java): a sample of crash points, each a
// run crashed just before or after one side effect and recovered by Pub/Sub's redelivery, the
// finalize delivery's retries and the reconciler over HTTP, checked with the embedded sweep's
// invariants against the embedded fault-free run; a refresh of a first version, fault-free (with
// one file it builds on removed before the checks, to show them failing) and crashed at two side
// effects, each checked as the embedded sweep checks its refresh (laterVersion.ts); then four pairs
// at once, each equal to its solo run. `npm run sweep -- --emulators [--scenario refresh]` plays a
// larger sample (README, "Fault sweep").

import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config.js';
import { emulatorsMissing } from '../../shared/runtime/emulators.js';
import { sharedBase } from './bases.js';
import { emulatorSample } from './emulatorSample.js';
import { crashedAt, crashedOnEmulators, laterOnEmulators, openBed, playOnEmulators, type Bed } from './emulatorWorld.js';
import { REFRESH, REFRESH_SHAPE } from './refreshScenario.js';
import type { Baseline } from './invariants.js';
import { baseline } from './sweep.js';
import { soloDigests, togetherProblems } from './together.js';
import { FOUR_PAIRS, type Base } from './world.js';

/** Crash points in `npm test`; the CLI's --emulators plays more (cli.ts). */
const POINTS = 6;
/**
 * A refresh's crash points in `npm test`, named as emulatorSample names them: where the embedded
 * refresh sweep's finding was (a landing's record before its reuse index entry), and the merge.
 * `npm run sweep -- --emulators --scenario refresh` plays 24 (about 9 s each).
 */
const REFRESH_POINTS = ['after the first checkpoint.record', 'before the first warehouse.merge'];

describe('fault sweep on the emulators: the deployed functions on Pub/Sub and Firestore', function () {
  this.timeout(600_000);
  let bed: Bed | undefined;
  let base: Base;
  let reference: Baseline;
  before(async function () {
    const missing = await emulatorsMissing();
    if (missing) {
      console.log(`SKIPPED: the fault sweep on the emulators because ${missing}`);
      return this.skip();
    }
    base = await sharedBase(FOUR_PAIRS);
    reference = await baseline(base);
    bed = await openBed();
    if (!bed) return this.skip(); // startEmulator printed SKIPPED with the reason
  });
  after(async () => {
    await bed?.close();
  });

  it(`crashes ${POINTS} side effects of a run through the deployed functions: each recovers, output byte-identical to the fault-free run, 0 violations`, async () => {
    const began = Date.now();
    const failures: string[] = [];
    const crashed: string[] = [];
    for (const point of emulatorSample(reference.effects.map((kind) => ({ kind })), POINTS, loadConfig(base.shape.env).topics)) {
      const c = await crashedOnEmulators(bed!, base, reference, point);
      crashed.push(crashedAt(point, c));
      if (c.problems.length > 0) failures.push(`crash ${point.name}: ${c.problems.join('; ')}`);
    }
    console.log(`      ${POINTS} crash points on the emulators in ${((Date.now() - began) / 1000).toFixed(1)} s: ${failures.length} violations; crashed ${crashed.join(', ')}`);
    assert.deepEqual(failures, []);
  });

  it(`refreshes a first version through the deployed functions, fault-free and crashed at ${REFRESH_POINTS.length} side effects: each ends as the embedded sweep's refresh does, its output and, after the next retention, every object and record`, async () => {
    const base = await sharedBase(REFRESH_SHAPE);
    const reference = await baseline(base, REFRESH);
    const began = Date.now();
    const failures: string[] = [];
    const crashed: string[] = [];
    // The fault-free refresh, with one file it builds on removed before the checks: exactly what that breaks, nothing else.
    let lost = '';
    const clean = await laterOnEmulators(bed!, base, reference, {
      async tamper(world, first) {
        lost = `runs/${first.runId}/features/mom_eurusd/part-00000.parquet`;
        await world.staging.deleteObjects([lost]);
      },
    });
    const expected = [`1 checkpoint file(s) the run lists are gone: ${lost}`, 'gone after the next retention: staging/runs/<first>/features/mom_eurusd/part-00000.parquet'];
    if (JSON.stringify(clean.problems) !== JSON.stringify(expected)) failures.push(`fault-free, one file it builds on removed: ${clean.problems.join('; ')} (expected only: ${expected.join('; ')})`);
    // The sample's nine named points (no spread ones), of which these two.
    const points = emulatorSample(reference.effects.map((kind) => ({ kind })), 9, loadConfig(base.shape.env).topics).filter((p) => REFRESH_POINTS.includes(p.name));
    assert.equal(points.length, REFRESH_POINTS.length);
    for (const point of points) {
      const c = await laterOnEmulators(bed!, base, reference, { crash: point });
      crashed.push(crashedAt(point, c));
      if (c.problems.length > 0) failures.push(`crash ${point.name}: ${c.problems.join('; ')}`);
    }
    console.log(`      a refresh on the emulators, fault-free (${clean.effects.length} side effects) and crashed at ${points.length} points, in ${((Date.now() - began) / 1000).toFixed(1)} s: ${failures.length} violations; crashed ${crashed.join(', ')}`);
    assert.deepEqual(failures, []);
  });

  it('runs four pairs asked for at once through POST /runs: each identical to its solo run, one run and one merge per pair, each run named by its request', async () => {
    const solo = await soloDigests(base, FOUR_PAIRS.pairs);
    const world = await playOnEmulators(bed!, base, FOUR_PAIRS.pairs, { viaApi: true });
    try {
      assert.deepEqual(await togetherProblems(world, world.runs, solo), []);
      // The API's request carries a stable id to startRun: the Pub/Sub message id it answered with.
      for (const pair of FOUR_PAIRS.pairs) assert.equal(world.runs.get(pair)?.requestId, world.requests.get(pair), pair);
      // The same check, shown failing: one byte of one pair's dataset changed.
      const run = world.runs.get('gbpusd')!;
      const file = run.output!.files[0]!;
      const bytes = new Uint8Array(await world.output.read(file));
      bytes[bytes.length >> 1]! ^= 1;
      await world.output.write(file, bytes);
      assert.deepEqual(await togetherProblems(world, world.runs, solo), ["gbpusd: output differs from its solo run's"]);
    } finally {
      await world.close();
    }
  });
});
