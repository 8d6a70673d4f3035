// shardFileSizes (shared/outputShards.ts): a dataset's shard files sized by one listing per shard
// folder. Through the store's own `sizes` each (shard, group) file, alone in its folder, was a
// metadata request on Cloud Storage: about 1,600 per check of a full-size refresh's shared files.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { shardFileSizes } from '../../shared/outputShards.js';
import { MemoryObjectStore } from '../gcp/memoryStore.js';

describe('shardFileSizes: a listing per shard folder', () => {
  afterEach(() => sinon.restore());

  it('lists each shard folder once, whatever its groups and attempt folders, sends the other names to sizes, and gives undefined for the absent', async () => {
    const s = new MemoryObjectStore('bqx-output');
    const shard = (id: string) => `training/eurusd/r1/shard-${id}/`;
    const names: string[] = [];
    for (const id of ['20200101', '20200201', '20200301']) {
      for (let g = 0; g < 4; g++) {
        const name = `${shard(id)}group-${String(g).padStart(3, '0')}/part-00000.parquet`;
        await s.write(name, new Uint8Array(10 * g + 1));
        names.push(name);
      }
    }
    // A BigQuery export: a group's files under its attempt's folder.
    const exported = [0, 1].map((i) => `${shard('20200401')}group-000/attempt-abc/part-00000000000${i}.parquet`);
    for (const name of exported) await s.write(name, new Uint8Array(5));
    await s.write('training/eurusd/r1/_manifest.json', '{}');
    const list = sinon.spy(s, 'list');
    const size = sinon.spy(s, 'size');
    const sizesCall = sinon.spy(s, 'sizes');
    const gone = `${shard('20200101')}group-009/part-00000.parquet`;
    const sizes = await shardFileSizes(s, [...names, ...exported, gone, 'training/eurusd/r1/_manifest.json']);
    assert.deepEqual(names.map((n) => sizes.get(n)), Array.from({ length: 12 }, (_, i) => 10 * (i % 4) + 1));
    assert.deepEqual(exported.map((n) => sizes.get(n)), [5, 5]);
    assert.equal(sizes.has(gone), true);
    assert.equal(sizes.get(gone), undefined);
    assert.equal(sizes.get('training/eurusd/r1/_manifest.json'), 2);
    assert.deepEqual(list.args.map((a) => a[0]).sort(), ['20200101', '20200201', '20200301', '20200401'].map(shard));
    assert.deepEqual(sizesCall.args, [[['training/eurusd/r1/_manifest.json']]]);
    assert.equal(size.callCount, 0, 'no file asked for alone');
  });
});
