// The sizes of many objects in a bucket (GcsObjectStore.sizes), by listing each folder they lie in
// once rather than asking for each object. A size is a request (the object's metadata) and a
// listing answers for up to 1,000 objects: a reused checkpoint at full size has a file per month
// shard (72 over six years), and a run's start checks 667 of them, then again as it records them,
// so about 96,000 requests against about 1,300 listings. A folder holding only one of the names is
// asked for that one. Where many of the folders lie in one (a run's `features/`, 667 of them, each
// holding one file where BigQuery exported the feature in one), that one is listed instead: a few
// pages of a thousand objects where a listing or a request a feature made 667.

import { mapLimit } from '../../concurrency.js';
import type { ObjectStore } from '../../ports.js';

/** Folders listed (or objects asked for) at once. */
const REQUESTS_AT_ONCE = 16;

/** Folders of the names within one folder from which that folder is listed whole instead. */
export const FOLDERS_TO_LIST_PARENT = 8;

/** The folder a name (or a folder) lies in: `a/b/` for `a/b/c` and for `a/b/c/`; '' at the top. */
const parentOf = (name: string) => {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
};

/** The sizes of `names`, in order; undefined where an object is absent. */
export async function sizesByListing(store: Pick<ObjectStore, 'list' | 'size'>, names: readonly string[]): Promise<(number | undefined)[]> {
  const byFolder = new Map<string, Set<string>>();
  for (const name of names) {
    const folder = parentOf(name);
    const inFolder = byFolder.get(folder) ?? new Set<string>();
    byFolder.set(folder, inFolder.add(name));
  }
  // Folders lying in one folder with many of them: listed as one, where that one is three levels
  // deep or more (a run's `features/`; never `runs/` or a pair's `training/eurusd/`, which hold every run).
  const byParent = new Map<string, string[]>();
  for (const folder of byFolder.keys()) {
    const parent = parentOf(folder);
    if (parent.split('/').length > 3) byParent.set(parent, [...(byParent.get(parent) ?? []), folder]);
  }
  for (const [parent, folders] of byParent) {
    if (folders.length < FOLDERS_TO_LIST_PARENT) continue;
    const wanted = new Set<string>(byFolder.get(parent) ?? []);
    for (const folder of folders) {
      for (const name of byFolder.get(folder)!) wanted.add(name);
      byFolder.delete(folder);
    }
    byFolder.set(parent, wanted);
  }
  const sizes = new Map<string, number>();
  await mapLimit([...byFolder], REQUESTS_AT_ONCE, async ([folder, wanted]) => {
    // A name outside any folder would list the whole bucket: asked for alone, as is a lone name.
    if (folder === '' || wanted.size === 1) {
      await Promise.all([...wanted].map(async (name) => {
        const size = await store.size(name);
        if (size !== undefined) sizes.set(name, size);
      }));
      return;
    }
    for (const o of await store.list(folder)) if (wanted.has(o.name)) sizes.set(o.name, o.size);
  });
  return names.map((name) => sizes.get(name));
}
