// What a run's BigQuery work costs on demand: BigQuery bills a query by the bytes it processes,
// at a price per TiB (BQX_COST_PER_TB_USD). One rule for `bqx plan`'s estimate, the merge's dry
// runs and the billed bytes a run's jobs report.

const TIB = 2 ** 40;

/** On-demand cost of `bytes` at `costPerTbUsd` a TiB, to a hundredth of a cent. */
export function estimateCost(bytes: number, costPerTbUsd: number): number {
  return Math.round((bytes / TIB) * costPerTbUsd * 10000) / 10000;
}

/**
 * The bytes a run's jobs billed, where the warehouse reports them (BigQuery's totalBytesBilled):
 * its extracts (checkpoints it reused cost nothing this run), its merge (loads, staged joins,
 * exports) and its profile's column pass. Undefined when nothing reported any (embedded).
 */
export function billedBytes(parts: readonly (number | undefined)[]): number | undefined {
  const reported = parts.filter((b): b is number => b !== undefined);
  return reported.length > 0 ? reported.reduce((a, b) => a + b, 0) : undefined;
}
