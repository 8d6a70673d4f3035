// The dataset a planned run leaves, as the profile after the merge reads it: its time shards and,
// per shard, one file per column group. The recording client runs nothing, so the merge's result
// lists no output files (its exports leave none: the merge would read their keys back). The files
// here are the ones the recorded exports name (the first file of each wildcard, as BigQuery names
// it) and, for a refresh, the previous version's files of the shards it shares and of a grown
// shard's rows before its part: placeholders under that version's folder, whose real names only
// its manifest knows.
//
// Rows: one label count per stretch of shards the profile tells apart (the shards a refresh shares,
// the rest before the last shard, the last shard), spread evenly over the stretch's shards. Every
// load the profile makes is of whole stretches (the dataset, the shards a refresh rebuilds, the
// files before or from the last shard), so each gets its rows exactly, from at most three counts
// where a count per shard would be one query per day on BigQuery.

import { paths } from '../naming.js';
import { byGroup } from '../outputShards.js';
import type { MergePlan } from '../planner.js';
import type { MergedGroup, MergedShard, Window } from '../ports.js';
import type { Shard } from '../shards.js';

export interface PlannedOutput {
  /** Shards in time order, each with one file per group. */
  shards: MergedShard[];
  /** Per group over all shards: files in shard order, columns key first. */
  groups: MergedGroup[];
  /** Each file's gs:// URI -> its group's columns and its rows: the table a LOAD DATA of it makes. */
  files: Map<string, { columns: string[]; rows: number }>;
  /** A refresh's shard grown by a part, and its rows before the part (listed first: the previous version's file, or where `relabelled` this run's of the label group). */
  grown?: { id: string; from: string; rowsBefore: number; relabelled?: boolean };
}

export interface OutputInput {
  /** The merge plan's column groups (columns key first). */
  groups: readonly Pick<MergePlan['groups'][number], 'index' | 'columns'>[];
  /** Every shard of the window, in time order. */
  grid: readonly Shard[];
  /**
   * Object names of the merge's export wildcards (`.../shard-YYYYMMDD/group-NNN/attempt-x/part-*.parquet`),
   * the relabelled shards' under `relabelled/` (a grown shard's part has the same shard and group).
   */
  exported: readonly string[];
  /** The pair and the run id of the version whose files the shards not exported are (a refresh). */
  previous?: { pair: string; runId: string };
  /**
   * A refresh's shard grown by a part: its rows before `from` are the previous version's file
   * (listed first in each group), the export holds the rest.
   */
  grown?: { id: string; from: string; relabelled?: boolean };
  /** Label rows in a window. */
  rowsIn: (window: Window) => Promise<number>;
  /** The gs:// URI of an output object. */
  uri: (name: string) => string;
}

/** The file BigQuery names first for an export's wildcard. */
export const firstFile = (wildcard: string): string => wildcard.replace('*', '000000000000');

const SHARD_GROUP = /\/shard-(\d{8})\/group-(\d{3})\//;
const RELABELLED = '/relabelled/shard-';

export async function plannedOutput(input: OutputInput): Promise<PlannedOutput> {
  const { grid, groups } = input;
  // Per shard id, per group: the file the export leaves; the relabelled shards' apart.
  const exported = new Map<string, Map<number, string>>();
  const relabelled = new Map<string, Map<number, string>>();
  for (const name of input.exported) {
    const m = SHARD_GROUP.exec(name);
    if (!m) throw new Error(`plan: export to ${name} names no shard and group`);
    const into = name.includes(RELABELLED) ? relabelled : exported;
    const byGroupIndex = into.get(m[1]!) ?? new Map<number, string>();
    byGroupIndex.set(Number(m[2]), firstFile(name));
    into.set(m[1]!, byGroupIndex);
  }
  const previousFile = (shard: Shard, group: number): string => {
    if (!input.previous) throw new Error(`plan: shard ${shard.id} group ${group} was not exported`);
    return `${paths.outputShardGroupDir(input.previous.pair, input.previous.runId, shard.id, group)}part-000000000000.parquet`;
  };
  // A shard's rows before a grown part, or a whole relabelled shard: this run's label group, else the previous version's.
  const earlierFile = (shard: Shard, group: number): string => relabelled.get(shard.id)?.get(group) ?? previousFile(shard, group);
  // A grown shard: its rows before the part, then the part's.
  const grown = input.grown && grid.find((s) => s.id === input.grown!.id);
  const fileOf = (shard: Shard, group: number): string => exported.get(shard.id)?.get(group) ?? earlierFile(shard, group);
  const grownBefore = grown ? await input.rowsIn({ start: grown.start, end: input.grown!.from }) : 0;

  // The stretches: split where the exported shards begin and where the last shard begins.
  const firstBuilt = grid.findIndex((s) => exported.has(s.id) || relabelled.has(s.id));
  const cuts = [...new Set([0, firstBuilt > 0 ? firstBuilt : 0, grid.length > 1 ? grid.length - 1 : 0])].sort((a, b) => a - b);
  const rows: number[] = [];
  const empty: boolean[] = [];
  for (const [i, from] of cuts.entries()) {
    const to = cuts[i + 1] ?? grid.length;
    const total = await input.rowsIn({ start: grid[from]!.start, end: grid[to - 1]!.end });
    const n = to - from;
    for (let k = 0; k < n; k++) {
      rows.push(Math.floor(total / n) + (k < total % n ? 1 : 0));
      empty.push(total === 0);
    }
  }

  const shards: MergedShard[] = [];
  for (const [i, shard] of grid.entries()) {
    // Shards without label rows have no files in the dataset (as the merge leaves them): known here for a whole stretch.
    if (empty[i]) continue;
    shards.push({
      index: shards.length,
      id: shard.id,
      start: shard.start,
      end: shard.end,
      rows: rows[i]!,
      groups: groups.map((g) => ({ index: g.index, files: shard === grown ? [earlierFile(shard, g.index), fileOf(shard, g.index)] : [fileOf(shard, g.index)], rows: rows[i]!, columns: g.columns, bytes: 0, distinctKeys: rows[i]!, keysInOrder: true })),
      keysInRange: true,
    });
  }
  const files = new Map<string, { columns: string[]; rows: number }>();
  for (const s of shards) {
    // The parts' rows: the earlier part's counted, the rest the part built.
    const partRows = s.id === grown?.id ? [grownBefore, s.rows - grownBefore] : [s.rows];
    for (const g of s.groups) g.files.forEach((f, k) => files.set(input.uri(f), { columns: g.columns, rows: partRows[k]! }));
  }
  return { shards, groups: byGroup(groups, shards), files, ...(grown ? { grown: { id: grown.id, from: input.grown!.from, rowsBefore: grownBefore, ...(input.grown!.relabelled ? { relabelled: true } : {}) } } : {}) };
}
