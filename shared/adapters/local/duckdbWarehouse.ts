// The embedded warehouse: a DuckDB file in place of BigQuery. Datasets are schemas; checkpoints
// and outputs are parquet files in the folder object stores. The merge runs as staged joins over
// slices of the key range, so its memory is bounded by a setting, not by the row count.

import { DuckDBInstance, listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { FileMetaData } from 'hyparquet';
import { closeSync, openSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../log.js';
import { KEY_COLUMN, assertIdentifier, paths } from '../../naming.js';
import type { CatalogTable, ExtractJob, ExtractResult, LabelStats, MergeJob, MergeProgress, MergeResult, MergedGroup, Warehouse, Window } from '../../ports.js';
import * as sql from './duckdbSql.js';
import type { FolderObjectStore } from './folderStore.js';
import { MemoryGate } from './memoryGate.js';
import { chunkRange, concatParquet, readChunk, readLocalFooter, stitchParquet } from './parquetStitch.js';

export interface DuckDbOptions {
  /** Memory the merge may use; DuckDB's memory_limit, and the slice size follows from it. */
  memoryMb: number;
  threads?: number;
}

export class DuckDbWarehouse implements Warehouse {
  /** Checkpoints the last merge had to align itself (the rest were stitched as they were). */
  lastRealigned = 0;
  /** Extracts at once share half the memory setting; the other half is headroom (see memoryGate.ts). */
  private readonly extractGate: MemoryGate;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly staging: FolderObjectStore,
    private readonly output: FolderObjectStore,
    private readonly options: DuckDbOptions,
  ) {
    this.extractGate = new MemoryGate(Math.floor(options.memoryMb / 2));
  }

  static async open(file: string, staging: FolderObjectStore, output: FolderObjectStore, options: DuckDbOptions): Promise<DuckDbWarehouse> {
    // No extension is ever downloaded (the machine may be offline); times stay UTC without ICU.
    const settings: Record<string, string> = {
      memory_limit: `${options.memoryMb}MB`,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    if (options.threads) settings.threads = String(options.threads);
    return new DuckDbWarehouse(await DuckDBInstance.create(file, settings), staging, output, options);
  }

  /** Runs `body` on a connection of its own (DuckDB connections are cheap; one per task). */
  async withConnection<T>(body: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await body(connection);
    } finally {
      connection.closeSync();
    }
  }

  async listTables(dataset: string): Promise<CatalogTable[]> {
    assertIdentifier(dataset, 'dataset');
    const rows = await this.withConnection(async (c) => (await c.runAndReadAll(sql.catalogSql, [dataset])).getRows());
    const tables = new Map<string, CatalogTable>();
    for (const [table, column, type] of rows) {
      const name = String(table);
      if (!tables.has(name)) tables.set(name, { table: name, columns: [] });
      tables.get(name)!.columns.push({ name: String(column), type: sql.normaliseType(String(type)) });
    }
    return [...tables.values()];
  }

  async labelStats(dataset: string, table: string, window?: Window): Promise<LabelStats> {
    const params = window ? [window.start, window.end] : [];
    const [row] = await this.withConnection(async (c) => (await c.runAndReadAll(sql.labelStatsSql(dataset, table, window !== undefined), params)).getRows());
    const [n, lo, hi] = row!;
    return { rows: Number(n), minKey: isoOrNull(lo), maxKey: isoOrNull(hi) };
  }

  async extract(job: ExtractJob): Promise<ExtractResult> {
    const window = [job.window.start, job.window.end];
    return this.withConnection(async (c) => {
      const [counts] = (await c.runAndReadAll(sql.extractCountSql(job.dataset, job.feature), window)).getRows();
      const sourceRows = Number(counts![0]);
      const distinct = Number(counts![1]);
      const temp = await this.staging.tempPath('.parquet');
      // Deduplication sorts each key's rows by every column: only paid where a key repeats.
      const select = sourceRows > distinct ? sql.extractSelectSql(job.dataset, job.feature, job.columns) : sql.extractPlainSql(job.dataset, job.feature, job.columns);
      const copy = await this.extractGate.run(extractEstimateMb(sourceRows, job.columns.length), () => c.run(sql.copyToParquetSql(select, temp), window));
      const rows = Number(copy.rowsChanged);
      if (rows !== distinct) throw new Error(`extract of ${job.feature} wrote ${rows} rows, expected ${distinct} distinct keys`);
      const name = `${job.prefix}part-00000.parquet`;
      await this.staging.adopt(name, temp);
      return { state: 'done', files: [name], rows, sourceRows, duplicates: sourceRows - distinct };
    });
  }

  /**
   * The merge: (1) the window's label keys and labels, written once in key order; (2) every
   * checkpoint that holds exactly those keys in the same row groups is used as it is, any other
   * is aligned to them by a narrow LEFT JOIN here; (3) each column group is stitched from the
   * aligned files' column chunks, copied without decoding. Memory stays bounded whatever the rows.
   */
  async merge(job: MergeJob, progress: (p: MergeProgress) => void = () => {}): Promise<MergeResult> {
    const { manifest, plan, window } = job;
    const labels = manifest.labels;
    const work = await this.output.tempPath('-merge');
    await fs.mkdir(work, { recursive: true });
    try {
      const base = path.join(work, 'base.parquet');
      await this.withConnection((c) => c.run(sql.copyToParquetSql(sql.labelSliceSql(labels.dataset, labels.table, labels.columns), base), [window.start, window.end]));
      const baseFooter = readLocalFooter(base).metadata;
      const baseKeys = keyChunks(base, baseFooter);
      const slices = await this.withConnection((c) => baseSlices(c, base, baseFooter));

      const features = manifest.features;
      const total = features.length + plan.groups.length;
      let done = 0;
      progress({ step: 'align', done, total });
      // Each feature's columns as one or more files holding the base's keys and row groups.
      const aligned = new Map<string, { file: string; metadata: FileMetaData; columns: Set<string> }[]>();
      const concurrency = this.options.threads ?? 2;
      const batchColumns = alignBatchColumns(this.options.memoryMb, concurrency);
      let realigned = 0;
      await forEachLimit(features, concurrency, async (f) => {
        const files = job.checkpoints[f.feature]!.map((o) => this.staging.uri(o));
        const only = files.length === 1 ? files[0]! : undefined;
        const metadata = only ? readLocalFooter(only).metadata : undefined;
        if (only && sameKeys(only, metadata!, baseFooter, baseKeys)) {
          aligned.set(f.feature, [{ file: only, metadata: metadata!, columns: new Set(f.columns.map((c) => c.source)) }]);
        } else {
          // Aligned one base row group (a slice of keys) and at most `batchColumns` columns at a
          // time, each slice written as one row group and the slices concatenated: DuckDB holds
          // one row group of a few columns, whatever the row count and the table's width.
          const outputs: { file: string; metadata: FileMetaData; columns: Set<string> }[] = [];
          for (let b = 0; b * batchColumns < f.columns.length; b++) {
            const cols = f.columns.slice(b * batchColumns, (b + 1) * batchColumns).map((c) => c.source);
            const file = path.join(work, `${f.feature}.${b}.parquet`);
            const parts: { file: string; metadata: FileMetaData }[] = [];
            for (const [g, slice] of slices.entries()) {
              const part = path.join(work, `${f.feature}.${b}.${g}.parquet`);
              await this.withConnection((c) => c.run(sql.copyToParquetSql(sql.alignSliceSql(cols), part), [base, listValue(files), window.start, window.end, slice.from, slice.to, slice.lo, slice.hi]));
              parts.push({ file: part, metadata: readLocalFooter(part).metadata });
            }
            if (parts.length === 0) await this.withConnection((c) => c.run(sql.copyToParquetSql(sql.alignSql(cols), file), [base, listValue(files), window.start, window.end]));
            else if (parts.length === 1) await fs.rename(parts[0]!.file, file);
            else concatParquet(parts, file);
            await Promise.all(parts.map((p) => fs.rm(p.file, { force: true })));
            const written = readLocalFooter(file).metadata;
            if (!sameKeys(file, written, baseFooter, baseKeys)) throw new Error(`aligning ${f.feature} to the label keys did not give the same row groups`);
            outputs.push({ file, metadata: written, columns: new Set(cols) });
          }
          aligned.set(f.feature, outputs);
          realigned++;
        }
        progress({ step: 'align', done: ++done, total });
      });

      const groups: MergedGroup[] = [];
      for (const group of plan.groups) {
        const keySource = { file: base, metadata: baseFooter, columns: [KEY_COLUMN, ...(group.labels ? labels.columns : [])].map((c) => ({ source: c, output: c })) };
        const sources = [
          keySource,
          ...group.members.flatMap((m) =>
            aligned.get(m.feature)!.flatMap((part) => {
              const columns = m.columns.filter((c) => part.columns.has(c.source)).map((c) => ({ source: c.source, output: c.output }));
              return columns.length > 0 ? [{ file: part.file, metadata: part.metadata, columns }] : [];
            }),
          ),
        ];
        const parts = stitchParquet(sources, (i) => path.join(work, `group-${group.index}-${i}.parquet`));
        const objects: string[] = [];
        for (const [i, part] of parts.entries()) {
          const object = paths.outputGroupPart(job.pair, job.runId, group.index, i);
          await this.output.adopt(object, part.file);
          objects.push(object);
        }
        groups.push({ index: group.index, files: objects, rows: parts.reduce((s, p) => s + p.rows, 0), columns: group.columns, bytes: parts.reduce((s, p) => s + p.bytes, 0), distinctKeys: 0, keysInOrder: false });
        progress({ step: 'stitch', done: ++done, total });
      }
      await this.withConnection(async (c) => {
        for (const g of groups) Object.assign(g, await this.checkGroup(c, g.files, groups[0]!.files));
      });
      this.lastRealigned = realigned;
      return { state: 'done', groups, rows: groups[0]?.rows ?? 0 };
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /** Counts rows and distinct keys of a group's files, and checks key order against group 0's. */
  private async checkGroup(c: DuckDBConnection, files: string[], reference: string[]): Promise<Pick<MergedGroup, 'distinctKeys' | 'keysInOrder' | 'bytes'>> {
    const uris = listValue(files.map((f) => this.output.uri(f)));
    const counts = (await c.runAndReadAll(`SELECT count(DISTINCT "${KEY_COLUMN}") FROM read_parquet($1)`, [uris])).getRows()[0]!;
    const order = (
      await c.runAndReadAll(
        `SELECT count(*) FILTER (WHERE prev >= k OR a.k IS DISTINCT FROM b.r) FROM
         (SELECT "${KEY_COLUMN}" AS k, lag("${KEY_COLUMN}") OVER () AS prev FROM read_parquet($1)) a
         POSITIONAL JOIN (SELECT "${KEY_COLUMN}" AS r FROM read_parquet($2)) b`,
        [uris, listValue(reference.map((f) => this.output.uri(f)))],
      )
    ).getRows()[0]!;
    let bytes = 0;
    for (const f of files) bytes += (await this.output.size(f)) ?? 0;
    return { distinctKeys: Number(counts[0]), keysInOrder: Number(order[0]) === 0, bytes };
  }

  /** Writes all groups side by side as one parquet file, stitched like the groups themselves. */
  async consolidate(groups: { files: string[] }[], object: string): Promise<number> {
    if (groups.some((g) => g.files.length !== 1)) throw new Error('consolidation needs one file per group; this dataset has groups of several parts');
    const sources = groups.map((g, i) => {
      const file = this.output.uri(g.files[0]!);
      const metadata = readLocalFooter(file).metadata;
      const names = metadata.schema.slice(1).map((e) => e.name).slice(i === 0 ? 0 : 1); // one key column
      return { file, metadata, columns: names.map((n) => ({ source: n, output: n })) };
    });
    const temp = await this.output.tempPath('.parquet');
    const [part] = stitchParquet(sources, () => temp, Number.MAX_SAFE_INTEGER);
    await this.output.adopt(object, temp);
    return part!.rows;
  }

  /** Runs statements on the warehouse (the demo generator builds its tables through this). */
  async execute(statement: string, params: DuckDBValue[] = []): Promise<void> {
    await this.withConnection((c) => c.run(statement, params).then(() => undefined));
  }

  async query(statement: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.withConnection(async (c) => (await c.runAndReadAll(statement, params)).getRowObjectsJS() as Record<string, unknown>[]);
  }

  async close(): Promise<void> {
    try {
      this.instance.closeSync();
    } catch (error) {
      throw new Error(`closing the warehouse: ${errorMessage(error)}`);
    }
  }
}

/**
 * Columns aligned per statement: DuckDB holds about a row group of them several times over (the
 * join's hash table, the sort, the parquet writer's buffer), for `concurrency` aligns at once.
 */
export function alignBatchColumns(memoryMb: number, concurrency: number): number {
  const perColumn = sql.ROW_GROUP_ROWS * 8 * 6;
  return Math.max(4, Math.floor((memoryMb * 2 ** 20) / Math.max(1, concurrency) / 2 / perColumn));
}

/**
 * What an extract holds at its peak: the sort's rows and payload and the parquet writer's row
 * group, about three copies of the window's rows of the table, 8 bytes a value.
 */
export function extractEstimateMb(rows: number, columns: number): number {
  return Math.ceil((rows * (columns + 1) * 8 * 3) / 2 ** 20);
}

/** The base's row groups as key slices: row numbers [from, to) and their first and last key. */
async function baseSlices(c: DuckDBConnection, base: string, metadata: FileMetaData): Promise<{ from: bigint; to: bigint; lo: string; hi: string }[]> {
  const bounds: [bigint, bigint][] = [];
  let at = 0n;
  for (const g of metadata.row_groups) {
    bounds.push([at, at + BigInt(g.num_rows)]);
    at += BigInt(g.num_rows);
  }
  const slices = [];
  for (const [from, to] of bounds) {
    const [row] = (await c.runAndReadAll(sql.sliceBoundsSql, [base, from, to])).getRows();
    slices.push({ from, to, lo: String(row![0]), hi: String(row![1]) });
  }
  return slices;
}

/** The key column's chunk bytes per row group: two files with equal bytes hold equal keys. */
function keyChunks(file: string, metadata: FileMetaData): Buffer[] {
  const index = metadata.schema.slice(1).findIndex((e) => e.name === KEY_COLUMN);
  if (index < 0) throw new Error(`${file} has no ${KEY_COLUMN} column`);
  const fd = openSync(file, 'r');
  try {
    return metadata.row_groups.map((g) => Buffer.from(readChunk(fd, g.columns[index]!)));
  } finally {
    closeSync(fd);
  }
}

/** True when `file` has the base's row groups and byte-identical key chunks (so the same keys). */
function sameKeys(file: string, metadata: FileMetaData, base: FileMetaData, baseKeys: Buffer[]): boolean {
  if (metadata.row_groups.length !== base.row_groups.length) return false;
  if (metadata.row_groups.some((g, i) => g.num_rows !== base.row_groups[i]!.num_rows)) return false;
  const index = metadata.schema.slice(1).findIndex((e) => e.name === KEY_COLUMN);
  if (index < 0) return false;
  if (metadata.row_groups.some((g, i) => chunkRange(g.columns[index]!).length !== baseKeys[i]!.length)) return false;
  return keyChunks(file, metadata).every((k, i) => k.equals(baseKeys[i]!));
}

async function forEachLimit<T>(items: readonly T[], limit: number, body: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await body(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

function isoOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // DuckDB returns TIMESTAMPTZ values as objects whose micros count from the epoch.
  const micros = (value as { micros?: bigint }).micros;
  if (typeof micros === 'bigint') return new Date(Number(micros / 1000n)).toISOString();
  return new Date(String(value)).toISOString();
}
