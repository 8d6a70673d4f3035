// Which crash points the emulator sweep plays, numbered as the fault-free run numbers its side
// effects (on the emulators the order can differ a little: handlers overlap there, so each case
// reports the kind it actually crashed at). First a few chosen side effects every run has: the
// start's manifest, the merge claim, the merge job, the completion event (the last publish), a
// landing's record, the dataset's manifest (the last output write), the run record, a fan-out
// publish, an extract; then points spread evenly over the run, before and after by turns, up to
// `count`.

import type { CrashWhen } from './effects.js';

export interface CrashPoint {
  n: number;
  when: CrashWhen;
}

export function emulatorSample(kinds: string[], count: number): CrashPoint[] {
  const first = (kind: string) => kinds.indexOf(kind) + 1;
  const last = (kind: string) => kinds.lastIndexOf(kind) + 1;
  // In the order a small sample takes them: the sweep's one finding first, then the steps only
  // the reconciler can repair, then the rest.
  const candidates: CrashPoint[] = [
    { n: first('staging.write'), when: 'after' },
    { n: first('run.claim'), when: 'after' },
    { n: first('warehouse.merge'), when: 'before' },
    { n: last('publish'), when: 'before' },
    { n: first('checkpoint.record'), when: 'after' },
    { n: last('output.write'), when: 'after' },
    { n: first('run.create'), when: 'before' },
    { n: first('publish'), when: 'after' },
    { n: first('warehouse.extract'), when: 'before' },
  ];
  const points = candidates.filter((p) => p.n > 0).slice(0, count);
  const seen = new Set(points.map((p) => `${p.when}:${p.n}`));
  const spread = count - points.length;
  for (let i = 0; i < spread; i++) {
    const p: CrashPoint = { n: 1 + Math.floor(((i + 0.5) * kinds.length) / spread), when: i % 2 === 0 ? 'before' : 'after' };
    if (seen.has(`${p.when}:${p.n}`)) p.when = p.when === 'before' ? 'after' : 'before';
    seen.add(`${p.when}:${p.n}`);
    points.push(p);
  }
  return points;
}
