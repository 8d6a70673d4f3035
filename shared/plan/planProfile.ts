// The last BigQuery work of a run, in a plan: the dataset profile mergeRun takes after the merge
// (shared/chain/quality.ts), over the output the merge leaves (planOutput.ts). The job is the one
// checkQuality builds (its profileInput, and the scan state kept at its scan point shard's first row), and
// the core's own profileDataset (or profileKeys with BQX_PROFILE=keys) drives the warehouse, so the
// plan holds the profile's statements as the adapter sends them: each group loaded into a scratch
// table, the batches of measures and sample, the key gaps, the fold rows. The recording client
// answers them with no rows, a pass that finds nothing: what the core asks for what a pass finds
// (the count of values beyond 10 sd, the tails, the duplicate and leakage candidates' comparisons) is then
// not asked, and not in the plan (test/gcp/googleSqlProfile.test.ts analyzes those statements).

import type { Config } from '../config.js';
import { scanPointShard } from '../chain/profileReuse.js';
import { profileInput, scanJob } from '../chain/quality.js';
import type { RunManifest } from '../manifest.js';
import type { MergedShard, RunRecord, Warehouse } from '../ports.js';
import { sampleRows } from '../profile/columnScan.js';
import { profileDataset, profileKeys, sampleLayout, type ProfileInput } from '../profile/profile.js';
import { SCAN_FIELDS } from '../profile/scanState.js';
import type { ProfileJob, ProfileSettings } from '../profile/types.js';
import type { PlannedOutput } from './planOutput.js';

export interface PlannedProfile {
  mode: Config['profile']['mode'];
  job: ProfileInput;
  settings: ProfileSettings;
  /** The run whose stored profile the dataset takes, sending nothing (a refresh with nothing new: every shard shared). */
  takenFrom?: string;
}

/**
 * The profile job of a run whose merge leaves `output`. `refresh`: the shards a refresh builds
 * (the others are the previous version's) and where that version ended: its column pass carries on
 * from the previous version's scan state, as on a real refresh (`relabelled`: the rebuilt shards
 * whose label groups alone it builds).
 */
export function plannedProfile(
  config: Config,
  manifest: RunManifest,
  run: Pick<RunRecord, 'runId' | 'pair' | 'window' | 'labelRows'>,
  output: PlannedOutput,
  refresh?: { rebuilt: ReadonlySet<string>; since: string; relabelled?: ReadonlySet<string> },
): PlannedProfile {
  const { input, settings } = profileInput(config.profile, manifest, run, output.groups);
  // BQX_PROFILE=keys reads the key of group 0 only, and keeps no scan state.
  if (config.profile.mode === 'keys') return { mode: 'keys', job: input, settings };
  const resume = refresh && plannedResume(input, output.shards, { ...refresh, ...(output.grown ? { grown: output.grown } : {}) }, config.profile.warmupRows);
  return { mode: 'full', job: scanJob(input, output.shards, run.window.end, resume), settings };
}

/**
 * What a refresh's profile carries on from (shared/chain/profileReuse.ts `earlierScan`). The
 * previous version (ended at `since`) kept its scan state after its last row and at its scan point
 * (the first row of the first shard ending after `since` less the labels' lookahead,
 * `scanPointShard`), with the same settings and sample layout. `rebuilt`: the shards this run
 * builds, `relabelled` among them those whose label groups alone it builds. Where its first shard
 * built whole is `grown` by a part or starts at `since`, every group whose earlier files are all the
 * previous version's (every group, or where labels changed before `since` all but the label groups)
 * carries on from its end (`resumeEnd`, or `resume` when that is every group): its rows before the
 * part count as carried, and its file there is not read. The rest carry on from the scan point
 * (`resume`) where nothing before its shard is rebuilt, else measure every row. The numbers are
 * zeros and NaN: what is sent depends on the files and the row, not on them. Undefined when nothing
 * is carried.
 */
export function plannedResume(
  job: ProfileInput,
  shards: readonly MergedShard[],
  refresh: { rebuilt: ReadonlySet<string>; since: string; grown?: { id: string; rowsBefore: number; relabelled?: boolean }; relabelled?: ReadonlySet<string> },
  warmupRows: number,
): Pick<ProfileInput, 'resume' | 'resumeEnd'> | undefined {
  const { rebuilt, grown } = refresh;
  const relabelled = refresh.relabelled ?? new Set<string>();
  const first = shards.findIndex((s) => rebuilt.has(s.id));
  if (first < 0) return undefined;
  const sample = (row: number) => sampleRows(job.rows, { warmupRows, ...sampleLayout(job.rows) }).filter((r) => r < row);
  const carried = (row: number, groups: ProfileInput['groups'], readFrom: number, skipPart: boolean) => {
    const columns = groups.flatMap((g) => g.columns.filter((c) => c !== job.key));
    const rows = sample(row);
    // One array of NaN for every column: the earlier values are only read, and 17,038 copies would be tens of MB.
    const missing = new Float64Array(rows.length).fill(NaN);
    // The files from shard `readFrom` on; a grown shard's first file is its earlier part (planOutput.ts): carried, not read.
    const filesOf = (index: number) => shards.slice(readFrom).flatMap((s, k) => (s.groups.find((x) => x.index === index)?.files ?? []).slice(skipPart && k === 0 && s.id === grown?.id ? 1 : 0));
    return {
      groups: groups.map((g) => ({ index: g.index, files: filesOf(g.index) })),
      from: { state: { row, columns, values: new Float64Array(columns.length * SCAN_FIELDS) }, sample: { rows, values: Object.fromEntries(columns.map((c) => [c, missing])) } },
    };
  };
  // The groups whose earlier files are all the previous version's: every one unless labels changed before `since`.
  const labelled = new Set(job.labels);
  const late = relabelled.size > 0 || grown?.relabelled ? job.groups.filter((g) => !g.columns.some((c) => labelled.has(c))) : job.groups;
  const whole = shards.findIndex((s) => rebuilt.has(s.id) && !relabelled.has(s.id));
  const grows = whole >= 0 && shards[whole]!.id === grown?.id;
  const endRow = whole < 0 ? 0 : shards.slice(0, whole).reduce((n, s) => n + s.rows, 0) + (grows ? grown!.rowsBefore : 0);
  const fromEnd = (grows || (whole >= 0 && shards[whole]!.start >= refresh.since)) && endRow > 0 && late.length > 0 ? carried(endRow, late, whole, true) : undefined;
  if (fromEnd && late.length === job.groups.length) return { resume: fromEnd };
  // The previous version's shards up to `since` are this run's (shared or rebuilt alike); no shard before the point's may be rebuilt, in any group.
  const point = scanPointShard(shards.filter((s) => s.start < refresh.since), refresh.since);
  const pointRow = shards.slice(0, point).reduce((n, s) => n + s.rows, 0);
  const fromPoint = point <= first && pointRow > 0 ? carried(pointRow, job.groups, point, false) : undefined;
  if (!fromEnd && !fromPoint) return undefined;
  return { ...(fromPoint ? { resume: fromPoint } : {}), ...(fromEnd ? { resumeEnd: fromEnd } : {}) };
}

/** Sends the profile's statements through `warehouse`, as checkQuality does. */
export async function recordProfile(warehouse: Warehouse, profile: PlannedProfile): Promise<void> {
  if (profile.takenFrom !== undefined) return;
  if (profile.mode === 'keys') await profileKeys(warehouse, profile.job, profile.settings);
  else await profileDataset(warehouse, profile.job, profile.settings);
}

/** plan.json's `profile`: what the profile statements are of, and what the plan cannot list. */
export interface ProfileSummary {
  mode: PlannedProfile['mode'];
  /** The dataset the profile reads: its groups, files and rows. */
  groups: number;
  files: number;
  rows: number;
  /** The row whose scan state a run keeps for a later refresh (its scan point shard's first row), with 2 shards or more. */
  snapshotAt?: number;
  /** A refresh: the row its column pass carries on from, and the files of the shards it rebuilds. */
  resume?: { row: number; files: number };
  /** A refresh whose label groups alone were rebuilt before its end: the other groups carry on from the previous version's end (this row), reading these files. */
  resumeEnd?: { row: number; groups: number; files: number };
  /** The run whose profile the dataset takes (no statement). */
  takenFrom?: string;
  note: string;
}

const NOTES = {
  full:
    'profile_beyond, profile_tails and profile_compare statements depend on what the column pass finds: a run counts the values beyond 10 sd ' +
    'of the columns whose extremes reach that far, keeps the far values before its last shard of the columns that have some, and compares its duplicate candidates on every row and its leakage candidates on a sample, at most 200 pairs ' +
    'and 8 distinct shifts a statement, after a load of each group involved. The plan records a pass that finds none, so it lists none.',
  keys: 'BQX_PROFILE=keys: only group 0 is loaded, and only its key read (gaps, fold rows); no column is profiled.',
};

export function profileSummary(profile: PlannedProfile): ProfileSummary {
  const { job } = profile;
  const late = new Set(job.resumeEnd?.groups.map((g) => g.index) ?? []);
  // The files the scan point's carry-on reads: the other groups'.
  const resume = job.resume && { row: job.resume.from.state.row, files: job.resume.groups.filter((g) => !late.has(g.index)).reduce((n, g) => n + g.files.length, 0) };
  const resumeEnd = job.resumeEnd && { row: job.resumeEnd.from.state.row, groups: job.resumeEnd.groups.length, files: job.resumeEnd.groups.reduce((n, g) => n + g.files.length, 0) };
  return {
    mode: profile.mode,
    groups: job.groups.length,
    files: job.groups.reduce((n, g) => n + g.files.length, 0),
    rows: job.rows,
    ...(job.snapshotAt !== undefined ? { snapshotAt: job.snapshotAt } : {}),
    ...(resume ? { resume } : {}),
    ...(resumeEnd ? { resumeEnd } : {}),
    ...(profile.takenFrom !== undefined ? { takenFrom: profile.takenFrom } : {}),
    note: profile.takenFrom !== undefined ? `every shard is ${profile.takenFrom}'s: the dataset takes its profile, and sends no profile statement` : NOTES[profile.mode],
  };
}
