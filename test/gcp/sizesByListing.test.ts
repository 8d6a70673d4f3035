import assert from 'node:assert/strict';
import sinon from 'sinon';
import { sizesByListing } from '../../shared/adapters/gcp/sizesByListing.js';
import { MemoryObjectStore } from './memoryStore.js';

describe('gcp/sizesByListing: many objects\' sizes from a listing of each folder', () => {
  afterEach(() => sinon.restore());

  async function store(): Promise<MemoryObjectStore> {
    const s = new MemoryObjectStore('bqx-staging');
    for (let i = 0; i < 72; i++) await s.write(`runs/r1/features/agg_eurusd/part-${String(i).padStart(5, '0')}.parquet`, new Uint8Array(100 + i));
    await s.write('runs/r1/features/agg_eurusd/_SUCCESS.json', '{}');
    await s.write('runs/r1/features/agg_eurusd_x/part-00000.parquet', new Uint8Array(7));
    await s.write('runs/r0/features/base_eurusd/part-00000.parquet', new Uint8Array(9));
    await s.write('runs/r0/features/base_eurusd/part-00001.parquet', new Uint8Array(11));
    await s.write('top.json', '{"a":1}');
    return s;
  }

  it('lists a folder holding several of the names once, asks for a lone name alone, and gives every size in order (undefined where absent)', async () => {
    const s = await store();
    const list = sinon.spy(s, 'list');
    const size = sinon.spy(s, 'size');
    const parts = Array.from({ length: 72 }, (_, i) => `runs/r1/features/agg_eurusd/part-${String(i).padStart(5, '0')}.parquet`);
    const names = [
      'runs/r0/features/base_eurusd/part-00001.parquet',
      ...parts,
      'runs/r1/features/agg_eurusd/part-00099.parquet', // absent, in a listed folder
      'runs/r1/features/agg_eurusd_x/part-00000.parquet', // alone in its folder
      'runs/r0/features/base_eurusd/part-00000.parquet',
      'top.json', // in no folder: never a listing of the whole bucket
      'runs/r9/features/gone/part-00000.parquet', // alone and absent
    ];
    const sizes = await sizesByListing(s, names);
    assert.deepEqual(sizes, [11, ...parts.map((_, i) => 100 + i), undefined, 7, 9, 7, undefined]);
    assert.deepEqual(list.args.map((a) => a[0]).sort(), ['runs/r0/features/base_eurusd/', 'runs/r1/features/agg_eurusd/']);
    assert.deepEqual(size.args.map((a) => a[0]).sort(), ['runs/r1/features/agg_eurusd_x/part-00000.parquet', 'runs/r9/features/gone/part-00000.parquet', 'top.json']);
  });

  it('lists a run\'s features folder once where many of its folders hold the names (BigQuery exports a feature in one file), never a folder near the top', async () => {
    const s = await store();
    const names: string[] = [];
    for (let i = 0; i < 12; i++) {
      names.push(`runs/r2/features/f${i}_eurusd/part-000000000000.parquet`);
      await s.write(names.at(-1)!, new Uint8Array(i + 1));
    }
    // Ten runs' manifests: folders lying in `runs/`, which holds every run, each asked for alone.
    const manifests = Array.from({ length: 10 }, (_, i) => `runs/m${i}/manifest.json`);
    for (const m of manifests.slice(0, 9)) await s.write(m, '{}');
    const list = sinon.spy(s, 'list');
    const size = sinon.spy(s, 'size');
    const sizes = await sizesByListing(s, [...names, 'runs/r2/features/gone_eurusd/part-000000000000.parquet', ...manifests]);
    assert.deepEqual(sizes, [...names.map((_, i) => i + 1), undefined, ...manifests.map((_, i) => (i < 9 ? 2 : undefined))]);
    assert.deepEqual(list.args.map((a) => a[0]), ['runs/r2/features/'], 'one listing for the 13 feature folders');
    assert.deepEqual(size.args.map((a) => a[0]).sort(), [...manifests].sort());
  });

  it('gives the same name twice the same size, and nothing for no names', async () => {
    const s = await store();
    const list = sinon.spy(s, 'list');
    const name = 'runs/r0/features/base_eurusd/part-00000.parquet';
    assert.deepEqual(await sizesByListing(s, [name, name]), [9, 9]);
    assert.deepEqual(await sizesByListing(s, []), []);
    assert.equal(list.callCount, 0); // one distinct name in its folder: asked for alone
  });
});
