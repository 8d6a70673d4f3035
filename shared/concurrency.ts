// Bounded parallelism: hundreds of metadata reads, footer reads or deletes, a few at a time (object
// stores answer each in a round trip; one after another, 667 of them are seconds on Cloud Storage).

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep input order. After
 * a call fails no new one starts, and the failure is thrown once the calls in flight have ended,
 * so nothing is left running behind it (say, a write into a folder the caller then removes).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await allSettledOrThrow(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
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
