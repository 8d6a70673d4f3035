// The sha256 of an object's bytes, kept per byte array. The sweep's memory stores hold the arrays
// they were given, and a replayed job writes the same arrays again (replayWarehouse.ts), so the
// merge key, the profile's key and the output digest hash each distinct file once per sweep, not
// once per simulated run (hashing was the sweep's largest cost in a CPU profile). Stores replace
// an object's array on write and never change one in place, so a kept digest cannot go stale.

import { createHash } from 'node:crypto';

const digests = new WeakMap<Uint8Array, string>();

export function bytesDigest(bytes: Uint8Array): string {
  let digest = digests.get(bytes);
  if (digest === undefined) {
    digest = createHash('sha256').update(bytes).digest('hex');
    digests.set(bytes, digest);
  }
  return digest;
}
