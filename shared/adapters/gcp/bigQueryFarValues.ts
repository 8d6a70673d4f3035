// The profile's far values on BigQuery: the count of values beyond 10 sd (a second statement for
// the few columns whose extremes reach that far) and the tails a dataset keeps with its scan state
// so that a refresh can count them without reading the earlier rows again (shared/profile/
// outlierTails.ts, the embedded profile's rules).

import { beyondCandidates } from '../../profile/columnScan.js';
import { MAX_TAIL_VALUES, beyondBefore, columnTailPlans, type Tail } from '../../profile/outlierTails.js';
import type { ScanState } from '../../profile/scanState.js';
import type { ColumnStats } from '../../profile/types.js';
import type { Numbering, ProfileRunner } from './bigQueryProfile.js';
import { renderBeyond, renderTails } from './bigQueryProfileSql.js';

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Values beyond 10 sd of the columns whose min or max reach past it (few: a second pass for them
 * alone). Carrying on, the rows before the state's are counted from its min and max or the kept
 * tail (outlierTails.ts `beyondBefore`), or, where they cannot be, read again from the whole group.
 */
export async function countBeyond(
  jobs: ProfileRunner,
  dataset: string,
  table: string,
  stats: ColumnStats[],
  before: { state: ScanState; tails?: Readonly<Record<string, Tail>> } | undefined,
  wholeTable: () => Promise<string>,
  key: string,
): Promise<{ carried: number; reread: number }> {
  const candidates = beyondCandidates(stats);
  if (candidates.length === 0) return { carried: 0, reread: 0 };
  const known = new Map(candidates.map((s) => [s, before ? beyondBefore(before.state, s.column, s.mean!, s.sd!, before.tails?.[s.column]) : 0]));
  const carried = candidates.filter((s) => known.get(s) !== undefined);
  const reread = candidates.filter((s) => known.get(s) === undefined);
  for (const [list, from, suffix] of [
    [carried, table, 'here'],
    [reread, reread.length > 0 ? await wholeTable() : table, 'whole'],
  ] as const) {
    if (list.length === 0) continue;
    const r = renderBeyond(dataset, from, list.map((s) => s.column));
    const params = Object.fromEntries(list.flatMap((s, i) => [[`mean${i}`, s.mean!], [`limit${i}`, 10 * s.sd!]]));
    const [row] = await jobs.read<Row>({ key: `profile_beyond_${key}_${suffix}`, step: 'profile_beyond', sql: r.sql, params });
    list.forEach((s, i) => (s.beyond10sd = (known.get(s) ?? 0) + (num(row?.[`b${i}`]) ?? 0)));
  }
  return before ? { carried: carried.length, reread: reread.length } : { carried: 0, reread: 0 };
}

/**
 * The tails kept with the scan state at `snap` (outlierTails.ts): for each column whose values
 * before it reach outside mean ± 8 sd, those values, so a later refresh counts its values beyond
 * 10 sd without reading these rows again. Read from `here` (the rows from its row0 on) where the
 * tail starts there, else from the whole group; a carried tail goes on from the earlier state's row.
 */
export async function keptTails(
  jobs: ProfileRunner,
  dataset: string,
  here: { table: string; row0: number },
  wholeTable: () => Promise<string>,
  numbering: (row0: number) => Numbering,
  stats: readonly ColumnStats[],
  atSnap: ScanState,
  snap: number,
  resumed: { state: ScanState; tails?: Readonly<Record<string, Tail>> } | undefined,
  key: string,
): Promise<Record<string, Tail>> {
  const plans = columnTailPlans(stats, atSnap, resumed);
  const tails: Record<string, Tail> = {};
  const keep = (p: (typeof plans)[number], values: readonly number[]) => {
    if (values.length > MAX_TAIL_VALUES - (p.plan.kept?.length ?? 0)) return; // too many: none kept, a later refresh reads the rows
    tails[p.column] = { lo: p.plan.lo, hi: p.plan.hi, values: Float64Array.from([...(p.plan.kept ?? []), ...values]) };
  };
  for (const p of plans.filter((x) => x.plan.from >= snap)) keep(p, []);
  const toRead = plans.filter((x) => x.plan.from < snap);
  for (const [list, where] of [
    [toRead.filter((x) => x.plan.from >= here.row0), 'here'],
    [toRead.filter((x) => x.plan.from < here.row0), 'whole'],
  ] as const) {
    if (list.length === 0) continue;
    const [table, row0] = where === 'here' ? [here.table, here.row0] : [await wholeTable(), 0];
    const r = renderTails(dataset, table, list.map((x) => x.column), MAX_TAIL_VALUES + 1);
    // The numbering's bounds and first rows (the tails want no stretch's last row).
    const { bounds, firsts } = numbering(row0);
    const params = { bounds, firsts, snap, ...Object.fromEntries(list.flatMap((x, i) => [[`from${i}`, x.plan.from], [`lo${i}`, x.plan.lo], [`hi${i}`, x.plan.hi]])) };
    const [row] = await jobs.read<Row>({ key: `profile_tails_${key}_${where}`, step: 'profile_tails', sql: r.sql, params });
    list.forEach((x, i) => keep(x, ((row?.[`t${i}`] as unknown[] | null | undefined) ?? []).map(Number)));
  }
  return tails;
}
