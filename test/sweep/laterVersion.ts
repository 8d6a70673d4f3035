// Sweep scenarios whose swept run is a pair's second version (sweep.ts Scenario): a first version
// runs fault-free, the warehouse may then change (tables touched), and the second version is asked
// for; only its side effects are crash points. After any crash, besides the swept run's invariants
// (invariants.ts runProblems): it follows the first version as its scenario says, every file its
// checkpoint records list is there, and once the next retention has run the world holds exactly
// what the fault-free world holds then, run ids named by role: nothing the kept dataset needs is
// gone, nothing else is left. The scenarios: refreshScenario.ts, touchScenario.ts.

import type { BusMessage } from '../../shared/adapters/local/bus.js';
import { silentLogger } from '../../shared/log.js';
import type { Config } from '../../shared/config.js';
import type { Clock, RunRecord } from '../../shared/ports.js';
import { collectGarbage } from '../../shared/retention.js';
import { MemoryObjectStore } from '../gcp/memoryStore.js';
import { outputOf, runProblems, type Baseline, type Observed } from './invariants.js';
import { MemoryRunStore } from './memoryPorts.js';
import type { Scenario } from './sweep.js';
import type { Base, World } from './world.js';

/** A run request's JSON (shared/chain/messages.ts). */
type Request = { pair: string } & Record<string, unknown>;

export interface LaterVersion {
  name: string;
  /** The first version's request. */
  first(pair: string): Request;
  /**
   * Changes the base's warehouse after the first version, once for the base (every later world
   * starts from a copy of that first version, so such a scenario runs on memory stores only).
   */
  change?(base: Base, world: World): Promise<void>;
  /** The second version's request: the swept run. */
  second(pair: string): Request;
  /** What the second version must be to the first (a refresh of it, say); a line a problem. */
  follows(run: RunRecord, first: RunRecord): string[];
}

/** A scenario of a second version, with its spec: the emulator sweep plays the same (emulatorWorld.ts `laterOnEmulators`). */
export interface LaterScenario extends Scenario {
  spec: LaterVersion;
}

/** What the checks of a second version read: a world of the sweep, or a case on the emulators. */
export interface LaterWorld extends Observed {
  config: Config;
  clock: Clock;
}

/** A second version's problem when it is not a refresh of the first (the `follows` of the refresh scenarios). */
export const refreshOfFirst = (run: RunRecord, first: RunRecord): string[] =>
  run.refresh?.from === first.runId ? [] : [`run ${run.runId} is not a refresh of the first version ${first.runId} (from ${run.refresh?.from})`];

export function laterVersion(spec: LaterVersion): LaterScenario {
  return {
    name: spec.name,
    spec,
    async before(world, pair) {
      const kept = firstVersions.get(world.base);
      if (kept) return restore(world, kept);
      if (spec.change && changed.has(world.base.shared)) throw new Error(`the ${spec.name} scenario changes its warehouse after the first version: it runs on memory stores only`);
      const first = await world.runRequest(spec.first(pair));
      if (first?.state !== 'succeeded') throw new Error(`the first version did not succeed: ${first ? `${first.state}: ${first.error}` : 'it never started'}`);
      const taken = capture(world);
      if (taken) firstVersions.set(world.base, taken);
      if (spec.change) {
        if (!taken) throw new Error(`the ${spec.name} scenario runs on memory stores only`);
        await spec.change(world.base, world);
        changed.add(world.base.shared);
      }
    },
    run: (world, pair) => world.runRequest(spec.second(pair)),
    check: (world, run, reference) => laterProblems(spec, world, run, reference),
    async after(world, run) {
      return held(world, run, await firstOf(world, run));
    },
  };
}

/** Warehouses a scenario changed after its first version. */
const changed = new WeakSet<object>();

/** A world's stores, bus log and clock once its first version succeeded. */
interface FirstVersion {
  staging: MemoryMaps;
  output: MemoryMaps;
  docs: Map<string, unknown>;
  events: BusMessage[];
  now: number;
}

interface MemoryMaps {
  objects: Map<string, Uint8Array>;
  generations: Map<string, number>;
}

/**
 * The first version as the first world of a base played it: every later world on memory stores
 * starts from a copy (about 1 s of the 2 s a world takes), the same ids included. The stores never
 * change a kept byte array or record in place (they replace them), so the copies share them.
 */
const firstVersions = new WeakMap<Base, FirstVersion>();

function capture(world: World): FirstVersion | undefined {
  const { staging, output, store } = world;
  if (!(staging instanceof MemoryObjectStore && output instanceof MemoryObjectStore && store instanceof MemoryRunStore)) return undefined;
  const maps = (s: MemoryObjectStore): MemoryMaps => ({ objects: new Map(s.objects), generations: new Map(s.generations) });
  const events = world.embedded.bus.published.get(world.config.topics.runEvents) ?? [];
  return { staging: maps(staging), output: maps(output), docs: new Map(store.docs), events: [...events], now: world.sim.now() };
}

function restore(world: World, kept: FirstVersion): void {
  const into = (s: MemoryObjectStore, from: MemoryMaps) => {
    for (const [name, bytes] of from.objects) s.objects.set(name, bytes);
    for (const [name, generation] of from.generations) s.generations.set(name, generation);
  };
  into(world.staging as MemoryObjectStore, kept.staging);
  into(world.output as MemoryObjectStore, kept.output);
  for (const [key, value] of kept.docs) (world.store as MemoryRunStore).docs.set(key, value);
  world.embedded.bus.published.set(world.config.topics.runEvents, [...kept.events]);
  world.sim.advanceTo(kept.now);
}

async function firstOf(world: LaterWorld, run: RunRecord): Promise<RunRecord | undefined> {
  return (await world.store.listRuns(run.pair)).find((r) => r.runId !== run.runId);
}

/** The swept run's invariants, and what it must be to the first version, before and after the next retention. */
export async function laterProblems(spec: LaterVersion, world: LaterWorld, run: RunRecord | undefined, reference: Baseline): Promise<string[]> {
  const problems = await runProblems(world, run, reference);
  if (run?.state !== 'succeeded') return problems;
  const first = await firstOf(world, run);
  if (!first || first.state !== 'succeeded') return [...problems, `no succeeded first version beside ${run.runId}`];
  problems.push(...spec.follows(run, first));
  const others = (await world.runEvents()).filter((e) => e.runId !== run.runId);
  if (others.some((e) => e.runId !== first.runId || e.status !== 'succeeded')) problems.push(`events about other runs: ${others.map((e) => `${e.runId} ${e.status}`).join(', ')}`);
  const missing = await missingFiles(world, run);
  problems.push(...missing);
  if (!reference.after) return problems;
  // The next retention (the next success's, or `bqx gc`) finishes what a crash cut short.
  const after = await held(world, run, first);
  const extra = after.filter((n) => !reference.after!.includes(n));
  const gone = reference.after.filter((n) => !after.includes(n));
  if (extra.length > 0) problems.push(`left after the next retention: ${list(extra)}`);
  if (gone.length > 0) problems.push(`gone after the next retention: ${list(gone)}`);
  if ((await outputOf(world, run)).digest !== reference.digest) problems.push('output differs after the next retention');
  // Files missing already are said once, above.
  if (missing.length === 0) problems.push(...(await missingFiles(world, run)).map((p) => `after the next retention, ${p}`));
  return problems;
}

/** The files the run's checkpoint records list (its own, and the first version's it builds on) that are not there. */
async function missingFiles(world: LaterWorld, run: RunRecord): Promise<string[]> {
  const missing: string[] = [];
  for (const record of await world.store.listCheckpoints(run.runId)) {
    for (const file of record.files) if ((await world.staging.size(file)) === undefined) missing.push(file);
  }
  return missing.length > 0 ? [`${missing.length} checkpoint file(s) the run lists are gone: ${list(missing)}`] : [];
}

/**
 * Runs the pair's retention (unwrapped stores: its deletes are not swept effects) and lists what
 * the world holds then, each run id named by its role.
 */
async function held(world: LaterWorld, run: RunRecord, first: RunRecord | undefined): Promise<string[]> {
  const deps = { store: world.store, staging: world.staging, output: world.output, clock: world.clock, logger: silentLogger, config: world.config };
  await collectGarbage(deps, run.pair, world.config.keep);
  // A merge claim is named by when its run began extracting, which a crash before that moves.
  const roles = (name: string) => name.split(run.runId).join('<second>').split(first?.runId ?? '<none>').join('<first>').replace(/\/merge_\d+/, '/merge_<since>');
  const { staging, output, store } = await world.inventory();
  return [...staging.map((n) => `staging/${n}`), ...output.map((n) => `output/${n}`), ...store.map((n) => `runstore/${n}`)].map(roles).sort();
}

const list = (names: readonly string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, ... (${names.length})` : ''}`;
