// The sizes of many objects in a bucket (GcsObjectStore.sizes), by listing each folder they lie in
// once rather than asking for each object. A size is a request (the object's metadata) and a
// listing answers for up to 1,000 objects: a reused checkpoint at full size has a file per month
// shard (72 over six years), and a run's start checks 667 of them, then again as it records them,
// so about 96,000 requests against about 1,300 listings. A folder holding only one of the names is
// asked for that one.

import { mapLimit } from '../../concurrency.js';
import type { ObjectStore } from '../../ports.js';

/** Folders listed (or objects asked for) at once. */
const REQUESTS_AT_ONCE = 16;

/** The sizes of `names`, in order; undefined where an object is absent. */
export async function sizesByListing(store: Pick<ObjectStore, 'list' | 'size'>, names: readonly string[]): Promise<(number | undefined)[]> {
  const byFolder = new Map<string, Set<string>>();
  for (const name of names) {
    const folder = name.slice(0, name.lastIndexOf('/') + 1);
    const inFolder = byFolder.get(folder) ?? new Set<string>();
    byFolder.set(folder, inFolder.add(name));
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
