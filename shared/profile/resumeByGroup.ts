// A refresh's column pass where its groups start at two rows. After an append over a filled-in
// label tail, only the label group's earlier files change: the other groups begin with every file
// of the earlier dataset, so their columns carry on from the state it kept after its last row and
// read only the new rows, while the label group carries on from its scan point (or measures every
// row where it has none). One pass from the scan point read every group from there: at 20,000 rows
// in day shards, 5,690 rows of 17,037 columns where 1,440 rows of all but the label group's 491
// are new (shared/chain/profileReuse.ts `earlierScan`).
//
// The warehouse port is not changed: each part is an ordinary profile job carried on from one row
// (both adapters measure it so), and the two outcomes are joined here. Each column's statistics are
// the same additions in the same order whichever state it carries on from (scanState.ts), so the
// numbers are a single pass's, to the last bit.

import type { Warehouse } from '../ports.js';
import { joinStates, pickStates, type ScanState } from './scanState.js';
import type { ProfileData, ProfileJob, ProfileReuse } from './types.js';

/** Groups whose columns carry on from an earlier dataset's state after its last row, reading only the files after it. */
export type ResumeEnd = Pick<NonNullable<ProfileJob['resume']>, 'groups' | 'from' | 'tails'>;

/** A profile job some of whose groups carry on from a later row (`resumeEnd`). */
export type GroupedJob = ProfileJob & { resumeEnd?: ResumeEnd; snapshotPrefix?: unknown };

/**
 * The warehouse's profile of `job`: one job, or, with `resumeEnd`, one for the groups it does not
 * name (from `job.resume`, or from row 0) and one for those it names, joined in the job's column order.
 */
export async function profileByGroup(warehouse: Pick<Warehouse, 'profile'>, job: GroupedJob): Promise<ProfileData> {
  const { resumeEnd, ...whole } = job;
  const later = new Set(resumeEnd?.groups.map((g) => g.index) ?? []);
  const early = whole.groups.filter((g) => !later.has(g.index));
  const late = whole.groups.filter((g) => later.has(g.index));
  if (!resumeEnd || late.length === 0) return warehouse.profile(whole);
  const fromEnd: ProfileJob = {
    ...withoutCarry(whole),
    // Its scan point where it starts at or before it (the earlier dataset ended before this one's last shard).
    ...(whole.snapshotAt !== undefined && resumeEnd.from.state.row <= whole.snapshotAt ? { snapshotAt: whole.snapshotAt } : {}),
    groups: late,
    resume: { groups: resumeEnd.groups.filter((g) => later.has(g.index)), from: resumeEnd.from, ...(resumeEnd.tails ? { tails: resumeEnd.tails } : {}) },
  };
  if (early.length === 0) return warehouse.profile(fromEnd);
  const earlyIndexes = new Set(early.map((g) => g.index));
  const fromStart: ProfileJob = {
    ...whole,
    groups: early,
    ...(whole.resume ? { resume: { ...whole.resume, groups: whole.resume.groups.filter((g) => earlyIndexes.has(g.index)) } } : {}),
  };
  // One after the other: each takes the cores (the small label group first).
  const first = await warehouse.profile({ ...fromStart, followed: true });
  const second = await warehouse.profile(fromEnd);
  return joinParts(job, first, second);
}

/** The job without what only a carry-on from the scan point uses: its state and kept pair counts, and the scan point's state to take. */
function withoutCarry(job: ProfileJob & { snapshotPrefix?: unknown }): ProfileJob {
  const { resume: _resume, snapshotAt: _snapshotAt, snapshotPrefix: _prefix, ...rest } = job;
  return rest;
}

/** Two parts' outcomes as one: columns, sample and states in the job's column order. */
function joinParts(job: ProfileJob, a: ProfileData, b: ProfileData): ProfileData {
  if (a.sample.rows.join() !== b.sample.rows.join()) throw new Error('the profile parts measured different sample rows');
  const order = job.groups.flatMap((g) => g.columns.filter((c) => c !== job.key));
  const position = new Map(order.map((c, i) => [c, i]));
  const inOrder = (state: ScanState | undefined) => state && pickStates([...state.columns].sort((x, y) => position.get(x)! - position.get(y)!), new Set(), state);
  // The scan point's state: the early part's alone where the late one started past it (a later
  // refresh carries those groups on from the end state, kept whole).
  const scanState = inOrder(joinStates([a.scanState, b.scanState])) ?? a.scanState;
  const scanTails = scanState && { ...a.scanTails, ...(scanState === a.scanState ? {} : b.scanTails) };
  const endState = inOrder(joinStates([a.endState, b.endState]));
  const beyond = a.beyond || b.beyond ? { carried: (a.beyond?.carried ?? 0) + (b.beyond?.carried ?? 0), reread: (a.beyond?.reread ?? 0) + (b.beyond?.reread ?? 0) } : undefined;
  const billed = a.bytesBilled === undefined && b.bytesBilled === undefined ? undefined : (a.bytesBilled ?? 0) + (b.bytesBilled ?? 0);
  return {
    columns: [...a.columns, ...b.columns].sort((x, y) => position.get(x.column)! - position.get(y.column)!),
    gaps: a.gaps,
    cutRows: a.cutRows,
    sample: { rows: a.sample.rows, values: { ...a.sample.values, ...b.sample.values } },
    ...(scanState ? { scanState, scanTails } : {}),
    ...(endState ? { endState, endTails: { ...a.endTails, ...b.endTails } } : {}),
    ...(beyond ? { beyond } : {}),
    ...(billed !== undefined ? { bytesBilled: billed } : {}),
  };
}

/** Where a column pass carried on from, as the log and the report say it (`from` and at least one of the rows set). */
export function carriedOnText(r: Pick<ProfileReuse, 'from' | 'carriedOnFrom' | 'carriedOnFromEnd'>): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const point = r.carriedOnFrom !== undefined ? `from its scan at row ${n(r.carriedOnFrom)}` : 'measured from row 0';
  if (!r.carriedOnFromEnd) return `carried on from ${r.from}'s scan at row ${n(r.carriedOnFrom ?? 0)}`;
  return `carried on from ${r.from}: ${n(r.carriedOnFromEnd.groups)} group(s) from its end at row ${n(r.carriedOnFromEnd.row)}, the others ${point}`;
}
