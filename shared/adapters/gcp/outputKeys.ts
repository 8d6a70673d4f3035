// Checks the keys of exported column groups from the files themselves: BigQuery wrote them, so
// their order is verified, not assumed. Only the key column is read (ranged reads of its column
// chunks, one row group at a time), into a Float64Array of epoch microseconds: 16 MB for the
// 2.2 million minutes of six years, whatever the width of the group.

import { readFooter, storeBuffer } from '../../checkpoint.js';
import { groupKeys, readKeyColumn, type GroupKeys } from '../../parquetKeys.js';
import type { ObjectStore } from '../../ports.js';

/** The key column of one file in the store. */
async function fileKeys(store: ObjectStore, name: string): Promise<Float64Array> {
  const { metadata, bytes } = await readFooter(store, name);
  return readKeyColumn(storeBuffer(store, name, bytes), metadata);
}

/** Reads a group's keys in file order and says whether they are strictly ascending. */
export async function readGroupKeys(store: ObjectStore, files: readonly string[]): Promise<GroupKeys> {
  const parts: Float64Array[] = [];
  for (const name of files) parts.push(await fileKeys(store, name));
  return groupKeys(parts);
}
