// What readers of many parquet footers keep of them (parquetLayout.ts `sharedSchema`, parquetScan.ts
// FooterCache): files with the same schema share one schema array, and a file of another schema,
// or of the same columns at another place in its footer, gets its own; the footer cache keeps the
// layouts it was last asked for, up to its bytes, and reads an evicted file's footer again.

import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { FooterCache } from '../../shared/adapters/local/parquetScan.js';
import { layoutBytes, readLayout } from '../../shared/adapters/local/parquetLayout.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('footer-memory');

/** A parquet file of DOUBLE columns `names`, `rows` rows, with a key-value entry of `note` (its footer's length, after the schema). */
function write(name: string, names: string[], rows: number, note = ''): string {
  const file = path.join(dir, name);
  const columnData = names.map((n, c) => ({ name: n, data: Array.from({ length: rows }, (_, r) => r * 1.5 + c), type: 'DOUBLE' as const }));
  writeFileSync(file, Buffer.from(parquetWriteBuffer({ columnData, kvMetadata: note ? [{ key: 'note', value: note }] : [] })));
  return file;
}

describe('footer memory: shared schemas and the footer cache', () => {
  it('gives files with the same schema one schema array, and other schemas their own', () => {
    const [a, b] = [write('a.parquet', ['x', 'y', 'z'], 10), write('b.parquet', ['x', 'y', 'z'], 500, 'a longer footer')];
    const other = write('c.parquet', ['x', 'y', 'w'], 10);
    const [la, lb, lc] = [readLayout(a), readLayout(b), readLayout(other)];
    assert.equal(la.schema, lb.schema, 'the same schema, one array (rows and footer length differ)');
    assert.notEqual(la.schema, lc.schema);
    assert.deepEqual(lc.schema.map((n) => n.name), ['x', 'y', 'w']);
    assert.deepEqual(la.schema.map((n) => n.name), ['x', 'y', 'z']);
    assert.equal(lb.rows, 500);
    assert.equal(la.rows, 10);
  });

  it('keeps the layouts last asked for up to its bytes, and reads an evicted file again', () => {
    const files = ['k0', 'k1', 'k2'].map((n) => write(`${n}.parquet`, ['x', 'y'], 20));
    // The cache keeps layouts without their footer bytes.
    const { bytes: _bytes, ...layout } = readLayout(files[0]!);
    const room = layoutBytes(layout) * 2;
    const cache = new FooterCache(room);
    const first = files.map((f) => cache.get(f)).slice(0, 2);
    // Room for two: k0 went when k2 came. k1 and k2 are the same objects; k0 is read again.
    assert.equal(cache.get(files[1]!), first[1]);
    const again = cache.get(files[0]!);
    assert.notEqual(again, first[0], 'the evicted layout is read again');
    assert.deepEqual(again.rowGroups[0]!.dataPageOffset, first[0]!.rowGroups[0]!.dataPageOffset);
    // Asking for k1 made it the most recent: k2 went when k0 came back, not k1.
    assert.equal(cache.get(files[1]!), first[1]);

    // A file replaced on disk after it was evicted is read as it is now.
    const wider = write('wider.parquet', ['x', 'y', 'v'], 20);
    cache.get(files[0]!);
    cache.get(files[2]!);
    renameSync(wider, files[1]!);
    assert.deepEqual(cache.get(files[1]!).schema.map((n) => n.name), ['x', 'y', 'v']);
  });

  it('keeps one layout larger than its bytes', () => {
    const file = write('big.parquet', ['x', 'y', 'z'], 20);
    const cache = new FooterCache(1);
    const layout = cache.get(file);
    assert.equal(cache.get(file), layout);
  });
});
