// `npm run sweep [-- --schedules N] [--json]`: the exhaustive crash sweep plus N randomized
// schedules (seeds 1..N; with `--first-seed F`, F..F+N-1: schedules no earlier sweep played).
// `--seed S` replays one schedule, `--crash before:K` one crash point, exactly as the sweep played
// them. Instead of one run, `--scenario refresh` sweeps a refresh after
// a first version (refreshScenario.ts), `--scenario touch` a run after two tables were touched
// (touchScenario.ts), `--scenario drift` a refresh after a table was added (driftScenario.ts),
// `--scenario rerun` a run again with nothing changed (rerunScenario.ts). `--emulators` plays
// crash points through the deployed functions instead (emulatorSweep.ts): of one run, or with
// `--scenario refresh` or `rerun` of that second version. Exit code 1 when an invariant was violated.

import { parseArgs } from 'node:util';
import { baseline, crashedRun, exhaustive, ONE_RUN, randomized, schedule, sortOut, violation, type Scenario, type SweepResult, type Violation } from './sweep.js';
import { REFRESH, REFRESH_SHAPE } from './refreshScenario.js';
import { TOUCH, TOUCH_SHAPE } from './touchScenario.js';
import { DRIFT, DRIFT_SHAPE } from './driftScenario.js';
import { RELABEL, RELABEL_SHAPE } from './relabelScenario.js';
import { RERUN, RERUN_SHAPE } from './rerunScenario.js';
import { ORDERLY, Simulation } from './simulation.js';
import { openBase, SHAPES, type StoreKind, type SweepShape } from './world.js';
import type { LaterScenario } from './laterVersion.js';

/** Each scenario with its shape (the one run's is chosen with --shape, the others' are their own), and whether it needs memory stores. */
const SCENARIOS: Record<string, { scenario: Scenario; shape?: SweepShape; memoryOnly?: true }> = {
  run: { scenario: ONE_RUN },
  refresh: { scenario: REFRESH, shape: REFRESH_SHAPE },
  touch: { scenario: TOUCH, shape: TOUCH_SHAPE, memoryOnly: true },
  drift: { scenario: DRIFT, shape: DRIFT_SHAPE, memoryOnly: true },
  rerun: { scenario: RERUN, shape: RERUN_SHAPE },
  relabel: { scenario: RELABEL, shape: RELABEL_SHAPE, memoryOnly: true },
};

const usage = `usage: npm run sweep -- [--scenario run|refresh|touch|drift|rerun|relabel] [--schedules N] [--first-seed F] [--seed S] [--crash before:K|after:K] [--shape compact|wide] [--stores memory|files] [--json]
       npm run sweep -- --emulators [--scenario run|refresh|rerun] [--points N] [--json]`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      schedules: { type: 'string', default: '500' },
      'first-seed': { type: 'string' },
      seed: { type: 'string' },
      crash: { type: 'string' },
      scenario: { type: 'string', default: 'run' },
      shape: { type: 'string' },
      stores: { type: 'string', default: 'memory' },
      json: { type: 'boolean', default: false },
      emulators: { type: 'boolean', default: false },
      points: { type: 'string', default: '24' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const whole = (text: string, what: string) => {
    if (!/^\d+$/.test(text)) throw new UsageError(`${what} ${JSON.stringify(text)} must be a whole number`);
    return Number(text);
  };
  const played = SCENARIOS[values.scenario];
  if (!played) throw new UsageError(`--scenario ${JSON.stringify(values.scenario)} must be ${Object.keys(SCENARIOS).join(' or ')}`);
  if (played.shape && values.shape !== undefined) throw new UsageError(`--shape is for --scenario run; --scenario ${values.scenario} has its own`);
  const shape = played.shape ?? SHAPES[values.shape ?? 'compact'];
  if (!shape) throw new UsageError(`--shape ${JSON.stringify(values.shape)} must be ${Object.keys(SHAPES).join(' or ')}`);
  if (values.stores !== 'memory' && values.stores !== 'files') throw new UsageError(`--stores ${JSON.stringify(values.stores)} must be memory or files`);
  if (played.memoryOnly && values.stores !== 'memory') throw new UsageError(`--scenario ${values.scenario} changes its warehouse after the first version: it runs on memory stores only`);
  const crash = values.crash === undefined ? undefined : /^(before|after):(\d+)$/.exec(values.crash);
  if (values.crash !== undefined && !crash) throw new UsageError(`--crash ${JSON.stringify(values.crash)} must be before:K or after:K`);
  const schedules = whole(values.schedules, '--schedules');
  const firstSeed = values['first-seed'] === undefined ? 1 : whole(values['first-seed'], '--first-seed');
  if (firstSeed < 1) throw new UsageError('--first-seed must be 1 or more');
  if (values['first-seed'] !== undefined && (values.seed !== undefined || crash || values.emulators)) {
    throw new UsageError('--first-seed chooses the randomized schedules of a whole sweep: not with --seed, --crash or --emulators');
  }
  if (values.emulators) {
    if (played.memoryOnly) throw new UsageError(`--scenario ${values.scenario} changes its warehouse after the first version: it runs on the embedded sweep's memory stores only, not --emulators`);
    const later = played.scenario === ONE_RUN ? undefined : { scenario: played.scenario as LaterScenario, shape: played.shape! };
    return onEmulators(whole(values.points, '--points'), values.json, later);
  }

  const began = Date.now();
  // On a terminal a counter; otherwise (a log, a CI) a line now and then, so a long sweep shows it is alive.
  const progress = (what: string) => (done: number, total: number, found: Violation[]) => {
    const { violations, known } = sortOut(found);
    const line = `${what} ${done}/${total} (${violations.length} violations, ${known.length} known)`;
    if (process.stderr.isTTY && !values.json) {
      if (done % 10 === 0 || done === total) process.stderr.write(`\r${line}   `);
    } else if (done % 250 === 0 || done === total) {
      process.stderr.write(`${new Date().toISOString()} ${line}${violations.length ? `: ${violations.map((v) => v.case).join(', ')}` : ''}\n`);
    }
  };
  const base = await openBase(shape, values.stores as StoreKind);
  try {
    const reference = await baseline(base, played.scenario);
    const result: SweepResult = { crashPoints: 0, schedules: 0, violations: [], known: [], effects: reference.effects.length, ms: 0 };
    if (values.seed !== undefined || crash) {
      let problems: string[];
      let name: string;
      if (crash) {
        const n = whole(crash[2]!, '--crash');
        name = `crash ${crash[1]} effect ${n} (${reference.effects[n - 1] ?? 'beyond the run'})`;
        problems = await crashedRun(base, reference, [{ n, when: crash[1] as 'before' | 'after' }], new Simulation(1, ORDERLY));
        result.crashPoints = 1;
      } else {
        name = `seed ${values.seed}`;
        problems = await schedule(base, reference, whole(values.seed!, '--seed'));
        result.schedules = 1;
      }
      Object.assign(result, sortOut(problems.length > 0 ? [violation(name, '', problems)] : []));
    } else {
      const crashes = await exhaustive(base, reference, progress('crash points'));
      const seeds = Array.from({ length: schedules }, (_, i) => firstSeed + i);
      const random = await randomized(base, reference, seeds, progress('schedules'));
      result.crashPoints = reference.effects.length * 2;
      result.schedules = schedules;
      result.seeds = seeds.length > 0 ? [seeds[0]!, seeds.at(-1)!] : [];
      Object.assign(result, sortOut([...crashes, ...random]));
    }
    result.ms = Date.now() - began;
    if (!values.json && process.stderr.isTTY) process.stderr.write('\n');
    print(values.scenario, result, values.json, base.shared.stats);
    return result.violations.length > 0 ? 1 : 0; // known findings are reported, not failed on
  } finally {
    await base.close();
  }
}

function print(scenario: string, result: SweepResult, json: boolean, stats: object): void {
  if (json) {
    console.log(JSON.stringify({ scenario, crashPoints: result.crashPoints, schedules: result.schedules, ...(result.seeds ? { seeds: result.seeds } : {}), violations: result.violations, known: result.known, effects: result.effects, ms: result.ms }));
    return;
  }
  console.log(`scenario                             ${scenario}`);
  console.log(`side effects in the fault-free run  ${result.effects}`);
  console.log(`crash points                         ${result.crashPoints}`);
  console.log(`randomized schedules                 ${result.schedules}${result.seeds?.length ? ` (seeds ${result.seeds[0]} to ${result.seeds[1]})` : ''}`);
  console.log(`violations                           ${result.violations.length}`);
  console.log(`known findings (not failed on)       ${result.known.length}`);
  console.log(`time                                 ${(result.ms / 1000).toFixed(1)} s`);
  console.log(`warehouse jobs                       ${JSON.stringify(stats)}`);
  for (const v of result.violations.slice(0, 50)) console.log(describe(v));
  if (result.violations.length > 50) console.log(`... and ${result.violations.length - 50} more`);
  for (const why of new Set(result.known.map((k) => k.known))) {
    const cases = result.known.filter((k) => k.known === why).map((k) => k.case);
    console.log(`KNOWN ${why}\n  ${cases.length} case(s): ${cases.slice(0, 8).join(', ')}${cases.length > 8 ? ', ...' : ''}`);
  }
}

/** The sweep on the emulators (emulatorSweep.ts); exit 0 also when skipped, which it says. */
async function onEmulators(points: number, json: boolean, later?: { scenario: LaterScenario; shape: SweepShape }): Promise<number> {
  // Loaded only here: it serves the functions and brings in the Google Cloud clients.
  const { emulatorSweep } = await import('./emulatorSweep.js');
  const result = await emulatorSweep(points, (done, total) => process.stderr.write(`${new Date().toISOString()} emulator cases ${done}/${total}\n`), later);
  const scenario = later?.scenario.name ?? 'run';
  if (!result) return 0;
  if (json) {
    console.log(JSON.stringify({ scenario, crashPoints: result.crashPoints, pairsTogether: result.pairsTogether, violations: result.violations, crashed: result.crashed, reconcilerCalls: result.reconcilerCalls, ms: result.ms }));
  } else {
    console.log(`scenario                               ${scenario}${later ? ' (its fault-free play first)' : ''}`);
    console.log(`crash points on the emulators          ${result.crashPoints}`);
    if (!later) console.log(`pairs at once on the emulators         ${result.pairsTogether}`);
    console.log(`violations                             ${result.violations.length}`);
    console.log(`reconciler calls                       ${result.reconcilerCalls}`);
    console.log(`time                                   ${(result.ms / 1000).toFixed(1)} s`);
    console.log(`crashed at                             ${result.crashed.join(', ')}`);
    for (const v of result.violations) console.log(describe(v));
  }
  return result.violations.length > 0 ? 1 : 0;
}

function describe(v: Violation): string {
  return `VIOLATION ${v.case}${v.replay ? ` (replay: ${v.replay})` : ''}\n  - ${v.problems.join('\n  - ')}`;
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`sweep: ${(error as Error).message}\n${usage}`);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
