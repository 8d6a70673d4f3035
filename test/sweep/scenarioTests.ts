// What every scenario's sweep file shares (refresh.test.ts, touch.test.ts, drift.test.ts,
// rerun.test.ts): its base and fault-free reference (sweptFixture), a fault-free play to look at
// (faultFree), and the tests of each crash point of its swept run, then randomized schedules,
// each case checked with 0 violations (sweepTests).

import assert from 'node:assert/strict';
import type { RunRecord } from '../../shared/ports.js';
import { sharedBase } from './bases.js';
import { ORDERLY, Simulation } from './simulation.js';
import { baseline, exhaustive, ONE_RUN, play, randomized, sortOut, type Reference, type Scenario, type Violation } from './sweep.js';
import { openWorld, type Base, type SweepShape, type World } from './world.js';

/** What a sweep file's tests share: the base, and the scenario's fault-free play on it. */
export interface Swept {
  base: Base;
  reference: Reference;
}

/**
 * Registers, in the calling `describe`, a `before` that opens `shape`'s base (one per shape and
 * test process: bases.ts) and plays `scenario` fault-free on it; the object returned holds both
 * once that has run.
 */
export function sweptFixture(shape: SweepShape, scenario: Scenario = ONE_RUN): Swept {
  const swept = {} as Swept;
  before(async () => {
    swept.base = await sharedBase(shape);
    swept.reference = await baseline(swept.base, scenario);
  });
  return swept;
}

/** Plays `scenario` fault-free in a fresh world of `base` and hands `check` the world and its swept run; the world closes after. */
export async function faultFree(base: Base, scenario: Scenario, check: (world: World, run: RunRecord) => Promise<void>): Promise<void> {
  const world = await openWorld(base, new Simulation(1, ORDERLY));
  try {
    const { run } = await play(world, scenario, base.shape.pairs[0]!);
    if (!run) throw new Error(`the ${scenario.name} scenario's swept run never started`);
    await check(world, run);
  } finally {
    await world.close();
  }
}

/** The first ten cases, a line each, with how to replay them. */
export const show = (vs: readonly Violation[]) => vs.slice(0, 10).map((v) => `${v.case} (${v.replay}): ${v.problems.join('; ')}`);

/** `what` names the swept run in the tests' titles; `swept` holds the base and reference once the file's `before` made them (sweptFixture). */
export function sweepTests(what: string, schedules: number, swept: Swept): void {
  it(`crashes just before and just after every side effect of ${what}: each recovers, 0 violations`, async () => {
    const { base, reference } = swept;
    const began = Date.now();
    const { violations, known } = sortOut(await exhaustive(base, reference));
    console.log(`      ${reference.effects.length * 2} crash points over ${what}'s ${reference.effects.length} side effects in ${((Date.now() - began) / 1000).toFixed(1)} s: ${violations.length} violations`);
    assert.deepEqual(show([...violations, ...known]), []);
  });

  it(`plays ${schedules} randomized schedules of ${what} (order, 1-3 copies, delays, 1-3 crashes): 0 violations`, async () => {
    const { base, reference } = swept;
    const { violations, known } = sortOut(await randomized(base, reference, Array.from({ length: schedules }, (_, i) => i + 1)));
    assert.deepEqual(show([...violations, ...known]), []);
  });
}
