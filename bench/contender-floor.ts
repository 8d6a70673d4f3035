// Contender (d): the floor. Reads every input once (the labels parquet and every checkpoint,
// plain fs reads in 8 MiB blocks, no decoding) and writes the same bytes to one output file, so
// the output is as large as the inputs (about the merged output's size). Any merge must at least
// read its inputs and write its output; this is that and nothing else.
// Usage: node --import tsx bench/contender-floor.ts --set DIR --out DIR

import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { finish, flags, flushIfDurable, formatError, loadSet } from './common.js';

const f = flags();
const set = loadSet(f.get('set')!);
const outDir = f.get('out')!;
const target = path.join(outDir, 'floor.bin');
let began = process.hrtime.bigint();
try {
  await fs.mkdir(outDir, { recursive: true });
  began = process.hrtime.bigint();
  const buffer = Buffer.alloc(8 << 20);
  const out = openSync(target, 'w');
  let bytes = 0;
  for (const file of [set.labelsParquet, ...set.features.flatMap((x) => x.files)]) {
    const fd = openSync(file, 'r');
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      let done = 0;
      while (done < n) done += writeSync(out, buffer, done, n - done);
      bytes += n;
    }
    closeSync(fd);
  }
  closeSync(out);
  flushIfDurable(outDir);
  const wall = Number(process.hrtime.bigint() - began) / 1e9;
  const size = (await fs.stat(target)).size;
  await fs.rm(outDir, { recursive: true, force: true });
  const ok = size === bytes && bytes === set.inputBytes;
  finish({ wall_s: wall, output_bytes: size, rows: null, columns: null, ok, ...(ok ? {} : { error: `wrote ${size} of ${set.inputBytes} bytes` }), files: 1 });
} catch (error) {
  await fs.rm(outDir, { recursive: true, force: true }).catch(() => {});
  finish({ wall_s: Number(process.hrtime.bigint() - began) / 1e9, output_bytes: 0, rows: null, columns: null, ok: false, error: formatError(error) });
}
