// The fault sweep. Exhaustive: for every side effect k of the fault-free run, a run crashed just
// before k and one crashed just after k. Randomized: schedules where one seed decides the delivery
// order, 1 to 3 copies of every message, delays, and 1 to 3 crashes at random side effects. Every
// run is checked against the invariants (invariants.ts); a violation names its seed or crash point.
// What a world plays is a Scenario: one run (ONE_RUN), or a pair's second version after a first
// (laterVersion.ts: a refresh, a run after a touch, a refresh after drift), whose side effects
// alone are the crash points.

import type { RunRecord } from '../../shared/ports.js';
import { checkRun, baselineOf, knownFinding, type Baseline } from './invariants.js';
import type { CrashWhen } from './effects.js';
import { CHAOTIC, ORDERLY, Simulation, type ScheduleShape } from './simulation.js';
import { openWorld, type Base, type World } from './world.js';

/** What each world of a sweep plays: the run crashed, what comes before it, and what must hold after. */
export interface Scenario {
  /** Its name in `npm run sweep -- --scenario NAME`. */
  name: string;
  /** Fault-free work before the swept run, whose side effects are not crash points: a refresh's first version. */
  before?(world: World, pair: string): Promise<void>;
  /** Asks for the swept run and drives it to its end. */
  run(world: World, pair: string): Promise<RunRecord | undefined>;
  /** The invariants over the swept run, against the fault-free run's reference; one line a problem. */
  check(world: World, run: RunRecord | undefined, reference: Baseline): Promise<string[]>;
  /** What the reference keeps of the fault-free world besides its output (Baseline `after`), taken once its checks passed. */
  after?(world: World, run: RunRecord): Promise<string[]>;
}

/** A run of the base's first pair, alone in its world. */
export const ONE_RUN: Scenario = {
  name: 'run',
  run: (world, pair) => world.runPair(pair),
  check: (world, run, reference) => checkRun(world, run, reference),
};

/** The fault-free run of a scenario, which every crashed or reordered one is checked against. */
export interface Reference extends Baseline {
  scenario: Scenario;
}

export interface Violation {
  /** `crash before 17 (run.claim)`, or `seed 1234` */
  case: string;
  /** How to replay it. */
  replay: string;
  problems: string[];
  /** Set when every problem is a known finding (invariants.ts KNOWN_FINDINGS): why it happens. */
  known?: string;
}

export interface SweepResult {
  crashPoints: number;
  schedules: number;
  /** The first and last seed of the randomized schedules played, where there were some. */
  seeds?: number[];
  violations: Violation[];
  /** Cases that broke an invariant only in a known, reported way. */
  known: Violation[];
  /** Side effects in the fault-free run. */
  effects: number;
  ms: number;
}

/** The seed of the fault-free and exhaustive runs (their order is the orderly one). */
const ORDERLY_SEED = 1;

export async function baseline(base: Base, scenario: Scenario = ONE_RUN): Promise<Reference> {
  const world = await openWorld(base, new Simulation(ORDERLY_SEED, ORDERLY));
  try {
    const { run, from } = await play(world, scenario, base.shape.pairs[0]!);
    const reference = await baselineOf(world, run, from, (r) => scenario.check(world, run, r));
    return { ...reference, scenario, ...(scenario.after ? { after: await scenario.after(world, run!) } : {}) };
  } finally {
    await world.close();
  }
}

/**
 * Plays `scenario` in `world`: what comes before its swept run, then the run, crashed at `crashes`
 * (numbered from the run's first side effect, `from` in the world's log).
 */
export async function play(world: World, scenario: Scenario, pair: string, crashes: readonly { n: number; when: CrashWhen }[] = []): Promise<{ run: RunRecord | undefined; from: number }> {
  await scenario.before?.(world, pair);
  const from = world.effects.log.length;
  for (const c of crashes) world.effects.crashAt(from + c.n, c.when);
  return { run: await scenario.run(world, pair), from };
}

/** Counts of what the reconciler did, over many runs: the sweep shows each recovery path taken. */
export type Tally = Map<string, number>;

/** A world of `reference`'s scenario whose swept run crashes at `crashes` (its own effects, numbered from 1); its problems. */
export async function crashedRun(base: Base, reference: Reference, crashes: { n: number; when: CrashWhen }[], sim: Simulation, tally?: Tally): Promise<string[]> {
  const { scenario } = reference;
  const world = await openWorld(base, sim);
  try {
    const { run, from } = await play(world, scenario, base.shape.pairs[0]!, crashes);
    const problems = await scenario.check(world, run, reference);
    for (const a of world.actions) tally?.set(a.action, (tally.get(a.action) ?? 0) + 1);
    const log = world.effects.log.slice(from);
    if (sim.shape === ORDERLY) {
      // Up to the crash, the run must have done exactly what the fault-free one did.
      const first = Math.min(...crashes.map((c) => c.n));
      const diverged = log.slice(0, first).findIndex((e, i) => e.kind !== reference.effects[i]);
      if (diverged >= 0) problems.push(`effect ${diverged + 1} was ${log[diverged]!.kind}, the fault-free run's ${reference.effects[diverged]}: the schedule is not deterministic`);
    }
    const planned = new Set(crashes.filter((c) => c.n <= log.length).map((c) => c.n)).size;
    if (world.effects.crashes.length !== planned) problems.push(`${world.effects.crashes.length} crash(es) happened, ${planned} planned`);
    return problems;
  } finally {
    await world.close();
  }
}

export async function exhaustive(base: Base, reference: Reference, onCase?: (done: number, total: number, found: Violation[]) => void, tally?: Tally): Promise<Violation[]> {
  const violations: Violation[] = [];
  const total = reference.effects.length * 2;
  let done = 0;
  for (let n = 1; n <= reference.effects.length; n++) {
    for (const when of ['before', 'after'] as const) {
      const problems = await crashedRun(base, reference, [{ n, when }], new Simulation(ORDERLY_SEED, ORDERLY), tally);
      if (problems.length > 0) violations.push(violation(`crash ${when} effect ${n} (${reference.effects[n - 1]})`, `npm run sweep --${scenarioFlag(reference)} --crash ${when}:${n}`, problems));
      onCase?.(++done, total, violations);
    }
  }
  return violations;
}

/** The crash plan of a randomized schedule, drawn from its seed: 1 to 3 crashes. */
export function randomCrashes(sim: Simulation, effects: number): { n: number; when: CrashWhen }[] {
  const count = 1 + sim.below(3);
  // Retries and duplicates make a chaotic run longer than the orderly one: crash anywhere in it.
  return Array.from({ length: count }, () => ({ n: 1 + sim.below(Math.ceil(effects * 1.5)), when: sim.below(2) === 0 ? 'before' : 'after' }));
}

export async function schedule(base: Base, reference: Reference, seed: number, shape: ScheduleShape = CHAOTIC): Promise<string[]> {
  const sim = new Simulation(seed, shape);
  return crashedRun(base, reference, randomCrashes(sim, reference.effects.length), sim);
}

export async function randomized(base: Base, reference: Reference, seeds: number[], onCase?: (done: number, total: number, found: Violation[]) => void): Promise<Violation[]> {
  const violations: Violation[] = [];
  let done = 0;
  for (const seed of seeds) {
    const problems = await schedule(base, reference, seed);
    if (problems.length > 0) violations.push(violation(`seed ${seed}`, `npm run sweep --${scenarioFlag(reference)} --seed ${seed}`, problems));
    onCase?.(++done, seeds.length, violations);
  }
  return violations;
}

/** The flag that replays a case of `reference`'s scenario (none for the default, one run). */
const scenarioFlag = (reference: Reference) => (reference.scenario === ONE_RUN ? '' : ` --scenario ${reference.scenario.name}`);

export function violation(name: string, replay: string, problems: string[]): Violation {
  const known = knownFinding(problems);
  return { case: name, replay, problems, ...(known ? { known } : {}) };
}

/** Splits cases into violations and known findings. */
export function sortOut(cases: Violation[]): { violations: Violation[]; known: Violation[] } {
  return { violations: cases.filter((c) => !c.known), known: cases.filter((c) => c.known) };
}
