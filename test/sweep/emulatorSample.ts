// Which crash points the emulator sweep plays. First chosen side effects, named by what they hit
// (on the emulators handlers overlap and effect numbers shift a little from run to run): the
// start's manifest write (the sweep's one finding), the merge claim and the merge job
// (only the reconciler repairs some crashes there), the completion event, a landing's record, the
// dataset's manifest, the run record, a fan-out publish, an extract. Then points spread evenly over
// the fault-free run's side effects (`made`) by number, before and after by turns, up to `count`.
// A named point the fault-free run never makes is left out.

import type { Config } from '../../shared/config.js';
import type { CrashWhen, Effects } from './effects.js';

export interface CrashPoint {
  /** What it hits, for reports: `after the first run.claim`, `before effect 17`. */
  name: string;
  /** Arms the crash; effect numbers count from `from` (the swept run's first side effect is `from + 1`). */
  plan(effects: Effects, from?: number): void;
}

/** A fault-free run's side effect, as the sample reads it: its kind, and what it touched where known. */
export interface SampledEffect {
  kind: string;
  what?: string;
}

export function emulatorSample(made: readonly SampledEffect[], count: number, topics: Config['topics']): CrashPoint[] {
  const first = (kind: string, when: CrashWhen, what: (w: string) => boolean = () => true, label = kind) => ({
    name: `${when} the first ${label}`,
    plan: (effects: Effects) => effects.crashWhere((k, w) => k === kind && what(w), when),
    // Only what the run makes: a run reusing every checkpoint sends no extract request and may merge nothing.
    made: made.some((e) => e.kind === kind && (e.what === undefined || what(e.what))),
  });
  const chosen = [
    first('staging.write', 'after', (w) => w.endsWith('/manifest.json'), 'run manifest write'),
    first('run.claim', 'after'),
    first('warehouse.merge', 'before'),
    first('publish', 'before', (w) => w.startsWith(topics.runEvents), 'completion event'),
    first('checkpoint.record', 'after'),
    first('output.write', 'after', (w) => w.endsWith('/_manifest.json'), 'dataset manifest write'),
    first('run.create', 'before'),
    first('publish', 'after', (w) => w.startsWith(topics.extractRequests), 'extract request'),
    first('warehouse.extract', 'before'),
  ];
  const points: CrashPoint[] = chosen.filter((p) => p.made).slice(0, count);
  const spread = count - points.length;
  for (let i = 0; i < spread; i++) {
    const n = 1 + Math.floor(((i + 0.5) * made.length) / spread);
    const when: CrashWhen = i % 2 === 0 ? 'before' : 'after';
    points.push({ name: `${when} effect ${n}`, plan: (effects, from = 0) => effects.crashAt(from + n, when) });
  }
  return points;
}
