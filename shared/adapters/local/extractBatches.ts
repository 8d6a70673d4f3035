// Which time shards of one extract are read together. A parquet source's rows come in row groups of
// up to 122,880 rows, so each shard's own `COPY ... WHERE key in shard` decoded every row group it
// touches: at 20,000 rows a table is one row group, and a day-shard extract decoded the whole
// table once per day (19 times for a 232-column table; 2.1-2.7 s). Reading a run of consecutive
// shards once into a temporary table and writing each shard's file from it took 1.9-2.0 s there
// (per-shard COPY from the table: the writer's cost per column and file is what remains). Only
// parquet sources gain, and only runs of three or more shards (duckdbWarehouse.ts STAGED_SHARDS).

/** A run of consecutive shards [from, to) read from the table once; `staged` when it holds enough shards with rows to gain. */
export interface ShardBatch {
  from: number;
  to: number;
  staged: boolean;
}

/**
 * Cuts `shardRows` (rows per shard, in order) into runs of at most `maxRows` rows: a shard over the
 * limit, or one that must be written on its own (`alone`: a refresh's carried shard), is a batch of
 * one. Shards without rows join whatever batch they fall in (they are written from nothing either
 * way). A run is staged when at least `minShards` of its shards have rows.
 */
export function shardBatches(shardRows: readonly number[], maxRows: number, alone: (index: number) => boolean = () => false, minShards = 2): ShardBatch[] {
  const batches: ShardBatch[] = [];
  let from = 0;
  let rows = 0;
  let filled = 0;
  const close = (to: number) => {
    if (to > from) batches.push({ from, to, staged: filled >= minShards });
    [from, rows, filled] = [to, 0, 0];
  };
  for (let i = 0; i < shardRows.length; i++) {
    const n = shardRows[i]!;
    if (alone(i)) {
      close(i);
      batches.push({ from: i, to: i + 1, staged: false });
      from = i + 1;
      continue;
    }
    if (rows + n > maxRows && filled > 0) close(i);
    rows += n;
    if (n > 0) filled++;
  }
  close(shardRows.length);
  return batches;
}
