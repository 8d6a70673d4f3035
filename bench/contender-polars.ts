// Contender (b): the Polars peer, as the issue measured it: each checkpoint read and aligned to
// the label keys (left join), then one horizontal concat with the labels, written once as a
// zstd parquet file. Untuned: Polars' defaults for threads, reading and writing.
// Usage: node --import tsx bench/contender-polars.ts --set DIR --out DIR

import pl from 'nodejs-polars';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { KEY_COLUMN } from '../shared/naming.js';
import { finish, finishWithFile, flags, flushIfDurable, formatError, loadSet } from './common.js';

const f = flags();
const set = loadSet(f.get('set')!);
const outDir = f.get('out')!;
const target = path.join(outDir, 'training_polars.parquet');
let began = process.hrtime.bigint();
try {
  await fs.mkdir(outDir, { recursive: true });
  began = process.hrtime.bigint();
  const labels = pl.readParquet(set.labelsParquet);
  const keys = labels.select(KEY_COLUMN);
  const frames: pl.DataFrame[] = [labels];
  for (const feature of set.features) {
    const parts = feature.files.map((file) => pl.readParquet(file, { columns: [KEY_COLUMN, ...feature.columns.map((c) => c.source)] }));
    const table = parts.length === 1 ? parts[0]! : pl.concat(parts, { how: 'vertical' });
    const renamed = table.rename(Object.fromEntries(feature.columns.map((c) => [c.source, c.output])));
    frames.push(keys.join(renamed, { on: KEY_COLUMN, how: 'left' }).drop(KEY_COLUMN));
  }
  const merged = pl.concat(frames, { how: 'horizontal' });
  merged.writeParquet(target, { compression: 'zstd' });
  flushIfDurable(outDir);
  const wall = Number(process.hrtime.bigint() - began) / 1e9;

  await finishWithFile(target, set, wall, outDir, { files: 1 });
} catch (error) {
  await fs.rm(outDir, { recursive: true, force: true }).catch(() => {});
  finish({ wall_s: Number(process.hrtime.bigint() - began) / 1e9, output_bytes: 0, rows: null, columns: null, ok: false, error: formatError(error) });
}
