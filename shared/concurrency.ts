// Bounded parallelism: hundreds of metadata reads, footer reads or deletes, a few at a time (object
// stores answer each in a round trip; one after another, 667 of them are seconds on Cloud Storage).

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/**
 * Waits for every promise to settle, then throws the first failure: nothing is left running
 * behind a rejection (writes that must all have ended before the caller goes on, or fails).
 */
export async function allSettledOrThrow(promises: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
