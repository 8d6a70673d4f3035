// A map that keeps what was used last, up to a total weight (an entry's count, or its bytes): the
// footer readers' caches (adapters/local/parquetScan.ts FooterCache, parquetLayout.ts's shared
// schemas), which must not grow with the number of files a dataset has.

export class LruMap<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private weight = 0;

  constructor(private readonly maxWeight: number) {}

  /** The value, now the most recently used; undefined when not kept. */
  get(key: K): V | undefined {
    const kept = this.entries.get(key);
    if (!kept) return undefined;
    this.entries.delete(key);
    this.entries.set(key, kept);
    return kept.value;
  }

  /** Keeps `value` as the most recently used, then drops the least recently used past the weight; the one just set stays, whatever its weight. */
  set(key: K, value: V, weight = 1): V {
    const previous = this.entries.get(key);
    if (previous) {
      this.entries.delete(key);
      this.weight -= previous.weight;
    }
    this.entries.set(key, { value, weight });
    this.weight += weight;
    for (const [k, old] of this.entries) {
      if (this.weight <= this.maxWeight || k === key) break;
      this.entries.delete(k);
      this.weight -= old.weight;
    }
    return value;
  }
}
