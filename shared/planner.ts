// Merge planning: split the output's columns into groups no wider than the warehouse allows
// (BigQuery: 10,000 columns per table or result) and, below that, into families' groups of about
// `groupColumns` (BQX_GROUP_COLUMNS), and each group's joins into staged batches so
// no single statement joins hundreds of tables. Every group carries the key, so groups can be
// lined up row by row; group 0 also carries the labels.

import type { Config } from './config.js';
import { tableFamily } from './ledger.js';
import type { ManifestColumn, RunManifest } from './manifest.js';

export interface GroupMember {
  feature: string;
  dataset: string;
  columns: ManifestColumn[];
}

export interface MergeGroup {
  index: number;
  /** Whether this group carries the label columns (group 0 only). */
  labels: boolean;
  members: GroupMember[];
  /** Members split into staged join batches of at most `joinBatchTables` tables. */
  batches: GroupMember[][];
  /** Output columns in order, key first. */
  columns: string[];
}

export interface MergePlan {
  maxGroupColumns: number;
  joinBatchTables: number;
  groups: MergeGroup[];
}

/** The settings a merge plan follows (shared/config.ts). */
export type GroupSettings = Pick<Config, 'maxGroupColumns' | 'groupColumns' | 'joinBatchTables'>;

/**
 * Column groups follow table families (a table name's first token, in the manifest's name order):
 * a family no wider than `groupColumns` is never split across groups, a wider one starts its own
 * groups and is split between whole tables, and small families share a group up to that width.
 * A family rebuilt upstream (DATA.md: 84 `reg_*` tables regenerated) then changes only its own
 * groups' files, which is all a later run rewrites (shared/chain/shareShards.ts). Narrower groups
 * rewrite less for such a change and make more files: BQX_GROUP_COLUMNS weighs the two.
 */
export function planMerge(manifest: RunManifest, settings: GroupSettings): MergePlan {
  const { maxGroupColumns, joinBatchTables } = settings;
  const capacity = maxGroupColumns - 1; // the key takes one column in every group
  const target = Math.min(settings.groupColumns, maxGroupColumns) - 1;
  if (manifest.labels.columns.length > capacity) {
    throw new Error(`${manifest.labels.columns.length} label columns do not fit a group of ${maxGroupColumns} columns`);
  }
  // Tables wider than a whole group are split into chunks; otherwise tables stay whole.
  const members = manifest.features.flatMap((f) => {
    const parts: GroupMember[] = [];
    for (let offset = 0; offset < f.columns.length; offset += capacity) parts.push({ feature: f.feature, dataset: f.dataset, columns: f.columns.slice(offset, offset + capacity) });
    return parts;
  });
  const families: GroupMember[][] = [];
  for (const m of members) {
    const last = families[families.length - 1];
    if (last && tableFamily(last[0]!.feature) === tableFamily(m.feature)) last.push(m);
    else families.push([m]);
  }
  const groups: { labels: boolean; members: GroupMember[]; width: number }[] = [
    { labels: true, members: [], width: manifest.labels.columns.length },
  ];
  let afterSplit = false;
  for (const family of families) {
    const width = widthOf(family);
    if (width <= target) {
      // Whole, in the current group when it fits there (and does not follow a split family); the
      // labels count in group 0's width.
      const current = groups[groups.length - 1]!;
      if (current.width > 0 && (afterSplit || current.width + width > target)) {
        groups.push({ labels: false, members: family, width });
      } else {
        current.members.push(...family);
        current.width += width;
      }
      afterSplit = false;
    } else {
      for (const part of splitEvenly(family, target)) groups.push({ labels: false, members: part, width: widthOf(part) });
      afterSplit = true;
    }
  }
  return {
    maxGroupColumns,
    joinBatchTables,
    groups: groups.map((g, index) => ({
      index,
      labels: g.labels,
      members: g.members,
      batches: chunks(g.members, joinBatchTables),
      columns: [manifest.key, ...(g.labels ? manifest.labels.columns : []), ...g.members.flatMap((m) => m.columns.map((c) => c.output))],
    })),
  };
}

/** The features the plan's groups hold: what a merge of only some groups reads (shared/chain/shareShards.ts). */
export function planFeatures(plan: Pick<MergePlan, 'groups'>): Set<string> {
  return new Set(plan.groups.flatMap((g) => g.members.map((m) => m.feature)));
}

const widthOf = (members: readonly GroupMember[]) => members.reduce((n, m) => n + m.columns.length, 0);

/**
 * A family wider than a group, in as few parts as keep each within `target` columns (or within its
 * widest member), of about equal width: greedy filling would leave a last part of a few columns.
 */
function splitEvenly(family: GroupMember[], target: number): GroupMember[][] {
  const total = widthOf(family);
  const limit = Math.max(target, ...family.map((m) => m.columns.length));
  for (let k = Math.ceil(total / limit); ; k++) {
    const parts: GroupMember[][] = Array.from({ length: k }, () => []);
    let before = 0;
    for (const m of family) {
      // Each member goes to the part its middle column falls in.
      parts[Math.min(k - 1, Math.floor(((before + m.columns.length / 2) * k) / total))]!.push(m);
      before += m.columns.length;
    }
    const kept = parts.filter((p) => p.length > 0);
    if (kept.every((p) => widthOf(p) <= limit)) return kept;
  }
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
