// What must hold after several pairs ran at once on one bus and one run store (the emulator sweep's
// four pairs; allPairs.test.ts checks the same for the 28 embedded): each pair's run succeeded with
// output byte-identical to its solo run, merged once, recorded each feature once, and only its own
// checkpoints or ones another of these runs extracted (reuse by content); one run per pair; one
// completion event per run; nothing stored that is not one of these runs' or the reuse index's.

import assert from 'node:assert/strict';
import type { RunRecord } from '../../shared/ports.js';
import { outputOf, type Observed } from './invariants.js';
import { ORDERLY, Simulation } from './simulation.js';
import { openWorld, type Base } from './world.js';

/** Each pair run alone, in order, on a fresh world over `base`: its output's digest, by pair. */
export async function soloDigests(base: Base, pairs: readonly string[]): Promise<Map<string, string>> {
  const solo = new Map<string, string>();
  for (const pair of pairs) {
    const world = await openWorld(base, new Simulation(1, ORDERLY));
    try {
      const run = (await world.runPair(pair))!;
      assert.equal(run.state, 'succeeded', `${pair} solo: ${run.error}`);
      solo.set(pair, (await outputOf(world, run)).digest);
    } finally {
      await world.close();
    }
  }
  return solo;
}

export async function togetherProblems(world: Observed, runs: Map<string, RunRecord | undefined>, solo: Map<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const ids = new Set<string>();
  const extracted = new Map<string, Set<string>>();
  for (const [pair, run] of runs) {
    if (run?.state !== 'succeeded') {
      problems.push(`${pair}: ${run ? `run ${run.state}: ${run.error}` : 'no run'}`);
      continue;
    }
    ids.add(run.runId);
    if ((await outputOf(world, run)).digest !== solo.get(pair)) problems.push(`${pair}: output differs from its solo run's`);
    if (run.mergeAttempts !== 1 || run.transitions.filter((t) => t.state === 'merging').length !== 1) problems.push(`${pair}: merged ${run.mergeAttempts} time(s)`);
    const records = await world.store.listCheckpoints(run.runId);
    if (records.length !== run.expected || new Set(records.map((r) => r.feature)).size !== run.expected) problems.push(`${pair}: ${records.length} checkpoint records, expected ${run.expected}`);
    extracted.set(run.runId, new Set(records.filter((r) => !r.reusedFrom).map((r) => r.feature)));
  }
  for (const run of runs.values()) {
    if (run?.state !== 'succeeded') continue;
    for (const c of await world.store.listCheckpoints(run.runId)) {
      const owner = c.reusedFrom ?? run.runId;
      if (!extracted.get(owner)?.has(c.feature)) problems.push(`${run.pair}: ${c.feature} recorded from ${owner}, which did not extract it`);
      if (!c.files.every((f) => f.startsWith(`runs/${owner}/`))) problems.push(`${run.pair}: ${c.feature} records files outside its owner's prefix: ${c.files.join(', ')}`);
    }
  }
  const inventory = await world.inventory();
  const runDocs = inventory.store.filter((d) => /^runs\/[^/]+$/.test(d));
  if (runDocs.length !== runs.size) problems.push(`${runDocs.length} run records for ${runs.size} pairs: ${runDocs.join(', ')}`);
  const events = await world.runEvents();
  for (const id of ids) {
    const own = new Set(events.filter((e) => e.runId === id).map((e) => JSON.stringify(e)));
    if (own.size !== 1) problems.push(`${id}: ${own.size} different completion events`);
  }
  if (events.some((e) => !ids.has(e.runId) || e.status !== 'succeeded')) problems.push(`events about other runs or not succeeded: ${events.map((e) => `${e.runId} ${e.status}`).join(', ')}`);
  const stray = inventory.staging.filter((o) => !o.startsWith('checkpoints/index/') && ![...ids].some((id) => o.startsWith(`runs/${id}/`)));
  if (stray.length > 0) problems.push(`staging objects of no run: ${stray.slice(0, 5).join(', ')}`);
  if ((await world.store.listActiveRuns()).length > 0) problems.push('a run is still active');
  return problems;
}
