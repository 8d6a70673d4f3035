// `bqx verify <_manifest.json>`: checks a training dataset on disk against its manifest: every
// file present and readable, rows and columns as stated, keys unique, ascending and identical in
// order across groups, every column mapped back to a source.

import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFooter } from '../checkpoint.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import { InputError } from '../naming.js';

interface OutputManifest {
  pair: string;
  runId: string;
  key: string;
  rows: number;
  columns: number;
  groups: { index: number; files: string[]; rows: number; columns: string[] }[];
  columnMapping: Record<string, { table: string; column: string }>;
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  columns: number;
  files: number;
  problems: string[];
}

export async function verifyManifest(file: string): Promise<VerifyResult> {
  let manifest: OutputManifest;
  try {
    manifest = JSON.parse(await fs.readFile(file, 'utf8')) as OutputManifest;
  } catch (error) {
    throw new InputError(`${file} is not a readable manifest (${(error as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(manifest.groups) || typeof manifest.key !== 'string' || typeof manifest.rows !== 'number') {
    throw new InputError(`${file} is not a bqx output manifest`);
  }
  const problems: string[] = [];
  const folder = new FolderObjectStore(path.dirname(path.resolve(file)));
  const relative = (f: string) => path.relative(folder.root, path.resolve(folder.root, f));
  const columns: string[] = [manifest.key];
  let files = 0;
  for (const g of manifest.groups) {
    let rows = 0;
    for (const f of g.files) {
      files++;
      try {
        const { metadata } = await readFooter(folder, relative(f));
        rows += Number(metadata.num_rows);
        const names = metadata.schema.slice(1).map((e) => e.name);
        if (names.join(',') !== g.columns.join(',')) problems.push(`${f}: columns differ from the manifest's group ${g.index}`);
      } catch (error) {
        problems.push(`${f}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    if (rows !== manifest.rows) problems.push(`group ${g.index}: ${rows} rows, the manifest says ${manifest.rows}`);
    if (g.columns[0] !== manifest.key) problems.push(`group ${g.index} does not start with the key ${manifest.key}`);
    columns.push(...g.columns.slice(1));
  }
  if (columns.length !== manifest.columns) problems.push(`${columns.length} columns in the groups, the manifest says ${manifest.columns}`);
  if (new Set(columns).size !== columns.length) problems.push('a column name appears twice');
  const unmapped = columns.filter((c) => !manifest.columnMapping?.[c]);
  if (unmapped.length > 0) problems.push(`${unmapped.length} column(s) have no source in the mapping, e.g. ${unmapped[0]}`);
  if (problems.length === 0) problems.push(...(await checkKeys(manifest, folder, relative)));
  return { ok: problems.length === 0, rows: manifest.rows, columns: columns.length, files, problems };
}

async function checkKeys(manifest: OutputManifest, folder: FolderObjectStore, relative: (f: string) => string): Promise<string[]> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const c = await instance.connect();
  const problems: string[] = [];
  try {
    const key = manifest.key.replace(/"/g, '');
    const list = (g: OutputManifest['groups'][number]) => listValue(g.files.map((f) => folder.uri(relative(f))));
    const reference = manifest.groups[0]!;
    for (const g of manifest.groups) {
      const [row] = (
        await c.runAndReadAll(
          `SELECT count(*) - count(DISTINCT a.k), count(*) FILTER (WHERE a.prev >= a.k OR a.k IS DISTINCT FROM b.r) FROM
           (SELECT "${key}" AS k, lag("${key}") OVER () AS prev FROM read_parquet($1)) a POSITIONAL JOIN (SELECT "${key}" AS r FROM read_parquet($2)) b`,
          [list(g), list(reference)],
        )
      ).getRows();
      if (Number(row![0]) > 0) problems.push(`group ${g.index}: ${row![0]} duplicate keys`);
      if (Number(row![1]) > 0) problems.push(`group ${g.index}: ${row![1]} keys out of order or not aligned with group 0`);
    }
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  return problems;
}
