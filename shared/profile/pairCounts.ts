// The duplicate candidates' row-by-row comparison, counted by parts of the dataset so that no run
// compares again rows whose counts an earlier dataset kept. A duplicate is judged by counts alone
// (rows where both hold a value, where they are equal, where only one does: duplicates.ts), and
// counts over consecutive rows add up. So:
//   - a run over the same rows as an earlier dataset (a touched table elsewhere) takes the counts of
//     every pair of two unchanged columns as they are;
//   - a refresh carrying its column pass on from an earlier dataset's scan state (the same files
//     before the state's row) compares only its rows from that row on, and adds the earlier counts;
//   - every run counts the rows before its own last shard apart from the rest, and keeps those
//     counts with its scan state, for the next refresh to start from.
// Without this every refresh compared every candidate pair over the whole dataset: the real
// features hold about 10,000 exact copies among 11,337 columns (DATA.md), which would be most of
// a daily refresh at full size. The leakage check compares a sample of rows, and is not split.

import type { ColumnComparison, ColumnPair, CompareJob, PairCounts, ProfileJob } from './types.js';

type Groups = ProfileJob['groups'];
type FileLists = readonly { index: number; files: string[] }[];

export interface KnownCounts {
  /** Counts over every row of this dataset (an earlier dataset of the same rows), for pairs of two unchanged columns. */
  whole?: ReadonlyMap<string, PairCounts>;
  /** The same earlier dataset's counts over the rows before this dataset's snapshot row, where it kept them there. */
  wholePrefix?: ReadonlyMap<string, PairCounts>;
  /** Counts over the rows before a carried-on scan's row; `from` is this dataset's files from that row on, per group. */
  carried?: { counts: ReadonlyMap<string, PairCounts>; from: FileLists };
}

export interface CountedPairs {
  /** Every pair's counts over every row, in the pairs' order (a correlation only where one statement compared every row). */
  measured: ColumnComparison[];
  /** The same counts, to keep with the dataset. */
  whole: PairCounts[];
  /** Counts over the rows before the snapshot, for the pairs where they are known. */
  prefix?: PairCounts[];
  /** Pairs whose counts were taken whole, and pairs compared only from a carried-on scan's row. */
  taken: number;
  carried: number;
}

export const pairKey = (p: Pick<ColumnPair, 'a' | 'b'>): string => `${p.a}\u0000${p.b}`;

const counts = (p: Pick<ColumnComparison, 'a' | 'b' | 'both' | 'equal' | 'nullMismatch'>): PairCounts => ({ a: p.a, b: p.b, both: p.both, equal: p.equal, nullMismatch: p.nullMismatch });
const sum = (x: PairCounts, y: PairCounts): PairCounts => ({ a: x.a, b: x.b, both: x.both + y.both, equal: x.equal + y.equal, nullMismatch: x.nullMismatch + y.nullMismatch });

/**
 * `pairs` (unshifted) counted over every row of `groups`, comparing only the rows no known count
 * covers. `snapshot`: the files before the dataset's snapshot row, per group (its last shard's
 * first row), where the counts before that row are to be kept.
 */
export async function countPairs(
  compare: (job: CompareJob) => Promise<ColumnComparison[]>,
  runId: string,
  groups: Groups,
  pairs: readonly ColumnPair[],
  known: KnownCounts,
  snapshot?: FileLists,
): Promise<CountedPairs> {
  const before = snapshot && new Map(snapshot.map((g) => [g.index, new Set(g.files)]));
  const carriedFrom = known.carried && new Map(known.carried.from.map((g) => [g.index, new Set(g.files)]));
  const restrict = (keep: (index: number, file: string) => boolean): Groups => groups.map((g) => ({ ...g, files: g.files.filter((f) => keep(g.index, f)) }));
  const inHead = (index: number, file: string) => before?.get(index)?.has(file) ?? false;
  const carried = (index: number, file: string) => carriedFrom?.get(index)?.has(file) ?? false;
  // The carried counts end where the files before the snapshot begin to differ from the earlier
  // dataset's: they are counts before this snapshot too only if every file not carried lies before it.
  const carriedReachesSnapshot = !!before && groups.every((g) => g.files.every((f) => carried(g.index, f) || inHead(g.index, f)));

  // Each pair's parts: the rows it still needs compared, as file lists, and whether they come before the snapshot.
  interface Need { pair: ColumnPair; start?: PairCounts; parts: { groups: Groups; head: boolean }[]; prefixKnown: boolean }
  const needs: Need[] = pairs.map((pair) => {
    const key = pairKey(pair);
    const whole = known.whole?.get(key);
    if (whole) return { pair, start: whole, parts: [], prefixKnown: !!known.wholePrefix?.has(key) };
    const earlier = known.carried?.counts.get(key);
    if (earlier) {
      if (!before) return { pair, start: earlier, parts: [{ groups: restrict(carried), head: false }], prefixKnown: false };
      return {
        pair,
        start: earlier,
        parts: [
          { groups: restrict((i, f) => carried(i, f) && inHead(i, f)), head: true },
          { groups: restrict((i, f) => carried(i, f) && !inHead(i, f)), head: false },
        ],
        prefixKnown: carriedReachesSnapshot,
      };
    }
    if (!before) return { pair, parts: [{ groups, head: false }], prefixKnown: false };
    return { pair, parts: [{ groups: restrict(inHead), head: true }, { groups: restrict((i, f) => !inHead(i, f)), head: false }], prefixKnown: true };
  });

  // One statement per distinct set of files, for every pair that needs it.
  const statements = new Map<string, { groups: Groups; pairs: ColumnPair[] }>();
  const signature = (g: Groups) => JSON.stringify(g.map((x) => x.files));
  for (const n of needs) {
    for (const part of n.parts) {
      if (part.groups.every((g) => g.files.length === 0)) continue;
      const s = signature(part.groups);
      const statement = statements.get(s) ?? { groups: part.groups, pairs: [] };
      statement.pairs.push(n.pair);
      statements.set(s, statement);
    }
  }
  const whole = signature(groups);
  const results = new Map<string, Map<string, ColumnComparison>>();
  let part = 0;
  for (const [s, statement] of statements) {
    // The whole dataset keeps the statement's usual name; a part gets its own.
    const job: CompareJob = { runId, groups: statement.groups, pairs: statement.pairs, step: 1, ...(s === whole ? {} : { part: `p${part++}` }) };
    results.set(s, new Map((await compare(job)).map((c) => [pairKey(c), c])));
  }

  const measured: ColumnComparison[] = [];
  const wholeCounts: PairCounts[] = [];
  const prefix: PairCounts[] = [];
  for (const n of needs) {
    const key = pairKey(n.pair);
    let total = n.start ?? { a: n.pair.a, b: n.pair.b, both: 0, equal: 0, nullMismatch: 0 };
    let head = n.start && n.parts.length === 0 ? known.wholePrefix?.get(key) : n.start;
    let correlation: number | null = null;
    for (const p of n.parts) {
      const s = signature(p.groups);
      const got = results.get(s)?.get(key);
      if (!got) {
        if (p.groups.every((g) => g.files.length === 0)) continue;
        throw new Error(`the comparison of ${n.pair.a} and ${n.pair.b} is missing from the warehouse's answer`);
      }
      total = sum(total, counts(got));
      if (p.head) head = head ? sum(head, counts(got)) : counts(got);
      if (s === whole) correlation = got.correlation;
    }
    measured.push({ ...n.pair, ...counts(total), correlation });
    wholeCounts.push(total);
    if (before && n.prefixKnown) prefix.push(head ?? { a: n.pair.a, b: n.pair.b, both: 0, equal: 0, nullMismatch: 0 });
  }
  const taken = needs.filter((n) => n.start && n.parts.length === 0).length;
  return { measured, whole: wholeCounts, ...(before ? { prefix } : {}), taken, carried: needs.filter((n) => n.start).length - taken };
}
