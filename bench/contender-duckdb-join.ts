// Contender (c): the single query with one LEFT JOIN per feature (667) to the label keys,
// written by DuckDB as one zstd parquet file, under a memory_limit (the bench also kills it past
// a wall-clock cap; its spill to disk is capped too). Recorded as failed, with its error, when it fails.
// Usage: node --import tsx bench/contender-duckdb-join.ts --set DIR --out DIR [--memory-mb 8192]

import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs, statfsSync } from 'node:fs';
import path from 'node:path';
import { literal } from '../shared/adapters/local/duckdbSql.js';
import { KEY_COLUMN, quoteIdent } from '../shared/naming.js';
import { finish, finishWithFile, flags, flushIfDurable, formatError, loadSet } from './common.js';

const f = flags();
const set = loadSet(f.get('set')!);
const outDir = f.get('out')!;
const memoryMb = Number(f.get('memory-mb') ?? 8192);
// DuckDB spills what does not fit to disk, by default up to 90 % of the free space: keep half of
// it (at most 24 GiB) so a failing query never fills the disk.
const disk = statfsSync(set.dir);
const spillGb = Math.max(1, Math.min(24, Math.floor((disk.bavail * disk.bsize) / 2 ** 30 / 2)));
const target = path.join(outDir, 'training_duckdb.parquet');
const q = (name: string) => quoteIdent(name, 'duckdb');
const K = q(KEY_COLUMN);

let began = process.hrtime.bigint();
try {
  await fs.mkdir(outDir, { recursive: true });
  began = process.hrtime.bigint();
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: `${memoryMb}MB`,
    temp_directory: path.join(outDir, 'spill'),
    max_temp_directory_size: `${spillGb}GB`,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const c = await instance.connect();
  const select = [`l.*`];
  const joins: string[] = [];
  set.features.forEach((feature, i) => {
    const alias = `t${i}`;
    for (const col of feature.columns) select.push(`${alias}.${q(col.source)} AS ${q(col.output)}`);
    joins.push(`LEFT JOIN read_parquet([${feature.files.map(literal).join(', ')}]) ${alias} ON ${alias}.${K} = l.${K}`);
  });
  const query = `SELECT ${select.join(', ')} FROM read_parquet(${literal(set.labelsParquet)}) l\n${joins.join('\n')}\nORDER BY l.${K}`;
  await c.run(`COPY (${query}) TO ${literal(target)} (FORMAT parquet, COMPRESSION zstd)`);
  c.closeSync();
  instance.closeSync();
  flushIfDurable(outDir);
  const wall = Number(process.hrtime.bigint() - began) / 1e9;

  await finishWithFile(target, set, wall, outDir, { memory_limit_mb: memoryMb, spill_limit_gb: spillGb });
} catch (error) {
  await fs.rm(outDir, { recursive: true, force: true }).catch(() => {});
  finish({ wall_s: Number(process.hrtime.bigint() - began) / 1e9, output_bytes: 0, rows: null, columns: null, ok: false, error: formatError(error), memory_limit_mb: memoryMb, spill_limit_gb: spillGb });
}
