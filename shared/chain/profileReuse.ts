// What a run's profile can build on (shared/profile/reuseStats.ts): the raw column profile kept with
// an earlier succeeded dataset of the pair (shared/profile/storedProfile.ts), and what this run's
// columns are read from, to compare. Only datasets of runs started before this one count: a run
// sees checkpoints as they were when it started, so an earlier run's files are the ones this run
// reuses (a run re-merged after `bqx rerun` never takes numbers a later run measured). With
// `--no-reuse` (every feature's reason) nothing is taken: the profile is measured from scratch.

import type { RunManifest } from '../manifest.js';
import { paths } from '../naming.js';
import type { CheckpointRecord, RunRecord } from '../ports.js';
import { reusableColumns, type EarlierColumns } from '../profile/reuseStats.js';
import { readStoredColumns, readStoredSample, unstorable, writeStoredProfile, type StoredColumns } from '../profile/storedProfile.js';
import type { MeasuredColumns, ProfileBasis } from '../profile/types.js';
import type { ChainDeps } from './deps.js';
import { REASONS } from './reuse.js';

/** Earlier datasets looked at, newest first: the kept ones (retention keeps 3 by default). */
const CANDIDATES = 3;

/** What this run's output columns are read from. */
export function profileBasis(manifest: RunManifest, run: RunRecord, checkpoints: readonly CheckpointRecord[], profiledWith: string): ProfileBasis {
  const files = new Map(checkpoints.map((c) => [c.feature, c.files]));
  return {
    window: { start: run.window.start, end: run.window.end },
    key: manifest.key,
    rows: run.labelRows,
    profiledWith,
    labels: { dataset: manifest.labels.dataset, table: manifest.labels.table, version: manifest.labels.versions?.window ?? null, columns: [...manifest.labels.columns] },
    features: manifest.features.map((f) => ({
      feature: f.feature,
      fingerprint: f.fingerprint ?? null,
      files: files.get(f.feature) ?? [],
      columns: f.columns.map((c) => ({ source: c.source, output: c.output, type: c.type })),
    })),
  };
}

/**
 * The earlier dataset whose stored columns this run can take the most of (`from`: that run
 * only), with those columns; or why there is none.
 */
export async function earlierColumns(
  deps: Pick<ChainDeps, 'store' | 'output'>,
  run: RunRecord,
  manifest: RunManifest,
  basis: ProfileBasis,
  from?: string,
): Promise<{ columns: EarlierColumns; reusable: string[] } | { why: string }> {
  if (manifest.features.every((f) => f.reason === REASONS.off)) return { why: 'reuse turned off' };
  const runs = (await deps.store.listRuns(run.pair))
    .filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all' && r.output && r.createdAt < run.createdAt && r.runId !== run.runId && (!from || r.runId === from))
    .filter((r) => r.window.start === run.window.start && r.window.end === run.window.end)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
    .slice(0, CANDIDATES);
  let best: { runId: string; head: StoredColumns; reusable: string[] } | undefined;
  let why = 'no earlier dataset of this window with a stored profile';
  for (const r of runs) {
    const head = await readStoredColumns(deps.output, paths.outputProfile(r.pair, r.runId));
    if (!head) continue;
    const plan = reusableColumns(head.basis, basis);
    if (plan.why) why = plan.why;
    if (plan.columns.length > (best?.reusable.length ?? 0)) best = { runId: r.runId, head, reusable: plan.columns };
  }
  if (!best) return { why };
  const values = await readStoredSample(deps.output, paths.outputProfile(run.pair, best.runId), best.head);
  if (!values) return { why: `the stored profile of ${best.runId} is incomplete` };
  return { columns: { from: best.runId, basis: best.head.basis, columns: best.head.columns, sample: { rows: best.head.sampleRows, values } }, reusable: best.reusable };
}

/**
 * Keeps the dataset's raw column profile beside its report.json, for the next run to build on; or,
 * without one (BQX_PROFILE=keys, or columns the warehouse gave no sample of), removes any older one
 * there, which would no longer describe the dataset. Only a later run's speed depends on it.
 */
export async function keepProfile(deps: Pick<ChainDeps, 'output' | 'logger'>, run: RunRecord, stored?: { basis: ProfileBasis; data: MeasuredColumns }): Promise<void> {
  const objects = paths.outputProfile(run.pair, run.runId);
  const problem = stored && unstorable(stored.data);
  if (stored && !problem) return writeStoredProfile(deps.output, objects, stored.basis, stored.data);
  if (problem) deps.logger.warn(`the raw column profile is not kept (${problem}): the next run measures every column`, { runId: run.runId, pair: run.pair, step: 'profile' });
  await deps.output.deletePrefix(objects.dir);
}
