// `npm run sweep -- --emulators [--points N]`: the fault sweep through the deployed functions on
// the Pub/Sub and Firestore emulators (emulatorWorld.ts): N crash points (24 by default) of a run
// of eurusd, each checked with the embedded sweep's invariants against the embedded fault-free run,
// then four pairs at once, each checked against its solo run. With `--scenario refresh`, the cases
// are a refresh of a first version instead: the fault-free refresh, then N crash points of it, each
// checked as the embedded sweep checks its refresh (laterVersion.ts). `npm test` plays 6 of a run's
// points, the fault-free refresh and 2 of its points, and the four pairs (emulators.test.ts).

import { loadConfig } from '../../shared/config.js';
import { emulatorsMissing } from '../../shared/runtime/emulators.js';
import { emulatorSample, type CrashPoint } from './emulatorSample.js';
import { crashedAt, crashedOnEmulators, laterOnEmulators, openBed, playOnEmulators, type Bed, type EmulatorCase } from './emulatorWorld.js';
import type { LaterScenario } from './laterVersion.js';
import { outputOf } from './invariants.js';
import { ORDERLY, Simulation } from './simulation.js';
import { baseline, ONE_RUN, type Reference, type Scenario, type Violation } from './sweep.js';
import { togetherProblems } from './together.js';
import { FOUR_PAIRS, openBase, openWorld, type Base, type SweepShape } from './world.js';

export interface EmulatorSweepResult {
  crashPoints: number;
  pairsTogether: number;
  violations: Violation[];
  /** What each crash point hit, as it happened: `before 17 (run.claim)`. */
  crashed: string[];
  reconcilerCalls: number;
  ms: number;
}

/**
 * Undefined (having printed SKIPPED and why) where the emulators cannot run. `later`: a second
 * version's scenario and its shape, played instead of single runs and the four pairs.
 */
export async function emulatorSweep(points: number, progress: (done: number, total: number) => void, later?: { scenario: LaterScenario; shape: SweepShape }): Promise<EmulatorSweepResult | undefined> {
  const missing = await emulatorsMissing();
  if (missing) {
    console.log(`SKIPPED: the fault sweep on the emulators because ${missing}`);
    return undefined;
  }
  if (later) return onBed(later.shape, later.scenario, (base, reference, bed, result) => laterCases(points, progress, base, reference, bed, result));
  return onBed(FOUR_PAIRS, ONE_RUN, (base, reference, bed, result) => runCases(points, progress, base, reference, bed, result));
}

/** The shape's base, its scenario's fault-free play in the embedded sweep and the emulators, open while `play` plays its cases into a result. */
async function onBed(shape: SweepShape, scenario: Scenario, play: (base: Base, reference: Reference, bed: Bed, result: EmulatorSweepResult) => Promise<void>): Promise<EmulatorSweepResult | undefined> {
  const began = Date.now();
  const base = await openBase(shape);
  try {
    const reference = await baseline(base, scenario);
    const bed = await openBed();
    if (!bed) return undefined;
    try {
      const result: EmulatorSweepResult = { crashPoints: 0, pairsTogether: 0, violations: [], crashed: [], reconcilerCalls: 0, ms: 0 };
      await play(base, reference, bed, result);
      result.ms = Date.now() - began;
      return result;
    } finally {
      await bed.close();
    }
  } finally {
    await base.close();
  }
}

/** `points` crash points of a run, then the four pairs at once, each against its solo run. */
async function runCases(points: number, progress: (done: number, total: number) => void, base: Base, reference: Reference, bed: Bed, result: EmulatorSweepResult): Promise<void> {
  const sample = emulatorSample(reference.effects.map((kind) => ({ kind })), points, loadConfig(base.shape.env).topics);
  for (const point of sample) {
    tally(result, point, await crashedOnEmulators(bed, base, reference, point), `emulators: crash ${point.name}`, `npm run sweep -- --emulators --points ${points}`);
    progress(result.crashPoints, sample.length + 1);
  }
  const solo = new Map<string, string>();
  for (const pair of FOUR_PAIRS.pairs) {
    const world = await openWorld(base, new Simulation(1, ORDERLY));
    try {
      const run = await world.runPair(pair);
      if (run?.state !== 'succeeded') throw new Error(`the solo run of ${pair} did not succeed: ${run?.error}`);
      solo.set(pair, (await outputOf(world, run)).digest);
    } finally {
      await world.close();
    }
  }
  const together = await playOnEmulators(bed, base, FOUR_PAIRS.pairs, { viaApi: true });
  try {
    const problems = await togetherProblems(together, together.runs, solo);
    result.pairsTogether = FOUR_PAIRS.pairs.length;
    if (problems.length > 0) result.violations.push({ case: `emulators: ${FOUR_PAIRS.pairs.length} pairs at once`, replay: 'npm run sweep -- --emulators', problems });
  } finally {
    await together.close();
  }
  progress(sample.length + 1, sample.length + 1);
}

/** The fault-free second version of `reference`'s scenario, then `points` crash points of it, each on a project of its own. */
async function laterCases(points: number, progress: (done: number, total: number) => void, base: Base, reference: Reference, bed: Bed, result: EmulatorSweepResult): Promise<void> {
  const name = reference.scenario.name;
  const replay = `npm run sweep -- --emulators --scenario ${name} --points ${points}`;
  const clean = await laterOnEmulators(bed, base, reference);
  // Spread over the second version's side effects on the emulators: the embedded one's include
  // the retention the embedded runtime applies after a success, which on Google Cloud is the reconciler's.
  const sample = emulatorSample(clean.effects, points, loadConfig(base.shape.env).topics);
  result.reconcilerCalls += clean.reconciled;
  if (clean.problems.length > 0) result.violations.push({ case: `emulators: the fault-free ${name}`, replay, problems: clean.problems });
  progress(1, sample.length + 1);
  for (const point of sample) {
    tally(result, point, await laterOnEmulators(bed, base, reference, { crash: point }), `emulators: ${name} crashed ${point.name}`, replay);
    progress(result.crashPoints + 1, sample.length + 1);
  }
}

/** Counts a crash point played into `result`: what it hit, its reconciler calls, its problems as a violation named `name`. */
function tally(result: EmulatorSweepResult, point: CrashPoint, c: EmulatorCase, name: string, replay: string): void {
  result.crashPoints++;
  result.reconcilerCalls += c.reconciled;
  result.crashed.push(crashedAt(point, c));
  if (c.problems.length > 0) result.violations.push({ case: name, replay, problems: c.problems });
}
