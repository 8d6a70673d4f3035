// `bqx verify <_manifest.json>`: checks a training dataset on disk against its manifest: every
// file present and readable, rows and columns as stated, keys unique, ascending and identical in
// order across groups, every column mapped back to a source; and every time shard on its own:
// its groups' rows, keys inside the shard's [start, end) and aligned with its group 0.

import { DuckDBInstance, listValue } from '../adapters/local/duckdbApi.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFooterShape } from '../checkpoint.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import { InputError } from '../naming.js';

interface OutputManifest {
  pair: string;
  runId: string;
  key: string;
  rows: number;
  columns: number;
  groups: { index: number; files: string[]; rows: number; columns: string[] }[];
  /** Datasets written before time shards have none: their groups are checked as a whole. */
  shards?: { index: number; id: string; start: string; end: string; rows: number; groups: { index: number; files: string[]; rows: number }[] }[];
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
  // Files are resolved from the manifest's folder; a shard shared with another version of the
  // dataset lives beside it, under another run's folder.
  const dir = path.dirname(path.resolve(file));
  const locate = (f: string) => path.resolve(dir, f);
  const columns: string[] = [manifest.key];
  const footerRows = new Map<string, number>();
  let unreadable = 0;
  /** Files without the key column: their keys cannot be read (checkKeys would throw, not report). */
  let withoutKey = 0;
  let files = 0;
  for (const g of manifest.groups) {
    let rows = 0;
    for (const f of g.files) {
      files++;
      try {
        const shape = await readFooterShape(new FolderObjectStore(path.dirname(locate(f))), path.basename(locate(f)));
        rows += shape.rows;
        footerRows.set(f, shape.rows);
        const names = shape.columns;
        if (names.join(',') !== g.columns.join(',')) problems.push(`${f}: columns differ from the manifest's group ${g.index}`);
        if (!names.includes(manifest.key)) withoutKey++;
      } catch (error) {
        unreadable++;
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
  if (manifest.shards) problems.push(...checkShardLayout(manifest, footerRows));
  // Keys are read when every file could be: per shard, a damaged one is named with what is wrong.
  if (unreadable === 0 && withoutKey === 0 && new Set(columns).size === columns.length) problems.push(...(await checkKeys(manifest, locate)));
  return { ok: problems.length === 0, rows: manifest.rows, columns: columns.length, files, problems };
}

/** The shards add up to the dataset: rows, and each group's files are its shards' in order. */
function checkShardLayout(manifest: OutputManifest, footerRows: Map<string, number>): string[] {
  const problems: string[] = [];
  const shards = manifest.shards!;
  const rows = shards.reduce((n, s) => n + s.rows, 0);
  if (rows !== manifest.rows) problems.push(`the shards hold ${rows} rows, the manifest says ${manifest.rows}`);
  for (const [i, s] of shards.entries()) {
    if (i > 0 && !(s.start >= shards[i - 1]!.end)) problems.push(`shard ${s.id} starts before shard ${shards[i - 1]!.id} ends`);
    if (s.groups.map((g) => g.index).join() !== manifest.groups.map((g) => g.index).join()) problems.push(`shard ${s.id} does not have the dataset's groups`);
    for (const g of s.groups) {
      const rows = g.files.reduce((n, f) => n + (footerRows.get(f) ?? 0), 0);
      if (rows !== s.rows) problems.push(`shard ${s.id} group ${g.index}: ${rows} rows, the manifest says ${s.rows}`);
    }
  }
  for (const g of manifest.groups) {
    const files = shards.flatMap((s) => s.groups.find((x) => x.index === g.index)?.files ?? []);
    if (files.join('\n') !== g.files.join('\n')) problems.push(`group ${g.index}: its files are not its shards' files in shard order`);
  }
  return problems;
}

/** Keys unique, ascending and aligned with group 0: per shard (and inside it) when the dataset has shards. */
async function checkKeys(manifest: OutputManifest, locate: (f: string) => string): Promise<string[]> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const c = await instance.connect();
  const problems: string[] = [];
  try {
    const key = manifest.key.replace(/"/g, '');
    const list = (files: string[]) => listValue(files.map(locate));
    const units = manifest.shards
      ? manifest.shards.map((s) => ({ name: `shard ${s.id}`, rows: s.rows, range: [s.start, s.end] as const, groups: s.groups }))
      : [{ name: 'dataset', rows: manifest.rows, range: undefined, groups: manifest.groups }];
    for (const unit of units) {
      const reference = unit.groups[0]!;
      for (const g of unit.groups) {
        const where = unit.name === 'dataset' ? '' : `${unit.name} `;
        if (g.files.length === 0) {
          if (unit.rows > 0) problems.push(`${where}group ${g.index}: no files for ${unit.rows} rows`);
          continue;
        }
        const [row] = (
          await c.runAndReadAll(
            `SELECT count(*) - count(DISTINCT a.k), count(*) FILTER (WHERE a.prev >= a.k OR a.k IS DISTINCT FROM b.r), count(*),
               count(*) FILTER (WHERE $3::VARCHAR IS NOT NULL AND (a.k < $3::TIMESTAMPTZ OR a.k >= $4::TIMESTAMPTZ)) FROM
             (SELECT "${key}" AS k, lag("${key}") OVER () AS prev FROM read_parquet($1)) a POSITIONAL JOIN (SELECT "${key}" AS r FROM read_parquet($2)) b`,
            [list(g.files), list(reference.files), unit.range?.[0] ?? null, unit.range?.[1] ?? null],
          )
        ).getRows();
        if (Number(row![0]) > 0) problems.push(`${where}group ${g.index}: ${row![0]} duplicate keys`);
        if (Number(row![1]) > 0) problems.push(`${where}group ${g.index}: ${row![1]} keys out of order or not aligned with group 0`);
        if (Number(row![3]) > 0) problems.push(`${where}group ${g.index}: ${row![3]} keys outside [${unit.range![0]}, ${unit.range![1]})`);
      }
    }
  } finally {
    c.closeSync();
    instance.closeSync();
  }
  return problems;
}
