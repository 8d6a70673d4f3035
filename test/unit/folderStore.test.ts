// The folder store makes each folder once per store (folderStore.ts `folder`), so a folder removed
// behind its back (by hand, or a test's cleanup) must be made again where a file is moved into it.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { tempDir } from '../helpers/temp.js';

describe('folder store: folders made once', () => {
  it('writes, creates if absent and adopts into a folder removed since the store made it', async () => {
    const store = new FolderObjectStore(tempDir('folder-store'));
    const finalized: string[] = [];
    store.onFinalize((o) => finalized.push(o.name));
    const gone = () => fs.rm(path.join(store.root, 'runs'), { recursive: true, force: true });

    assert.equal(await store.write('runs/a/x.json', '1'), true);
    await gone();
    assert.equal(await store.write('runs/a/y.json', '2'), true);
    await gone();
    assert.equal(await store.write('runs/a/z.json', '3', { ifAbsent: true }), true);
    assert.equal(await store.write('runs/a/z.json', '4', { ifAbsent: true }), false, 'still refuses an existing object');
    assert.equal(Buffer.from(await store.read('runs/a/z.json')).toString(), '3');
    await gone();
    const temp = await store.tempPath('.parquet');
    await fs.writeFile(temp, 'p');
    await store.adopt('runs/a/part-00000.parquet', temp);

    assert.equal(Buffer.from(await store.read('runs/a/part-00000.parquet')).toString(), 'p');
    assert.deepEqual(finalized, ['runs/a/x.json', 'runs/a/y.json', 'runs/a/z.json', 'runs/a/part-00000.parquet']);
    assert.deepEqual(await fs.readdir(path.join(store.root, '.tmp')), [], 'no temp file left');
  });
});

describe('folder store: an object written in parts', () => {
  it('writes the parts one after another, more than one writev holds, as the object the joined bytes make', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-parts'));
    // 2,500 parts of different lengths (some empty, some views into a larger buffer): three writev calls.
    const backing = Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7) % 251));
    const parts = Array.from({ length: 2_500 }, (_, i) => backing.subarray(i * 13, i * 13 + (i % 5 === 0 ? 0 : 1 + (i % 29))));
    const joined = Buffer.concat(parts);
    assert.equal(await store.write('profile/sample.f64', parts), true);
    assert.deepEqual(Buffer.from(await store.read('profile/sample.f64')), joined);
    assert.equal(await store.size('profile/sample.f64'), joined.length);
    assert.equal(await store.write('profile/sample.f64', parts, { ifAbsent: true }), false, 'refuses an existing object');
    assert.deepEqual(await fs.readdir(path.join(store.root, '.tmp')), [], 'no temp file left');
  });
});

describe('folder store: reads', () => {
  it('reads a large object (on libuv\'s threads) and a small one (at once) whole; an absent one fails as ENOENT', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-read'));
    // Past the 1 MB from which reads go to libuv's threads, and not a multiple of any buffer size.
    const large = Buffer.from(Array.from({ length: 3 * 2 ** 20 + 5 }, (_, i) => (i * 31) % 256));
    await store.write('profile/sample.f64', large);
    await store.write('small.json', '{"a":1}');
    const [back, small] = await Promise.all([store.read('profile/sample.f64'), store.read('small.json')]);
    assert.deepEqual(Buffer.from(back), large);
    assert.equal(Buffer.from(small).toString(), '{"a":1}');
    await assert.rejects(store.read('absent.json'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  });
});

describe('folder store: many sizes', () => {
  it('gives each object\'s size in order, undefined where absent, without listing a folder', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-sizes'));
    await store.write('runs/r/features/f/part-00000.parquet', new Uint8Array(5));
    await store.write('runs/r/features/f/part-00001.parquet', new Uint8Array(8));
    await store.write('top.json', '{}');
    const list = sinon.spy(store, 'list');
    assert.deepEqual(await store.sizes(['runs/r/features/f/part-00001.parquet', 'runs/r/features/f/part-00009.parquet', 'top.json', 'runs/r/features/f/part-00000.parquet']), [8, undefined, 2, 5]);
    sinon.assert.notCalled(list);
  });
});

describe('folder store: objects deleted by exact name', () => {
  it('deletes only the names given, passes over absent ones, and removes the folders left empty', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-delete'));
    for (const name of ['runs/a/f/part-00001.parquet', 'runs/a/f/part-00001.parquet.extra', 'runs/a/g/part-00000.parquet', 'runs/b/x']) await store.write(name, name);
    const deleted = await store.deleteObjects(['runs/a/f/part-00001.parquet', 'runs/a/g/part-00000.parquet', 'runs/a/g/absent.parquet']);
    assert.equal(deleted, 2);
    assert.deepEqual((await store.list('runs/')).map((o) => o.name), ['runs/a/f/part-00001.parquet.extra', 'runs/b/x'], 'a name that only begins with a deleted one stays');
    assert.equal(await fs.stat(path.join(store.root, 'runs/a/g')).catch(() => 'gone'), 'gone', 'the emptied folder went');
    assert.ok((await fs.stat(path.join(store.root, 'runs/a/f'))).isDirectory(), 'a folder still holding an object stays');
    assert.equal(await store.deleteObjects([]), 0);
  });

  it('deletes many objects a few at a time, every one, and a prefix with its folders', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-delete-many'));
    const names = Array.from({ length: 60 }, (_, i) => `runs/r1/features/t${i % 7}/part-${String(i).padStart(5, '0')}.parquet`);
    for (const name of [...names, 'runs/r2/features/t0/_SUCCESS.json']) await store.write(name, name);
    const doomed = names.filter((_, i) => i % 2 === 0);
    assert.equal(await store.deleteObjects([...doomed, 'runs/r1/features/t9/absent.parquet']), doomed.length);
    assert.deepEqual((await store.list('runs/r1/')).map((o) => o.name), names.filter((_, i) => i % 2 === 1).sort());
    assert.equal(await store.deletePrefix('runs/r1/'), names.length - doomed.length);
    assert.deepEqual((await store.list('runs/')).map((o) => o.name), ['runs/r2/features/t0/_SUCCESS.json']);
    assert.equal(await fs.stat(path.join(store.root, 'runs/r1')).catch(() => 'gone'), 'gone', 'the run folder left empty went, up to runs/');
  });
});

describe('folder store: copies', () => {
  it('copies an object into a new folder, replacing one there, as its own file (a change to one in place never shows in the other); an absent one fails', async () => {
    const store = new FolderObjectStore(tempDir('folder-store-copy'));
    const finalized: string[] = [];
    store.onFinalize((o) => finalized.push(`${o.name} ${o.size}`));
    await store.write('a/profile/sample.f64', 'sample bytes');
    await store.write('b/profile/sample.f64', 'older');
    await store.copy('a/profile/sample.f64', 'b/profile/sample.f64');
    await store.copy('a/profile/sample.f64', 'c/deep/sample.f64');
    assert.equal(Buffer.from(await store.read('b/profile/sample.f64')).toString(), 'sample bytes');
    await fs.writeFile(store.uri('a/profile/sample.f64'), 'changed in place');
    assert.equal(Buffer.from(await store.read('c/deep/sample.f64')).toString(), 'sample bytes');
    assert.deepEqual(finalized.slice(2), ['b/profile/sample.f64 12', 'c/deep/sample.f64 12']);
    await assert.rejects(store.copy('a/none.f64', 'd/none.f64'), /ENOENT/);
    assert.deepEqual(await fs.readdir(path.join(store.root, '.tmp')), [], 'no temp file left');
  });
});
