// The extract phase's reference: one DuckDB session copying the same 667 tables (the same
// columns, the same window) to parquet with the same format options as the extract (zstd 1,
// v2 pages, the same row groups), one COPY after another, nothing else: no counting, no
// deduplication, no sort, no checks, no messages. Same settings as `bqx run`'s warehouse
// (memory_limit = BQX_MERGE_MEMORY_MB, DuckDB's default threads), opened read-only.
// Usage: node --import tsx bench/bulk-copy.ts --set DIR --out DIR

import { DuckDBInstance } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { copyToParquetSql } from '../shared/adapters/local/duckdbSql.js';
import { loadConfig } from '../shared/config.js';
import type { RunManifest } from '../shared/manifest.js';
import { KEY_COLUMN, quoteIdent } from '../shared/naming.js';
import { finish, flags, formatError, loadSet } from './common.js';

const f = flags();
const set = loadSet(f.get('set')!);
const outDir = f.get('out')!;
const q = (name: string) => quoteIdent(name, 'duckdb');
let began = process.hrtime.bigint();
try {
  const config = loadConfig({ ...process.env, BQX_HOME: set.home });
  const manifest = JSON.parse(await fs.readFile(path.join(set.home, 'staging', 'runs', set.runId, 'manifest.json'), 'utf8')) as RunManifest;
  await fs.mkdir(outDir, { recursive: true });
  began = process.hrtime.bigint();
  const instance = await DuckDBInstance.create(path.join(set.home, 'warehouse.duckdb'), {
    access_mode: 'READ_ONLY',
    // The demo's feature tables are views naming their parquet files relative to the home (fileTables.ts).
    file_search_path: set.home,
    memory_limit: `${config.embedded.mergeMemoryMb}MB`,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const c = await instance.connect();
  let rows = 0;
  for (const feature of manifest.features) {
    const cols = [KEY_COLUMN, ...feature.columns.map((x) => x.source)].map(q).join(', ');
    const select = `SELECT ${cols} FROM ${q(feature.dataset)}.${q(feature.feature)} WHERE ${q(KEY_COLUMN)} >= $1::TIMESTAMPTZ AND ${q(KEY_COLUMN)} < $2::TIMESTAMPTZ`;
    const result = await c.run(copyToParquetSql(select, path.join(outDir, `${feature.feature}.parquet`)), [manifest.window.start, manifest.window.end]);
    rows += Number(result.rowsChanged);
  }
  c.closeSync();
  instance.closeSync();
  const wall = Number(process.hrtime.bigint() - began) / 1e9;
  let bytes = 0;
  for (const name of await fs.readdir(outDir)) bytes += (await fs.stat(path.join(outDir, name))).size;
  await fs.rm(outDir, { recursive: true, force: true });
  finish({ wall_s: wall, output_bytes: bytes, rows, columns: null, ok: true, tables: manifest.features.length });
} catch (error) {
  await fs.rm(outDir, { recursive: true, force: true }).catch(() => {});
  finish({ wall_s: Number(process.hrtime.bigint() - began) / 1e9, output_bytes: 0, rows: null, columns: null, ok: false, error: formatError(error) });
}
