// The output's two views, kept consistent: per time shard (each shard's column groups) and per
// column group over all shards (the files of every shard in shard order, what readers of the
// layout before shards know). Both runtimes build the second from the first with this.

import { readFooter, storeBuffer } from './checkpoint.js';
import { mapLimit } from './concurrency.js';
import { groupKeys, readKeyColumn, type GroupKeys } from './parquetKeys.js';
import { sizesByName, type MergedGroup, type MergedShard, type ObjectStore } from './ports.js';

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

/** A dataset file's shard folder (`.../shard-YYYYMMDD/`), from its name `.../shard-YYYYMMDD/group-NNN/...`. */
const SHARD_FOLDER = /^(.*\/shard-\d{8}\/)group-\d{3}\//;

/**
 * The sizes of dataset files (undefined where absent), each shard's folder listed once. A column
 * group's files lie one (embedded) or a few (a BigQuery export) to a folder, so the store's own
 * `sizes` (on Cloud Storage a listing per folder, a metadata request per lone file) made about
 * 1,600 requests to check a refresh's shared files at full size (70 month shards x 23 groups): a
 * listing per shard makes about 70. A name outside a shard folder goes to `sizes`.
 */
export async function shardFileSizes(store: Pick<ObjectStore, 'list' | 'sizes'>, names: readonly string[]): Promise<Map<string, number | undefined>> {
  const byShard = new Map<string, string[]>();
  const others: string[] = [];
  for (const name of names) {
    const folder = SHARD_FOLDER.exec(name)?.[1];
    if (folder) byShard.set(folder, [...(byShard.get(folder) ?? []), name]);
    else others.push(name);
  }
  const sizes = await sizesByName(store, others);
  await mapLimit([...byShard], 16, async ([folder, wanted]) => {
    const listed = new Map((await store.list(folder)).map((o) => [o.name, o.size]));
    for (const name of wanted) sizes.set(name, listed.get(name));
  });
  return sizes;
}

/**
 * A group's keys read from its files in the store, in file order, and whether they are strictly
 * ascending: only the key column (ranged reads of its column chunks), into a Float64Array of epoch
 * microseconds (16 MB for the 2.2 million minutes of six years, whatever the group's width). The
 * BigQuery merge checks its exports by them, and a refresh the label keys of its relabelled shards.
 */
export async function readGroupKeys(store: ObjectStore, files: readonly string[]): Promise<GroupKeys> {
  const parts: Float64Array[] = [];
  for (const name of files) {
    const { metadata, bytes } = await readFooter(store, name);
    parts.push(await readKeyColumn(storeBuffer(store, name, bytes), metadata));
  }
  return groupKeys(parts);
}
