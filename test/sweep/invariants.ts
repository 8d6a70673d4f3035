// What must hold after any run the sweep plays, however it was crashed, duplicated or reordered:
// the run succeeded with output byte-identical to the fault-free run's; it moved to merging once;
// every feature was recorded once; one completion event (sent again, identical, only when a crash
// fell between sending it and recording it); and nothing stored outside the run's own prefixes
// (staging runs/<runId>/, output training/<pair>/<runId>/, its run-store records), which is what
// retention removes with the run. The one exception is shared on purpose: the reuse index
// (staging checkpoints/index/<feature>/<fingerprint>.json, shared/chain/reuse.ts), which outlives
// the run so later runs can build on its checkpoints; each entry must index a checkpoint this run
// recorded and extracted itself, exactly (its files, under the run's prefix, their sizes), named
// by that record's fingerprint (retention keeps the entries records name), and each checkpoint it
// extracted under a fingerprint must have its entry.

import { createHash } from 'node:crypto';
import { bytesDigest } from './digest.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { reuseIndex, type IndexEntry } from '../../shared/chain/reuse.js';
import type { RunManifest } from '../../shared/manifest.js';
import { paths } from '../../shared/naming.js';
import type { RunRecord } from '../../shared/ports.js';
import type { ObjectStore, RunStore } from '../../shared/ports.js';
import type { Inventory, World } from './world.js';

export interface Baseline {
  digest: string;
  rows: number;
  columns: number;
  expected: number;
  /** Kinds of the fault-free run's side effects, in order. */
  effects: string[];
  /**
   * What the world held once the next retention had run after it, run ids named by their role
   * (sweep.ts Scenario `after`); only scenarios that compare it keep it.
   */
  after?: string[];
}

/** What the checks look at: a world of the embedded sweep, or a run on the emulator stack (emulatorWorld.ts). */
export interface Observed {
  staging: ObjectStore;
  output: ObjectStore;
  store: RunStore;
  inventory(): Promise<Inventory>;
  /** Every event published on the run-events topic so far, decoded. */
  runEvents(): Promise<RunEventSeen[]>;
}

export interface RunEventSeen {
  runId: string;
  status: string;
  landed: number;
}

interface OutputManifest {
  rows: number;
  columns: number;
  groups: { objects: string[]; columns: string[] }[];
}

/** A digest of the output's parquet bytes, group by group, and its shape. */
export async function outputOf(world: Pick<Observed, 'output'>, run: RunRecord): Promise<{ digest: string; rows: number; columns: number }> {
  const store = world.output;
  const manifest = JSON.parse(Buffer.from(await store.read(run.output!.manifest)).toString('utf8')) as OutputManifest;
  const hash = createHash('sha256');
  for (const g of manifest.groups) {
    hash.update(g.columns.join(','));
    for (const o of g.objects) hash.update(bytesDigest(await store.read(o)));
  }
  return { digest: hash.digest('hex'), rows: manifest.rows, columns: manifest.columns };
}

/**
 * The reference of the fault-free run `run`, whose side effects are the world's from effect `from`
 * on (0: all of them), checked with `check` (default: a run alone in its world).
 */
export async function baselineOf(
  world: World,
  run: RunRecord | undefined,
  from = 0,
  check: (reference: Baseline) => Promise<string[]> = (reference) => checkRun(world, run, reference),
): Promise<Baseline> {
  if (run?.state !== 'succeeded') throw new Error(`the fault-free run did not succeed: ${run ? `${run.state}: ${run.error}` : 'it never started'}`);
  const reference = { ...(await outputOf(world, run)), expected: run.expected, effects: world.effects.log.slice(from).map((e) => e.kind) };
  const problems = await check(reference);
  if (problems.length > 0) throw new Error(`the fault-free run breaks the invariants: ${problems.join('; ')}`);
  return reference;
}

/** The invariants of a run alone in its world; each problem is one line naming what broke. */
export async function checkRun(world: Observed, run: RunRecord | undefined, baseline: Pick<Baseline, 'digest' | 'rows' | 'columns'>): Promise<string[]> {
  const problems = await runProblems(world, run, baseline);
  if (run?.state !== 'succeeded') return problems;
  const events = await world.runEvents();
  const others = events.filter((e) => e.runId !== run.runId).length;
  if (others > 0) problems.push(`${others} event(s) about other runs`);
  const inventory = await world.inventory();
  const index = await indexProblems(world, inventory, run);
  problems.push(...index.problems, ...leftovers(inventory, run, index.valid));
  return problems;
}

/**
 * What must hold of the swept run itself, whatever ran before it in its world: it succeeded with
 * the fault-free run's output, moved to merging once, recorded every feature once, sent its
 * completion event (the same one, if twice), and left its pair without an active run.
 */
export async function runProblems(world: Observed, run: RunRecord | undefined, baseline: Pick<Baseline, 'digest' | 'rows' | 'columns'>): Promise<string[]> {
  if (!run) return ['no run was ever created'];
  const problems: string[] = [];
  const { runId, pair } = run;
  if (run.state !== 'succeeded') return [`run ${run.state}${run.error ? `: ${run.error}` : ''}`];

  const out = await outputOf(world, run);
  if (out.digest !== baseline.digest) problems.push('output differs from the fault-free run\'s');
  if (out.rows !== baseline.rows || out.columns !== baseline.columns) problems.push(`output is ${out.rows} x ${out.columns}, expected ${baseline.rows} x ${baseline.columns}`);

  const merging = run.transitions.filter((t) => t.state === 'merging').length;
  if (merging !== 1 || run.mergeAttempts !== 1) problems.push(`merge claimed ${merging} time(s), ${run.mergeAttempts} merge attempt(s)`);
  const inventory = await world.inventory();
  const claims = inventory.store.filter((d) => d.startsWith(`claims/${runId}/`));
  if (claims.length > 1) problems.push(`${claims.length} merge claim records`);

  const records = await world.store.listCheckpoints(runId);
  const features = new Set(records.map((r) => r.feature));
  if (records.length !== run.expected || features.size !== run.expected) problems.push(`${records.length} checkpoint records for ${features.size} features, expected ${run.expected}`);

  const events = await world.runEvents();
  const own = events.filter((e) => e.runId === runId);
  // At least once: a crash between publishing the event and recording that it went out sends it
  // again, the same event; consumers key on the run id. Never zero, never two different ones.
  if (own.length === 0) problems.push('completion event never published');
  if (new Set(own.map((e) => JSON.stringify(e))).size > 1) problems.push(`${own.length} different completion events`);
  if (own.some((e) => e.status !== 'succeeded' || e.landed !== run.expected)) problems.push(`completion event says ${own.map((e) => `${e.status} ${e.landed}/${run.expected}`).join(', ')}`);

  if (await world.store.activeRun(pair)) problems.push(`pair ${pair} still has an active run`);
  return problems;
}

/**
 * The reuse index entries in staging: each must name a feature this run recorded (extracted, not
 * reused), with exactly that record's files, all under the run's prefix and of the sizes indexed.
 * An entry pointing anywhere else would make a later run reuse files that are not a checkpoint.
 */
async function indexProblems(world: Observed, inventory: Inventory, run: RunRecord): Promise<{ problems: string[]; valid: Set<string> }> {
  const problems: string[] = [];
  const valid = new Set<string>();
  const names = inventory.staging.filter((n) => n.startsWith('checkpoints/index/'));
  const records = new Map((await world.store.listCheckpoints(run.runId)).map((r) => [r.feature, r]));
  for (const name of names) {
    let entry: IndexEntry;
    try {
      entry = JSON.parse(Buffer.from(await world.staging.read(name)).toString('utf8')) as IndexEntry;
    } catch {
      problems.push(`unreadable reuse index entry ${name}`);
      continue;
    }
    const record = records.get(entry.feature);
    const sizes = await Promise.all(entry.files.map((f) => world.staging.size(f)));
    const why =
      name !== reuseIndex.entry(entry.feature, entry.fingerprint) ? 'is not at its feature and fingerprint'
      : entry.runId !== run.runId ? `names run ${entry.runId}`
      : !record || record.reusedFrom ? 'indexes a checkpoint the run did not extract'
      : JSON.stringify(entry.files) !== JSON.stringify(record.files) || entry.rows !== record.rows ? 'differs from the run\'s checkpoint record'
      : record.fingerprint !== entry.fingerprint ? 'is not the one the run\'s checkpoint record names (retention would remove it)'
      : !entry.files.every((f) => f.startsWith(`runs/${run.runId}/`)) ? 'points outside the run\'s prefix'
      : sizes.some((n, i) => n !== entry.sizes[i]) ? 'has sizes its files do not have'
      : undefined;
    if (why) problems.push(`reuse index entry ${name} ${why}`);
    else valid.add(name);
  }
  // And the other way: each checkpoint the run extracted under a fingerprint is indexed, or no
  // later run could reuse it (a landing crashed between its record and its entry re-extracted it).
  const manifest = JSON.parse(Buffer.from(await world.staging.read(run.manifestObject)).toString('utf8')) as RunManifest;
  for (const f of manifest.features) {
    const record = records.get(f.feature);
    if (f.fingerprint && record && !record.reusedFrom && !valid.has(reuseIndex.entry(f.feature, f.fingerprint))) problems.push(`the checkpoint of ${f.feature} is not in the reuse index`);
  }
  return { problems, valid };
}

/**
 * Findings the sweep reports but does not count as violations, each with why. A violation whose
 * every problem matches one of these is listed as known; anything else fails the sweep.
 */
export const KNOWN_FINDINGS: { pattern: RegExp; why: string }[] = [
  // None today. The one there was (startRun dying between writing the run's manifest and creating
  // the run left the manifest under an id no run would ever have) is fixed: a request's every
  // delivery gets the same run id (naming.ts requestRunId); sweep.test.ts shows it ("startRun crashing between the manifest and the run record").
];

export function knownFinding(problems: string[]): string | undefined {
  const whys = problems.map((p) => KNOWN_FINDINGS.find((k) => k.pattern.test(p))?.why);
  return whys.length > 0 && whys.every((w) => w !== undefined) ? [...new Set(whys)].join('; ') : undefined;
}

/** Everything stored that is not the run's own: what retention of the run would leave behind. */
function leftovers(inventory: Inventory, run: RunRecord, indexed: Set<string>): string[] {
  const { runId, pair } = run;
  const own = (where: string, names: string[], prefixes: string[]) => names.filter((n) => !prefixes.some((p) => n.startsWith(p))).map((n) => `${where}/${n}`);
  const stray = [
    // Valid reuse index entries are shared on purpose (indexProblems checked each); any other is a leak.
    ...own('staging', inventory.staging.filter((n) => !indexed.has(n)), [`runs/${runId}/`]),
    ...own('output', inventory.output, [paths.outputDir(pair, runId)]),
    ...own('runstore', inventory.store, [`runs/${runId}`, `pairs/${pair}`, `claims/${runId}/`, `checkpoints/${runId}/`]),
  ];
  return stray.length > 0 ? [`left outside the run's prefixes: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? `, ... (${stray.length})` : ''}`] : [];
}

/** Every file under a folder (relative names), temp folders included. */
export async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), name);
      else out.push(name);
    }
  };
  await walk(root, '');
  return out.sort();
}
