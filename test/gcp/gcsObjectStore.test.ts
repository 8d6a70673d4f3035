// The Cloud Storage object store against a stubbed Bucket and File: object paths, ranged reads,
// the create-if-absent precondition and its 412, listing order, and what it refuses.

import assert from 'node:assert/strict';
import type { Bucket } from '@google-cloud/storage';
import sinon from 'sinon';
import { GcsObjectStore } from '../../shared/adapters/gcp/gcsObjectStore.js';

const httpError = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });

interface FakeFile {
  name: string;
  metadata: { size?: string };
  download: sinon.SinonStub;
  save: sinon.SinonStub;
  getMetadata: sinon.SinonStub;
  delete: sinon.SinonStub;
  copy: sinon.SinonStub;
}

describe('gcp/GcsObjectStore', () => {
  let sandbox: sinon.SinonSandbox;
  let files: Map<string, FakeFile>;
  let bucket: { name: string; file: sinon.SinonStub; getFiles: sinon.SinonStub };
  let store: GcsObjectStore;

  const fileOf = (name: string, size = 0): FakeFile => {
    let f = files.get(name);
    if (!f) {
      f = {
        name,
        metadata: { size: String(size) },
        download: sandbox.stub().resolves([Buffer.from('0123456789')]),
        save: sandbox.stub().resolves(),
        getMetadata: sandbox.stub().resolves([{ size: String(size) }]),
        delete: sandbox.stub().resolves([{}]),
        copy: sandbox.stub().resolves([{}]),
      };
      files.set(name, f);
    }
    return f;
  };

  beforeEach(() => {
    sandbox = sinon.createSandbox();
    files = new Map();
    bucket = { name: 'bqx-staging', file: sandbox.stub().callsFake((name: string) => fileOf(name)), getFiles: sandbox.stub() };
    store = new GcsObjectStore(bucket as unknown as Bucket);
  });

  afterEach(() => sandbox.restore());

  it('names objects gs://bucket/name, wildcards included', () => {
    assert.equal(store.bucket, 'bqx-staging');
    assert.equal(store.uri('runs/r/manifest.json'), 'gs://bqx-staging/runs/r/manifest.json');
    assert.equal(store.uri('runs/r/features/f/part-*.parquet'), 'gs://bqx-staging/runs/r/features/f/part-*.parquet');
    assert.throws(() => store.uri('runs/../secret'), /not a plain object path/);
    assert.throws(() => store.uri("runs/a'b"), /not a plain object path/);
  });

  it('reads a byte range with a ranged download (end inclusive), never the whole object', async () => {
    const name = 'runs/r/features/f/part-00000.parquet';
    fileOf(name).download.resolves([Buffer.from('PAR1')]);
    const bytes = await store.readRange(name, 1_000_000, 1_000_004);
    assert.deepEqual([...bytes], [...Buffer.from('PAR1')]);
    sinon.assert.calledOnceWithExactly(files.get(name)!.download, { start: 1_000_000, end: 1_000_003 });
    assert.equal((await store.readRange(name, 5, 5)).byteLength, 0);
    sinon.assert.calledOnce(files.get(name)!.download);
    await assert.rejects(store.readRange(name, 10, 5), /not a valid range/);
    await assert.rejects(store.readRange(name, -1, 5), /not a valid range/);
  });

  it('creates only if absent with ifGenerationMatch: 0, and a 412 means it exists', async () => {
    const name = 'runs/r/features/f/_SUCCESS.json';
    assert.equal(await store.write(name, '{"rows":1}', { ifAbsent: true, contentType: 'application/json' }), true);
    sinon.assert.calledOnceWithExactly(files.get(name)!.save, '{"rows":1}', {
      resumable: false,
      contentType: 'application/json',
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    files.get(name)!.save.rejects(httpError(412));
    assert.equal(await store.write(name, '{"rows":2}', { ifAbsent: true }), false);
    files.get(name)!.save.rejects(httpError(503));
    await assert.rejects(store.write(name, 'x', { ifAbsent: true }), /HTTP 503/);
  });

  it('overwrites without a precondition, and a 412 is then an error', async () => {
    const name = 'training/eurusd/r/_manifest.json';
    assert.equal(await store.write(name, new Uint8Array([1, 2, 3])), true);
    const [data, options] = files.get(name)!.save.firstCall.args;
    assert.deepEqual([...data], [1, 2, 3]);
    assert.deepEqual(options, { resumable: false });
    files.get(name)!.save.rejects(httpError(412));
    await assert.rejects(store.write(name, 'x'), /HTTP 412/);
  });

  it('sends an object given in parts as one body, the parts joined in order', async () => {
    const name = 'training/eurusd/r/profile/sample.f64';
    const parts = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3]), Buffer.from([4, 5])];
    assert.equal(await store.write(name, parts, { contentType: 'application/octet-stream' }), true);
    const [data, options] = files.get(name)!.save.firstCall.args;
    assert.ok(Buffer.isBuffer(data));
    assert.deepEqual([...data], [1, 2, 3, 4, 5]);
    assert.deepEqual(options, { resumable: false, contentType: 'application/octet-stream' });
  });

  it('gives the size from metadata, undefined for a missing object', async () => {
    fileOf('a/b.parquet').getMetadata.resolves([{ size: '123456789012' }]);
    assert.equal(await store.size('a/b.parquet'), 123456789012);
    fileOf('a/missing').getMetadata.rejects(httpError(404));
    assert.equal(await store.size('a/missing'), undefined);
    fileOf('a/broken').getMetadata.rejects(httpError(500));
    await assert.rejects(store.size('a/broken'), /HTTP 500/);
  });

  it('gives many sizes from one listing of each folder holding several, and a lone object\'s from its metadata', async () => {
    const folder = 'runs/r/features/agg_eurusd/';
    const parts = Array.from({ length: 72 }, (_, i) => fileOf(`${folder}part-${String(i).padStart(5, '0')}.parquet`, 1000 + i));
    bucket.getFiles.resolves([[...parts, fileOf(`${folder}_SUCCESS.json`, 2)]]);
    fileOf('runs/r/features/base_eurusd/part-00000.parquet').getMetadata.resolves([{ size: '77' }]);
    const names = [...parts.map((f) => f.name), `${folder}part-00099.parquet`, 'runs/r/features/base_eurusd/part-00000.parquet'];
    assert.deepEqual(await store.sizes(names), [...parts.map((_, i) => 1000 + i), undefined, 77]);
    sinon.assert.calledOnceWithExactly(bucket.getFiles, { prefix: folder, autoPaginate: true });
    for (const f of parts) sinon.assert.notCalled(f.getMetadata); // 72 requests a listing answered
    sinon.assert.calledOnce(files.get('runs/r/features/base_eurusd/part-00000.parquet')!.getMetadata);
  });

  it('copies an object within the bucket by the service\'s copy, downloading nothing, and checks both names', async () => {
    await store.copy('training/eurusd/r1/profile/sample.f64', 'training/eurusd/r2/profile/sample.f64');
    const from = files.get('training/eurusd/r1/profile/sample.f64')!;
    sinon.assert.calledOnceWithExactly(from.copy, files.get('training/eurusd/r2/profile/sample.f64'));
    sinon.assert.notCalled(from.download);
    await assert.rejects(store.copy('a/../b', 'c'), /not a plain object path/);
    await assert.rejects(store.copy('a', 'b/../c'), /not a plain object path/);
  });

  it('reads a whole object', async () => {
    fileOf('runs/r/manifest.json').download.resolves([Buffer.from('{"v":1}')]);
    assert.equal(new TextDecoder().decode(await store.read('runs/r/manifest.json')), '{"v":1}');
    sinon.assert.calledOnceWithExactly(files.get('runs/r/manifest.json')!.download);
  });

  it('lists a prefix sorted by name, with sizes and generations', async () => {
    const listed = [fileOf('p/part-2.parquet', 20), fileOf('p/part-10.parquet', 100), fileOf('p/part-1.parquet', 10)];
    Object.assign(listed[0]!.metadata, { generation: '1700000000000002' });
    Object.assign(listed[2]!.metadata, { generation: 1700000000000001 });
    bucket.getFiles.resolves([listed]);
    assert.deepEqual(await store.list('p/'), [
      { name: 'p/part-1.parquet', size: 10, generation: '1700000000000001' },
      { name: 'p/part-10.parquet', size: 100 },
      { name: 'p/part-2.parquet', size: 20, generation: '1700000000000002' },
    ]);
    sinon.assert.calledOnceWithExactly(bucket.getFiles, { prefix: 'p/', autoPaginate: true });
    await assert.rejects(store.list('../'), /not a plain object path/);
  });

  it('deletes everything under a prefix and refuses an empty prefix', async () => {
    const listed = [fileOf('runs/r/features/f/part-1.parquet'), fileOf('runs/r/features/f/_SUCCESS.json')];
    bucket.getFiles.resolves([listed]);
    assert.equal(await store.deletePrefix('runs/r/features/f/'), 2);
    for (const f of listed) sinon.assert.calledOnceWithExactly(f.delete, { ignoreNotFound: true });
    await assert.rejects(store.deletePrefix(''), /whole bucket/);
    sinon.assert.calledOnce(bucket.getFiles);
  });

  it('deletes objects by exact name without listing, counting only those that were there', async () => {
    fileOf('runs/r/features/g/part-2.parquet').delete.rejects(httpError(404));
    assert.equal(await store.deleteObjects(['runs/r/features/f/part-1.parquet', 'runs/r/features/g/part-2.parquet']), 1);
    sinon.assert.calledOnceWithExactly(files.get('runs/r/features/f/part-1.parquet')!.delete);
    sinon.assert.notCalled(bucket.getFiles);
    fileOf('runs/r/features/h/part-3.parquet').delete.rejects(httpError(503));
    await assert.rejects(store.deleteObjects(['runs/r/features/h/part-3.parquet']), /HTTP 503/);
    await assert.rejects(store.deleteObjects(['../x']), /not a plain object path/);
  });
});
