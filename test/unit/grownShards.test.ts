// A refresh's grown shard (shared/chain/shareShards.ts): the earlier dataset's files of the
// partial last shard stay, first, and the merge's part follows; the extracts then carry nothing,
// unless a checkpoint already holds that cell in MAX_SHARD_PARTS files.

import assert from 'node:assert/strict';
import { settleGrown, withGrown, type SharePlan } from '../../shared/chain/shareShards.js';
import type { RunManifest } from '../../shared/manifest.js';
import type { MergedShard, MergeResult } from '../../shared/ports.js';
import { MAX_SHARD_PARTS, shardGrid } from '../../shared/shards.js';

const group = (index: number, files: string[], rows: number) => ({ index, files, rows, columns: ['interval_time', `c${index}`], bytes: 10 * rows, distinctKeys: rows, keysInOrder: true });
const shard = (id: string, start: string, end: string, rows: number, files: (g: number) => string[]): MergedShard => ({
  index: 0,
  id,
  start,
  end,
  rows,
  groups: [0, 1].map((g) => group(g, files(g), rows)),
  keysInRange: true,
});
const done = (shards: MergedShard[]): Extract<MergeResult, { state: 'done' }> => ({ state: 'done', groups: [], shards, rows: shards.reduce((n, s) => n + s.rows, 0) });

describe('grown shards', () => {
  const grid = shardGrid({ start: '2021-03-01T00:00:00.000Z', end: '2021-03-03T02:00:00.000Z' }, 'day');
  const earlier = shard('20210302', '2021-03-02T00:00:00.000Z', '2021-03-02T01:00:00.000Z', 60, (g) => [`old/shard-20210302/group-00${g}/part-00000.parquet`]);

  it('puts the earlier part first, group by group, with the shard\'s new bounds and summed counts', () => {
    const part = shard('20210302', '2021-03-02T01:00:00.000Z', '2021-03-03T00:00:00.000Z', 1380, (g) => [`new/shard-20210302/group-00${g}/part-00000.parquet`]);
    const next = shard('20210303', '2021-03-03T00:00:00.000Z', '2021-03-03T02:00:00.000Z', 120, (g) => [`new/shard-20210303/group-00${g}/part-00000.parquet`]);
    const result = withGrown(done([part, next]), [earlier], grid);
    assert.equal(result.rows, 1560);
    const [grown, after] = result.shards;
    assert.deepEqual([grown!.start, grown!.end, grown!.rows], ['2021-03-02T00:00:00.000Z', '2021-03-03T00:00:00.000Z', 1440]);
    for (const g of grown!.groups) {
      assert.deepEqual(g.files, [`old/shard-20210302/group-00${g.index}/part-00000.parquet`, `new/shard-20210302/group-00${g.index}/part-00000.parquet`]);
      assert.deepEqual([g.rows, g.distinctKeys, g.bytes], [1440, 1440, 14400]);
    }
    assert.equal(after, result.shards[1]);
    assert.equal(after!.id, '20210303');
  });

  it('keeps a grown shard whose new minutes hold no label row: its earlier files alone, to the new bounds', () => {
    const next = shard('20210303', '2021-03-03T00:00:00.000Z', '2021-03-03T02:00:00.000Z', 120, (g) => [`new/shard-20210303/group-00${g}/part-00000.parquet`]);
    const result = withGrown(done([next]), [earlier], grid);
    assert.deepEqual(result.shards.map((s) => [s.id, s.start, s.end, s.rows]), [
      ['20210302', '2021-03-02T00:00:00.000Z', '2021-03-03T00:00:00.000Z', 60],
      ['20210303', '2021-03-03T00:00:00.000Z', '2021-03-03T02:00:00.000Z', 120],
    ]);
    assert.equal(result.rows, 180);
  });

  it('refuses an earlier part missing a group the merge built', () => {
    const part = shard('20210302', '2021-03-02T01:00:00.000Z', '2021-03-03T00:00:00.000Z', 1380, (g) => [`new/${g}.parquet`]);
    const partial = { ...earlier, groups: earlier.groups.slice(0, 1) };
    assert.throws(() => withGrown(done([part]), [partial], grid), /lists no column group 1 there/);
  });

  describe('settleGrown', () => {
    const manifest = (carries: number[]) => ({ features: carries.map((n, i) => ({ feature: `f${i}`, incremental: { carry: Array.from({ length: n }, (_, k) => `runs/x/f${i}/part-${k}.parquet`) } })) }) as unknown as RunManifest;
    const plan = (): SharePlan => ({ shared: ['20210301'], rebuilt: ['20210302', '20210303'], grown: [{ id: '20210302', from: '2021-03-02T01:00:00.000Z' }] });

    it('takes the carry off every extract when the shard grows', () => {
      const [p, m] = [plan(), manifest([1, MAX_SHARD_PARTS - 1])];
      settleGrown(p, m);
      assert.deepEqual(p.grown, [{ id: '20210302', from: '2021-03-02T01:00:00.000Z' }]);
      assert.ok(m.features.every((f) => f.incremental!.carry === undefined));
    });

    it(`builds the shard whole, carries kept, once a checkpoint holds the cell in ${MAX_SHARD_PARTS} files`, () => {
      const [p, m] = [plan(), manifest([1, MAX_SHARD_PARTS])];
      settleGrown(p, m);
      assert.equal(p.grown, undefined);
      assert.deepEqual(p.rebuilt, ['20210302', '20210303']);
      assert.deepEqual(m.features.map((f) => f.incremental!.carry!.length), [1, MAX_SHARD_PARTS]);
    });
  });
});
