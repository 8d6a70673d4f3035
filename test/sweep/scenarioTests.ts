// The tests every scenario's sweep file gets (refresh.test.ts, touch.test.ts): each crash point of
// its swept run, then randomized schedules, each case checked with 0 violations.

import assert from 'node:assert/strict';
import { exhaustive, randomized, sortOut, type Reference, type Violation } from './sweep.js';
import type { Base } from './world.js';

/** The first ten cases, a line each, with how to replay them. */
export const show = (vs: readonly Violation[]) => vs.slice(0, 10).map((v) => `${v.case} (${v.replay}): ${v.problems.join('; ')}`);

/** `what` names the swept run in the tests' titles; `opened` gives the base and reference once the file's `before` made them. */
export function sweepTests(what: string, schedules: number, opened: () => { base: Base; reference: Reference }): void {
  it(`crashes just before and just after every side effect of ${what}: each recovers, 0 violations`, async () => {
    const { base, reference } = opened();
    const began = Date.now();
    const { violations, known } = sortOut(await exhaustive(base, reference));
    console.log(`      ${reference.effects.length * 2} crash points over ${what}'s ${reference.effects.length} side effects in ${((Date.now() - began) / 1000).toFixed(1)} s: ${violations.length} violations`);
    assert.deepEqual(show([...violations, ...known]), []);
  });

  it(`plays ${schedules} randomized schedules of ${what} (order, 1-3 copies, delays, 1-3 crashes): 0 violations`, async () => {
    const { base, reference } = opened();
    const { violations, known } = sortOut(await randomized(base, reference, Array.from({ length: schedules }, (_, i) => i + 1)));
    assert.deepEqual(show([...violations, ...known]), []);
  });
}
