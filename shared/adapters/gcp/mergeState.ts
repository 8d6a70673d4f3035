// Where a run's merge stands, kept in the staging store beside its checkpoints:
//   runs/<runId>/merge/estimate-<fp>-<epoch>.json  the dry run's bytes and cost
//   runs/<runId>/merge/done-<fp>-<epoch>.json      the result of a finished merge
// `fp` fingerprints the checkpoint files (names and generations) and what the merge builds (its
// folder, shards and column groups): new checkpoints (a rerun of some features) give a new fp,
// hence new job ids and a fresh merge, while a redelivered request finds the jobs it started; a
// run's second merge (a refresh's relabelled shards) never takes the first one's result. `epoch` counts finished merges of the same checkpoints: a finished merge
// whose output files are still there is returned as it is; if they are gone, the next call merges
// again under epoch + 1. Both are derived from what is stored, so concurrent callers agree.

import { createHash } from 'node:crypto';
import { assertRunId, paths } from '../../naming.js';
import type { MergeJob, MergeResult, ObjectStore, StoredObject } from '../../ports.js';

export type FinishedMerge = Extract<MergeResult, { state: 'done' }>;

export interface MergeState {
  fp: string;
  epoch: number;
  /** The stored result, when this epoch finished and its files are all still there. */
  finished?: FinishedMerge;
}

export const mergeDir = (runId: string) => `runs/${assertRunId(runId)}/merge/`;
export const estimateObject = (runId: string, fp: string, epoch: number) => `${mergeDir(runId)}estimate-${fp}-${epoch}.json`;
export const doneObject = (runId: string, fp: string, epoch: number) => `${mergeDir(runId)}done-${fp}-${epoch}.json`;

/** A version of a stored object: its generation where the store gives one (GCS), else its size. */
const version = (o: StoredObject): string => {
  const generation = (o as StoredObject & { generation?: unknown }).generation;
  return generation !== undefined && generation !== null ? `g${String(generation)}` : `s${o.size}`;
};

/** Fingerprint of the checkpoint files the merge will load; throws if one is missing. */
export async function checkpointFingerprint(job: MergeJob, staging: ObjectStore): Promise<string> {
  const root = `runs/${assertRunId(job.runId)}/features/`;
  // Reused checkpoints live under the run that extracted them: list each such run's folder once.
  const roots = new Set([root]);
  for (const files of Object.values(job.checkpoints)) for (const name of files) roots.add(/^runs\/[^/]+\/features\//.exec(name)?.[0] ?? root);
  const listed = new Map((await Promise.all([...roots].map((r) => staging.list(r)))).flat().map((o) => [o.name, version(o)]));
  const hash = createHash('sha256');
  hash.update(`${job.outputPrefix}\n${job.shards.map((s) => `${s.id}:${s.start}/${s.end}`).join(',')}\n${job.plan.groups.map((g) => g.index).join(',')}\n`);
  for (const f of job.manifest.features) {
    const dir = paths.featureDir(job.runId, f.feature);
    const given = job.checkpoints[f.feature] ?? [];
    const files = given.length > 0 ? given : [...listed.keys()].filter((n) => n.startsWith(dir) && /^part-[^/]*\.parquet$/.test(n.slice(dir.length))).sort();
    if (files.length === 0) throw new Error(`feature ${f.feature} has no checkpoint files under ${dir}`);
    for (const name of files) {
      const v = listed.get(name);
      if (v === undefined) throw new Error(`checkpoint file ${name} of ${f.feature} is not in the staging bucket`);
      hash.update(`${name}@${v}\n`);
    }
  }
  return hash.digest('hex').slice(0, 12);
}

export async function mergeState(job: MergeJob, staging: ObjectStore, output: ObjectStore): Promise<MergeState> {
  const fp = await checkpointFingerprint(job, staging);
  const dir = mergeDir(job.runId);
  const pattern = new RegExp(`^done-${fp}-(\\d+)\\.json$`);
  const epochs = (await staging.list(dir)).map((o) => pattern.exec(o.name.slice(dir.length))).filter((m) => m !== null).map((m) => Number(m[1]));
  if (epochs.length === 0) return { fp, epoch: 0 };
  const last = Math.max(...epochs);
  const finished = JSON.parse(new TextDecoder().decode(await staging.read(doneObject(job.runId, fp, last)))) as FinishedMerge;
  const present = new Set((await output.list(job.outputPrefix)).map((o) => o.name));
  if (finished.groups.every((g) => g.files.length > 0 && g.files.every((f) => present.has(f)))) return { fp, epoch: last, finished };
  return { fp, epoch: last + 1 };
}

export async function recordFinished(staging: ObjectStore, runId: string, fp: string, epoch: number, result: FinishedMerge): Promise<void> {
  await staging.write(doneObject(runId, fp, epoch), JSON.stringify(result), { ifAbsent: true, contentType: 'application/json' });
}
