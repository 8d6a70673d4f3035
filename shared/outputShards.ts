// The output's two views, kept consistent: per time shard (each shard's column groups) and per
// column group over all shards (the files of every shard in shard order, what readers of the
// layout before shards know). Both runtimes build the second from the first with this.

import type { MergedGroup, MergedShard } from './ports.js';

/** Per column group over all shards: files in shard order, counts summed. */
export function byGroup(groups: readonly { index: number; columns: string[] }[], shards: readonly MergedShard[]): MergedGroup[] {
  return groups.map((g) => {
    const parts = shards.map((s) => s.groups.find((x) => x.index === g.index)).filter((p): p is MergedGroup => p !== undefined);
    return {
      index: g.index,
      files: parts.flatMap((p) => p.files),
      rows: parts.reduce((n, p) => n + p.rows, 0),
      columns: g.columns,
      bytes: parts.reduce((n, p) => n + p.bytes, 0),
      distinctKeys: parts.reduce((n, p) => n + p.distinctKeys, 0),
      // Shards are apart and in time order when each one's keys are inside its range.
      keysInOrder: parts.length === shards.length && parts.every((p) => p.keysInOrder) && shards.every((s) => s.keysInRange),
    };
  });
}
