// Merge planning: split the output's columns into groups no wider than the warehouse allows
// (BigQuery: 10,000 columns per table or result), and each group's joins into staged batches so
// no single statement joins hundreds of tables. Every group carries the key, so groups can be
// lined up row by row; group 0 also carries the labels.

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

export function planMerge(manifest: RunManifest, maxGroupColumns: number, joinBatchTables: number): MergePlan {
  const capacity = maxGroupColumns - 1; // the key takes one column in every group
  if (manifest.labels.columns.length > capacity) {
    throw new Error(`${manifest.labels.columns.length} label columns do not fit a group of ${maxGroupColumns} columns`);
  }
  const groups: { labels: boolean; members: GroupMember[]; width: number }[] = [
    { labels: true, members: [], width: manifest.labels.columns.length },
  ];
  for (const feature of manifest.features) {
    // A table wider than a whole group is split into chunks; otherwise tables stay whole.
    for (let offset = 0; offset < feature.columns.length; offset += capacity) {
      const chunk = feature.columns.slice(offset, offset + capacity);
      let current = groups[groups.length - 1]!;
      if (current.width + chunk.length > capacity) {
        current = { labels: false, members: [], width: 0 };
        groups.push(current);
      }
      current.members.push({ feature: feature.feature, dataset: feature.dataset, columns: chunk });
      current.width += chunk.length;
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

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
