// `bqx verify <_manifest.json>`: checks a training dataset on disk against its manifest: every
// file present and readable, rows and columns as stated, keys unique, ascending and identical in
// order across groups, every column mapped back to a source; and every time shard on its own:
// its groups' rows, keys inside the shard's [start, end) and aligned with its group 0.

import { asyncBufferFromFile } from 'hyparquet';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { projectMetadata } from '../adapters/local/parquetFooter.js';
import { readLayout } from '../adapters/local/parquetLayout.js';
import { readFooterShape } from '../checkpoint.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import { InputError } from '../naming.js';
import { countWithin, groupKeys, readKeyColumn, type GroupKeys } from '../parquetKeys.js';

interface OutputManifest {
  pair: string;
  runId: string;
  key: string;
  rows: number;
  columns: number;
  /** `objects`: the same files, relative to the output folder they were written to. */
  groups: { index: number; files: string[]; objects?: string[]; rows: number; columns: string[] }[];
  /** Datasets written before time shards have none: their groups are checked as a whole. */
  shards?: { index: number; id: string; start: string; end: string; rows: number; groups: { index: number; files: string[]; rows: number }[] }[];
  columnMapping: Record<string, { table: string; column: string }>;
  /** False when a `fail` gate failed (the run failed, its outputs kept); absent before gates. */
  passed?: boolean;
  gates?: { gate: string; level: string; value: number | null; passed: boolean }[];
}

export interface VerifyResult {
  ok: boolean;
  rows: number;
  columns: number;
  files: number;
  problems: string[];
  /**
   * The `fail` gates the dataset failed, as `gate (measured value)`, when its run failed on them: the
   * files can be sound (`ok`) while the dataset is not one to train on.
   */
  failedGates?: string[];
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
  const moved = await relocation(manifest, dir);
  const locate = (f: string) => moved?.(f) ?? path.resolve(dir, f);
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
        if (names.join(',') !== g.columns.join(',')) problems.push(`${locate(f)}: columns differ from the manifest's group ${g.index}`);
        if (!names.includes(manifest.key)) withoutKey++;
      } catch (error) {
        unreadable++;
        problems.push(`${locate(f)}: ${(error as Error).message.split('\n')[0]}`);
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
  const failedGates = manifest.passed === false ? (manifest.gates ?? []).filter((g) => g.level === 'fail' && !g.passed).map((g) => `${g.gate} (measured ${g.value})`) : undefined;
  return { ok: problems.length === 0, rows: manifest.rows, columns: columns.length, files, problems, ...(failedGates ? { failedGates } : {}) };
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

/**
 * Where the files are now, when the home was moved or copied since the dataset was written: its
 * `files` name the folder they were written to, and the same files are found by their `objects`
 * under the output folder that holds this manifest (the nearest of its folders' ancestors where
 * the first object is): a copy is checked on its own files, not on the original's. Undefined when
 * the manifest is in the folder it was written to (or its files cannot be found elsewhere).
 */
async function relocation(manifest: OutputManifest, dir: string): Promise<((f: string) => string | undefined) | undefined> {
  const group = manifest.groups.find((g) => g.files.length > 0 && g.objects?.length === g.files.length);
  const [file, object] = [group?.files[0], group?.objects?.[0]];
  if (!file || !object || !path.isAbsolute(file) || !file.endsWith(object)) return undefined;
  const exists = (f: string) => fs.access(f).then(() => true, () => false);
  const written = file.slice(0, file.length - object.length);
  if (`${dir}${path.sep}`.startsWith(written)) return undefined;
  for (let root = dir, up = 0; up < 8; root = path.dirname(root), up++) {
    if (await exists(path.join(root, object))) return (f) => (f.startsWith(written) ? path.join(root, f.slice(written.length)) : undefined);
    if (path.dirname(root) === root) break;
  }
  return undefined;
}

/**
 * Keys unique, ascending and aligned with group 0: per shard (and inside it) when the dataset has
 * shards. Each file's key column is read by itself, through a footer projected to it
 * (parquetFooter.ts `projectMetadata`), as the merge checks what it wrote: DuckDB's statement per
 * shard and group parsed every file's whole footer again, group 0's once more for each group
 * (`bqx verify` of a 6,440-row dataset in 115 files took 1.9 s, most of it there).
 */
async function checkKeys(manifest: OutputManifest, locate: (f: string) => string): Promise<string[]> {
  const key = manifest.key.replace(/"/g, '');
  // One group's keys at a time beside its shard's group 0 (8 bytes a row): never the dataset's.
  const fileKeys = async (f: string) => readKeyColumn(await asyncBufferFromFile(locate(f)), projectMetadata(readLayout(locate(f)), [key]), key);
  const problems: string[] = [];
  const units = manifest.shards
    ? manifest.shards.map((s) => ({ name: `shard ${s.id}`, rows: s.rows, range: { start: s.start, end: s.end }, groups: s.groups }))
    : [{ name: 'dataset', rows: manifest.rows, range: undefined, groups: manifest.groups }];
  for (const unit of units) {
    const where = unit.name === 'dataset' ? '' : `${unit.name} `;
    let reference: Float64Array | undefined;
    for (const g of unit.groups) {
      if (g.files.length === 0) {
        if (unit.rows > 0) problems.push(`${where}group ${g.index}: no files for ${unit.rows} rows`);
        continue;
      }
      let keys: GroupKeys;
      try {
        keys = groupKeys(await Promise.all(g.files.map(fileKeys)));
      } catch (error) {
        problems.push(`${where}group ${g.index}: its keys cannot be read (${(error as Error).message.split('\n')[0]})`);
        continue;
      }
      reference ??= g === unit.groups[0] ? keys.keys : undefined;
      const duplicates = keys.keys.length - keys.distinctKeys;
      const misplaced = reference ? misplacedKeys(keys.keys, reference) : 0;
      const outside = unit.range ? keys.keys.length - countWithin(keys.keys, unit.range) : 0;
      if (duplicates > 0) problems.push(`${where}group ${g.index}: ${duplicates} duplicate keys`);
      if (misplaced > 0) problems.push(`${where}group ${g.index}: ${misplaced} keys out of order or not aligned with group 0`);
      if (outside > 0) problems.push(`${where}group ${g.index}: ${outside} keys outside [${unit.range!.start}, ${unit.range!.end})`);
    }
  }
  return problems;
}

/**
 * Rows whose key is not above the one before it, or is not group 0's key of the same row (a row
 * only one of the two groups has counts too).
 */
function misplacedKeys(keys: Float64Array, reference: Float64Array): number {
  let n = 0;
  for (let i = 0; i < Math.max(keys.length, reference.length); i++) {
    const own = i < keys.length;
    if ((own && i > 0 && keys[i - 1]! >= keys[i]!) || own !== i < reference.length || (own && keys[i] !== reference[i])) n++;
  }
  return n;
}
