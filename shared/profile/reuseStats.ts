// The incremental profile (issue 9, goal (b)): a dataset with the SAME rows as an earlier one of the
// pair (same window and row count, the label table's data version of the window unchanged, same
// fold cuts and profile settings) holds, in every column read from the very same checkpoint (same
// fingerprint, same files, same column mapping), the same values on the same rows. Those columns'
// statistics and sample values are taken from the earlier dataset's stored profile
// (storedProfile.ts); the warehouse measures only the other columns (its `profile` takes groups with
// column lists: the subset is passed), plus the key for gaps and fold rows. The findings, the
// duplicate candidates and `compareColumns` then run over all columns as before (profile.ts); the
// leakage screen takes the taken features' pairs from the earlier dataset's screen of the same
// sample and screens the others (leakage.ts `leakageScreen`). So the profile is the one a full pass
// gives. Anything that does not match falls back to measuring every column: a stale reuse must be
// impossible.

import type { Warehouse } from '../ports.js';
import { sampleRows } from './columnScan.js';
import { profileByGroup, type GroupedJob } from './resumeByGroup.js';
import { pickStates } from './scanState.js';
import type { KeptScan } from './storedProfile.js';
import type { ColumnStats, LeakageScreen, MeasuredColumns, PairCounts, ProfileBasis, ProfileData, ProfileJob, ProfileReuse } from './types.js';

/** An earlier dataset's stored columns, as read back (storedProfile.ts). */
export interface EarlierColumns {
  /** The run whose dataset they are. */
  from: string;
  basis: ProfileBasis;
  columns: ColumnStats[];
  /**
   * Its sample's row numbers, and the values: a promise while they are still being read (the file,
   * 77 MB at 20,000 rows, is read and checked while the column pass measures the other columns;
   * undefined when it is not the file described, and then every column is measured).
   */
  sample: { rows: number[]; values: SampleValues | Promise<SampleValues | undefined> };
  /** Its column scan's state, where it kept one. */
  scan?: KeptScan;
  /** Its column scan's state after its last row, where it kept one. */
  end?: KeptScan;
  /** Its duplicate pairs' counts over every row, where it kept them. */
  compared?: PairCounts[];
  /** Its leakage screen, where it kept one. */
  leakage?: LeakageScreen;
}

type SampleValues = MeasuredColumns['sample']['values'];

/** Whether two lists hold the same items in the same order. */
export const sameList = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The output columns of `now` whose numbers `earlier` already holds, or none with the reason.
 * Labels are taken only with the label rows unchanged, which every reuse needs anyway: the label
 * table's version of the window is what vouches for the rows (keys) being the same.
 */
export function reusableColumns(earlier: ProfileBasis, now: ProfileBasis): { columns: string[]; why?: string } {
  const none = (why: string) => ({ columns: [], why });
  if (earlier.window.start !== now.window.start || earlier.window.end !== now.window.end) return none('the earlier dataset has another window');
  if (earlier.rows !== now.rows || earlier.key !== now.key) return none('the earlier dataset has other rows');
  if (earlier.profiledWith !== now.profiledWith) return none('the earlier dataset was profiled with other fold cuts or settings');
  const [was, is] = [earlier.labels, now.labels];
  if (is.version === null || was.version !== is.version || was.dataset !== is.dataset || was.table !== is.table) {
    return none(is.version === null ? 'the label table\'s data version is unknown' : 'the label rows changed');
  }
  const columns: string[] = sameList(was.columns, is.columns) ? [...is.columns] : [];
  const before = new Map(earlier.features.map((f) => [f.feature, f]));
  for (const f of now.features) {
    const e = before.get(f.feature);
    const same =
      e !== undefined &&
      f.fingerprint !== null &&
      e.fingerprint === f.fingerprint &&
      f.files.length > 0 &&
      sameList(e.files, f.files) &&
      e.columns.length === f.columns.length &&
      e.columns.every((c, i) => c.source === f.columns[i]!.source && c.output === f.columns[i]!.output && c.type === f.columns[i]!.type);
    if (same) columns.push(...f.columns.map((c) => c.output));
  }
  return columns.length > 0 ? { columns } : none('no column has the same source as in the earlier dataset');
}

/** An earlier dataset's statistics with its sample's values read, or undefined when they are not the file described. */
export async function withSample(earlier: EarlierColumns): Promise<(Pick<EarlierColumns, 'columns'> & { sample: MeasuredColumns['sample'] }) | undefined> {
  const values = await earlier.sample.values;
  return values && { columns: earlier.columns, sample: { rows: earlier.sample.rows, values } };
}

/**
 * Every column's statistics and sample in output order: `reused` ones from `earlier`, the rest
 * from `fresh`; undefined when anything does not line up (then nothing is taken).
 */
export function mergeMeasured(job: Pick<ProfileJob, 'key' | 'groups' | 'rows' | 'warmupRows' | 'blockFrom' | 'blockRows' | 'spreadStep'>, earlier: Pick<EarlierColumns, 'columns'> & { sample: MeasuredColumns['sample'] }, reused: ReadonlySet<string>, fresh?: MeasuredColumns): MeasuredColumns | undefined {
  const rows = earlier.sample.rows;
  // The sample is a function of the row count and the layout: the earlier one must be this run's.
  if (!sameList(rows, sampleRows(job.rows, job))) return undefined;
  if (fresh && fresh.columns.length > 0 && !sameList(fresh.sample.rows, rows)) return undefined;
  const before = new Map(earlier.columns.map((s) => [s.column, s]));
  const now = new Map((fresh?.columns ?? []).map((s) => [s.column, s]));
  const columns: ColumnStats[] = [];
  const values: Record<string, Float64Array> = {};
  for (const g of job.groups) {
    for (const column of g.columns) {
      if (column === job.key) continue;
      const taken = reused.has(column);
      const s = taken ? before.get(column) : now.get(column);
      const v = taken ? earlier.sample.values[column] : fresh?.sample.values[column];
      if (!s || !v || v.length !== rows.length) return undefined;
      columns.push(s);
      values[column] = v;
    }
  }
  return { columns, sample: { rows, values } };
}

/** The warehouse's profile of `job`, measuring only what `earlier` cannot give. */
export async function measureColumns(warehouse: Pick<Warehouse, 'profile'>, grouped: GroupedJob, earlier?: { columns: EarlierColumns; reusable: readonly string[] }): Promise<{ data: ProfileData; reuse: ProfileReuse; taken?: ReadonlySet<string> }> {
  const { resumeEnd: _resumeEnd, ...job } = grouped;
  const total = job.groups.reduce((n, g) => n + g.columns.filter((c) => c !== job.key).length, 0);
  const full = async (why?: string) => ({ data: await profileByGroup(warehouse, grouped), reuse: { profiled: total, reused: 0, ...(why ? { why } : {}) } });
  if (!earlier) return full();
  const stored = new Set(earlier.columns.columns.map((s) => s.column));
  const wanted = new Set(job.groups.flatMap((g) => g.columns));
  const reused = new Set(earlier.reusable.filter((c) => c !== job.key && stored.has(c) && wanted.has(c)));
  if (reused.size === 0) return full('no stored column to take');
  // Group 0 always (its key gives the gaps and the fold rows), the others where a column is left.
  const groups = job.groups
    .map((g) => ({ ...g, columns: g.columns.filter((c) => c === job.key || !reused.has(c)) }))
    .filter((g, i) => i === 0 || g.columns.some((c) => c !== job.key));
  const [fresh, taken] = await Promise.all([warehouse.profile({ ...job, groups }), withSample(earlier.columns)]);
  if (!taken) return full(`the stored profile of ${earlier.columns.from} is incomplete`);
  const merged = mergeMeasured(job, taken, reused, fresh);
  if (!merged) return full('the stored profile did not line up with this dataset');
  // The scan state goes on with the dataset too, the taken columns' from the earlier one.
  const order = job.groups.flatMap((g) => g.columns.filter((c) => c !== job.key));
  const scanState = pickStates(order, reused, fresh.scanState, earlier.columns.scan?.state);
  // And the tails with it: the taken columns' from the earlier dataset (the same rows, the same values).
  const earlierTails = Object.entries(earlier.columns.scan?.tails ?? {}).filter(([c]) => reused.has(c));
  const scanTails = scanState && { ...Object.fromEntries(earlierTails), ...fresh.scanTails };
  const endState = pickStates(order, reused, fresh.endState, earlier.columns.end?.state);
  const endTails = endState && { ...Object.fromEntries(Object.entries(earlier.columns.end?.tails ?? {}).filter(([c]) => reused.has(c))), ...fresh.endTails };
  return { data: { ...merged, gaps: fresh.gaps, cutRows: fresh.cutRows, ...(scanState ? { scanState, scanTails } : {}), ...(endState ? { endState, endTails } : {}) }, reuse: { profiled: total - reused.size, reused: reused.size, from: earlier.columns.from }, taken: reused };
}
