// An extract from a file table known to be in key order, written without DuckDB
// (keyedShardWriter.ts): the table's rows in each shard are runs of rows of its files (keyOrder.ts
// `keySpans`), copied into the shard's file as they are. The same files as DuckDB's copy would
// write, shard for shard: a shard without rows gets none, except the one file a feature must keep
// and a refresh's first shard, which begins with the carried rows of the earlier checkpoint.

import { promises as fs } from 'node:fs';
import type { FileMetaData } from 'hyparquet';
import type { ExtractJob, ExtractResult, Window } from '../../ports.js';
import type { FolderObjectStore } from './folderStore.js';
import { spanRows, type KeySpans, type RowSpan } from './keyOrder.js';
import { keyedSchema, type KeyedSource, type KeyedWrite, type ShardFile } from './keyedShardWriter.js';
import { readLocalFooter } from './parquetStitch.js';
import { readLayout } from './parquetLayout.js';

/**
 * The extract's files written from the table's own pages, or null when a file or a column is not
 * one written here (then DuckDB copies; nothing has been written). `spans` are the window's and
 * the shards' rows; `carry` the files of a refresh's partial shard, whose rows go first in the
 * first shard's file. `write` writes them (keyedShardWriter.ts `writeKeyedShards`, here or on a thread).
 */
export async function extractKeyed(
  job: ExtractJob,
  shards: readonly Window[],
  spans: KeySpans,
  carry: readonly { file: string; metadata: FileMetaData }[],
  staging: FolderObjectStore,
  write: (w: KeyedWrite) => Promise<{ rows: number }[]>,
): Promise<ExtractResult | null> {
  // Sources: the table's files, then the carried files.
  const sources: KeyedSource[] = spans.files.map((f) => ({ file: f.file, layout: f.layout, schema: [] }));
  const carrySpans: RowSpan[] = [];
  for (const c of carry) {
    const layout = readLayout(c.file);
    const source = sources.push({ file: c.file, layout, schema: c.metadata.schema }) - 1;
    layout.rowGroups.forEach((g, group) => g.rows > 0 && carrySpans.push({ source, group, from: 0, to: g.rows }));
  }
  const planned: ShardFile[] = [];
  for (let i = 0; i < shards.length; i++) {
    const own = spans.shards[i]!;
    const carried = i === 0 && carry.length > 0;
    const keepsFile = carried || (planned.length === 0 && i === shards.length - 1);
    if (spanRows(own) === 0 && !keepsFile) continue;
    planned.push({ target: '', spans: carried ? [...carrySpans, ...own] : own });
  }
  // Every source a span reads from decides (the table's first file when none does: its schema is the empty file's).
  const read = [...new Set(planned.flatMap((p) => p.spans.map((s) => s.source)))];
  const used = read.length > 0 ? read : sources.length > 0 ? [0] : [];
  for (const s of used) if (sources[s]!.schema.length === 0) sources[s]!.schema = readLocalFooter(sources[s]!.file).metadata.schema;
  const schema = keyedSchema(used.map((s) => sources[s]!), job.columns, planned);
  if (!schema) return null;
  for (const p of planned) p.target = await staging.tempPath('.parquet');
  const carried = carrySpans.length > 0 ? spanRows(carrySpans) : 0;
  const inWindow = spanRows(spans.window);
  let rows: number;
  try {
    // Only the sources a file reads from: the others' layouts need not travel to a thread.
    const written = await write({ sources: sources.map((s, i) => (used.includes(i) ? s : { ...s, layout: { rows: 0, schema: [], rowGroups: [] }, schema: [] })), columns: job.columns, schema, files: planned });
    rows = written.reduce((n, w) => n + w.rows, 0) - carried;
    // Checked before any file is in place: the shards' rows are the window's.
    if (rows !== inWindow) throw new Error(`extract of ${job.feature} wrote ${rows} rows, expected ${inWindow} in the window`);
  } catch (error) {
    await Promise.all(planned.map((p) => fs.rm(p.target, { force: true })));
    throw error;
  }
  const files: string[] = [];
  for (const p of planned) {
    const name = `${job.prefix}part-${String(files.length).padStart(5, '0')}.parquet`;
    await staging.adopt(name, p.target);
    files.push(name);
  }
  return { state: 'done', files, rows, sourceRows: inWindow, duplicates: 0, ...(carry.length > 0 ? { carried } : {}) };
}
