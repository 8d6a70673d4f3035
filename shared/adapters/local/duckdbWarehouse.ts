// The embedded warehouse: a DuckDB file in place of BigQuery. Datasets are schemas; checkpoints
// and outputs are parquet files in the folder object stores. The merge runs as staged joins over
// slices of the key range, so its memory is bounded by a setting, not by the row count.

import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { DuckDBInstance, listValue } from './duckdbApi.js';
import type { FileMetaData } from 'hyparquet';
import { closeSync, openSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../log.js';
import { ConflictError, KEY_COLUMN, assertIdentifier, paths } from '../../naming.js';
import { TableChangedError, type CatalogTable, type ExtractJob, type ExtractResult, type LabelStats, type MergeJob, type MergeProgress, type MergeResult, type MergedGroup, type MergedShard, type ViewJob, type ViewResult, type Warehouse, type Window } from '../../ports.js';
import type { ColumnComparison, CompareJob, ProfileData, ProfileJob } from '../../profile/types.js';
import { MAX_SHARD_PARTS, type Shard } from '../../shards.js';
import { byGroup } from '../../outputShards.js';
import { compareDuckDb, PROFILE_STREAMS, profileDuckDb } from './duckdbProfile.js';
import { KeptPool } from './keptPool.js';
import { compareOwn } from './parquetCompare.js';
import { FooterCache, type ScanOutcome, type ScanTask } from './parquetScan.js';
import { viewLocal } from './duckdbView.js';
import * as sql from './duckdbSql.js';
import type { FolderObjectStore } from './folderStore.js';
import { mapLimit } from '../../concurrency.js';
import { CallerThreads } from './callerThreads.js';
import { MemoryGate } from './memoryGate.js';
import { shardBatches } from './extractBatches.js';
import { projectMetadata } from './parquetFooter.js';
import { chunkStart, layoutBytes, readLayout, type FooterLayout } from './parquetLayout.js';
import { concatParquet, joinable, joinableLayouts, joinRows, oneFile, padParquet, paddable, readLocalFooter, readSpan, stitchParquet, type StitchSource } from './parquetStitch.js';
import { allWithin, firstAtLeast, groupKeys, readKeyColumn, sameSequence } from '../../parquetKeys.js';
import { planFeatures, type MergePlan } from '../../planner.js';
import { asyncBufferFromFile } from 'hyparquet';
import { readTableVersions, recordTableChanges, recordedTables, type ChangedRange } from './tableVersions.js';
import { keyMicros, rawKeys, rawToMicros } from './keyOrder.js';
import { writeKeyedExtract, type KeyedCounts, type KeyedExtract, type KeyedOutcome } from './keyedExtract.js';
import { zstdReady } from './parquetDoubles.js';
import { ThreadPool } from './threadPool.js';
import { fileTableNames, fileTablesFolder, keyOrderedTables, writeFileTables, type FileTableMode, type OrderedTable, type FileTableWrite, type FileTablesPlace } from './fileTables.js';

export interface DuckDbOptions {
  /** Memory the merge may use; DuckDB's memory_limit, and the slice size follows from it. */
  memoryMb: number;
  threads?: number;
  /** Extracts the runtime runs at once (BQX_EXTRACT_CONCURRENCY): DuckDB's pool makes room for them (callerThreads.ts). */
  extractConcurrency?: number;
  /** Footer bytes of aligned checkpoint parts the merge keeps for its stitch (KEPT_LAYOUT_BYTES unless set; a test sets it low). */
  keptLayoutBytes?: number;
  /** How long the keyed writer's threads stay idle before they end (KEYED_IDLE_MS unless set; a test sets it low). */
  keyedIdleMs?: number;
}

/**
 * A refresh's partial last shard is left in the files the earlier extracts wrote, and the new rows
 * go to a file of their own, until this many hold it: then the keyed extract writes them again as
 * one (the carry). The merge stitches such a shard from its files' pages joined (joinedRun), so
 * the files cost it nothing; decoding and writing the carried rows again at every refresh took
 * about 2 s of the threads' CPU of a 20,000-row refresh on day shards (busy 20.7 and 21.1 s against
 * 22.6 and 24.1 s), and would be a month's rows every day on month shards.
 */
const KEYED_CARRY_FILES = MAX_SHARD_PARTS;

/**
 * DuckDB's share of the memory setting. DuckDB keeps the blocks of its own tables it has read
 * cached up to its memory_limit (parquet files are not cached: see open), so over a long run its
 * part of the process may grow to the limit; the rest is Node's own (the profile's samples,
 * parquet footers, the run's records) and the allocators' slack, so the whole `bqx run` stays
 * within the setting.
 */
export function duckDbMemoryMb(memoryMb: number): number {
  return Math.max(128, Math.floor(memoryMb * DUCKDB_SHARE));
}

/**
 * Half: a whole run at 177,748 rows peaked at 2,143 MB with DuckDB at 70 % of the default 2,048
 * (its cache at the limit, about 700 MB of Node's own beside it, most in the merge's stitching).
 */
const DUCKDB_SHARE = 0.5;

export class DuckDbWarehouse implements Warehouse {
  /** The extract writes no row group across a shard, and the merge stitches a shard from whole row groups. */
  readonly checkpointsFollowShards = true;
  /** It keeps no earlier version of a table: an extract checks the version the run froze instead. */
  readonly readsTablesAsOf = false;
  /** Checkpoints the last merge had to align itself (the rest were stitched as they were). */
  lastRealigned = 0;
  /** The last profile's output footers (layouts), read again by the comparisons that follow it. */
  private profiledFooters: FooterCache | undefined;
  /** Features the last merge lined up by null pages only (padShard), none by a join. */
  lastPadded = 0;
  /** Checkpoint files whose keys the last merge decoded to compare with a shard's label keys (`sameKeys`). */
  lastKeysDecoded = 0;
  /** Shards of features the last merge stitched from several checkpoint files joined page for page (joinedRun). */
  lastJoinedShards = 0;
  /** Features whose columns the last merge copied from the previous dataset's files (MergeJob `previous`). */
  lastFromPrevious = 0;
  /** Aligned parts whose footers the last merge read again at its stitch, past `keptLayoutBytes`. */
  lastLayoutsDropped = 0;
  /** Runs of shards extracts have read once and staged since the warehouse opened (extractBatches.ts). */
  stagedRuns = 0;
  /** A refresh's carried shards written by joining pages (carryInto), since the warehouse opened. */
  joinedCarries = 0;
  /** Extracts of tables known in key order, read without a sort or a distinct count, since the warehouse opened. */
  inOrderExtracts = 0;
  /** Of those, extracts counted from the table's key chunks rather than by a query (keyOrder.ts `keySpans`), and copied by DuckDB. */
  countsFromKeys = 0;
  /** Extracts written from a key-ordered table's own pages, without DuckDB (keyedExtract.ts). */
  keyedExtracts = 0;
  /** Of those, extracts written on the keyed writer's threads. */
  keyedOnThreads = 0;
  /** The keyed writer's threads, started at its first extract large enough (runKeyed). */
  private keyedThreads: ThreadPool<KeyedExtract, KeyedOutcome> | undefined;
  /** Keyed extracts on the threads now, and the timer that ends the threads once none has run for a while (KEYED_IDLE_MS). */
  private keyedInFlight = 0;
  private keyedIdle: NodeJS.Timeout | undefined;
  /** The profile's scan threads, kept from a profile job to the one it says follows (a refresh's two: resumeByGroup.ts), else ended with the job. */
  private readonly profileThreads = new KeptPool<ScanTask, ScanOutcome>(() => new ThreadPool('profileScanWorker', PROFILE_STREAMS, 'profile scan'), PROFILE_IDLE_MS);
  private zstd: Promise<void> | undefined;
  /**
   * Per dataset, its views that read parquet files and the file tables known in key order, looked
   * up once (a catalog query took 5 ms, per extract 3.5 s of a refresh's 667); forgotten whenever
   * bqx writes or marks a table or runs SQL through `execute`.
   */
  private knownViews = new Map<string, Promise<ViewFacts>>();
  /**
   * The data versions of every recorded table of a dataset over a range, asked once for the
   * extracts' checks (one table at a time costs about 30 ms, 667 tables at once about 100 ms):
   * forgotten whenever this warehouse writes, and no other process writes while it holds the lock.
   */
  private frozenVersions = new Map<string, Promise<Record<string, string | null>>>();
  /** Extracts at once share half the memory setting; the other half is headroom (see memoryGate.ts). */
  private readonly extractGate: MemoryGate;
  private readonly pool = new CallerThreads(
    async () => Number((await this.query("SELECT current_setting('threads')::INTEGER AS threads"))[0]!.threads),
    // Not through `execute`, which forgets the catalog lookups: the pool sets this many times a run.
    (threads) => this.withConnection(async (c) => void (await c.run(`SET GLOBAL threads = ${Math.trunc(threads)}`))),
  );

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly staging: FolderObjectStore,
    private readonly output: FolderObjectStore,
    private readonly options: DuckDbOptions,
    /** The warehouse file's folder and its file tables' folder in it (none in memory). */
    private readonly tablesPlace: FileTablesPlace | undefined,
  ) {
    this.extractGate = new MemoryGate(Math.floor(duckDbMemoryMb(options.memoryMb) / 2));
  }

  static async open(file: string, staging: FolderObjectStore, output: FolderObjectStore, options: DuckDbOptions): Promise<DuckDbWarehouse> {
    // No extension is ever downloaded (the machine may be offline); times stay UTC without ICU.
    const settings: Record<string, string> = {
      memory_limit: `${duckDbMemoryMb(options.memoryMb)}MB`,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    // No copy of the parquet files' bytes in DuckDB's buffer pool: a run reads each table and
    // checkpoint once (the OS page cache serves what is read again), and the cache only grew the
    // process towards the memory limit and checked each file's mtime on every read. A refresh at
    // 20,000 rows: peak RSS 0.91-1.07 GB against 1.42 GB with it, 1.5-2 s less wall.
    settings.enable_external_file_cache = 'false';
    // Memory DuckDB's allocator freed goes back to the system after any task that took more than
    // this, not only past 128 MiB (its default): what it kept from the extract and the merge was
    // still counted in the run's peak, which is in the profile. Peak RSS of a whole run (month
    // shards, three runs alternated each, fresh copies of one home): 60,000 rows 636-675 MB ->
    // 587-615 MB, 20,000 rows 509-516 -> 482-517 MB, walls the same within the machine's noise.
    settings.allocator_flush_threshold = '8MiB';
    if (options.threads) settings.threads = String(options.threads);
    // File tables' views name their files relative to the warehouse's folder (fileTables.ts).
    const root = file === ':memory:' ? undefined : path.dirname(path.resolve(file));
    if (root) settings.file_search_path = root;
    const instance = await DuckDBInstance.create(file, settings).catch((error: unknown) => {
      // DuckDB lets one process open a database file for writing: the embedded runtime relies on it
      // (one bqx process per home; embedded.ts sweeps the scratch folders once it holds the lock).
      const held = /Could not set lock on file.*?PID (\d+)/s.exec(errorMessage(error));
      // A conflict, not a failure: nothing started, so the CLI exits 2 as for bad input, not 1.
      if (held) throw new ConflictError(`the warehouse ${file} is in use by another process (PID ${held[1]}): one bqx command at a time works on a BQX_HOME (\`bqx status\`, \`report\` and \`verify\` read it meanwhile)`);
      throw error;
    });
    // Parquet footers parsed once per file, not once per statement: the profile, the compare and
    // the merge's alignment read the same wide files in many statements of a few hundred columns,
    // and a 9,900-column footer took longer to parse than the columns took to decode (profile at
    // 20,000 rows: 17.3 s of decoding alone without the cache, 11.7 s with it). Every parquet file
    // bqx writes is new (written aside, then renamed into place), so a cached footer never goes stale.
    const setup = await instance.connect();
    try {
      await setup.run('SET GLOBAL parquet_metadata_cache = true');
    } finally {
      setup.closeSync();
    }
    return new DuckDbWarehouse(instance, staging, output, options, root ? { root, folder: fileTablesFolder(file) } : undefined);
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

  async dataVersions(dataset: string, tables: readonly string[], range?: Window): Promise<Record<string, string | null>> {
    return this.withConnection((c) => readTableVersions(c, dataset, tables, range));
  }

  /** Throws TableChangedError when the table's version of the frozen range is no longer the run's. */
  private async checkUnchanged(dataset: string, table: string, asOf: NonNullable<ExtractJob['asOf']>): Promise<void> {
    const key = `${dataset}\n${asOf.range.start}\n${asOf.range.end}`;
    let versions = this.frozenVersions.get(key);
    if (!versions) {
      versions = this.withConnection(async (c) => readTableVersions(c, dataset, await recordedTables(c, dataset), asOf.range));
      this.frozenVersions.set(key, versions);
      versions.catch(() => this.frozenVersions.delete(key));
    }
    const now = (await versions)[table] ?? null;
    if (now === asOf.version) return;
    throw new TableChangedError(table, `table ${dataset}.${table} changed after ${asOf.at}, when the run froze its data version (${asOf.version}, now ${now ?? 'unknown'}): the embedded warehouse keeps no earlier version to read`);
  }

  /**
   * Records that bqx changed these tables (every bqx write calls this): a new data version. With
   * `range`, only keys in it changed (an append), so versions of earlier windows stay.
   */
  async markChanged(dataset: string, tables: readonly string[], range?: ChangedRange): Promise<string> {
    this.knownViews.clear();
    this.frozenVersions.clear();
    return this.withConnection((c) => recordTableChanges(c, dataset, tables, range));
  }

  async labelStats(dataset: string, table: string, window?: Window): Promise<LabelStats> {
    const params = window ? [window.start, window.end] : [];
    const [row] = await this.withConnection(async (c) => (await c.runAndReadAll(sql.labelStatsSql(dataset, table, window !== undefined), params)).getRows());
    const [n, lo, hi] = row!;
    return { rows: Number(n), minKey: isoOrNull(lo), maxKey: isoOrNull(hi) };
  }

  /**
   * One COPY per time shard, each its own part file in key order: no row group straddles a shard
   * boundary, so the merge can stitch a shard from whole row groups. Empty shards write nothing
   * (a feature with no row in the window keeps one empty file, so a checkpoint always has one).
   * A parquet source's runs of three or more shards are read once, then copied shard by shard.
   */
  async extract(job: ExtractJob): Promise<ExtractResult> {
    // Only bqx writes these tables, holding the warehouse's lock, so none changes during the
    // extract: one that moved since the run froze it moved between processes (a run interrupted,
    // the demo touched, the run resumed).
    if (job.asOf) await this.checkUnchanged(job.dataset, job.feature, job.asOf);
    const shards = job.shards.length > 0 ? job.shards : [{ start: job.window.start, end: job.window.end }];
    // A file table bqx wrote with strictly ascending keys (fileTables.ts) is read in that order
    // with one row per key: no sort and no distinct count, and for one shard no count at all (the
    // copy says how many). The merge matches every checkpoint's keys to the labels' before it
    // stitches them.
    const ordered = (await this.viewFacts(job.dataset)).keyOrdered.get(job.feature);
    const inOrder = ordered !== undefined;
    if (inOrder) this.inOrderExtracts++;
    const counted = !inOrder || shards.length > 1 || (job.carry ?? []).length > 0;
    // Such a table's rows in the window and in each shard are found from its files' keys, where
    // they can be read (keyOrder.ts); then the shards' files are written from its pages, where
    // every column is one written so (keyedExtract.ts), else counted so and copied by DuckDB.
    // A refresh's partial last shard: its earlier rows go into the first shard's file with the new
    // ones, by DuckDB's copy; the keyed extract leaves them where they are until KEYED_CARRY_FILES.
    const carryFiles = (job.carry ?? []).map((o) => this.staging.uri(o));
    const keyed = inOrder ? await this.extractKeyed(job, shards, ordered, carryFiles) : null;
    if (keyed && 'state' in keyed) return keyed;
    const carry = carryFiles.map((file) => ({ file, metadata: readLocalFooter(file).metadata }));
    const fromKeys = counted ? (keyed?.counts ?? null) : null;
    if (fromKeys) this.countsFromKeys++;
    return this.withCallerThreads(this.options.extractConcurrency ?? 1, () => this.withConnection(async (c) => {
      const bounds = shards.flatMap((s) => [s.start, s.end]);
      // Uncounted: the table's rows stand for the window's (at most as many) until the copy counts them.
      const [counts] = fromKeys
        ? [[fromKeys.window, fromKeys.window, ...fromKeys.shards]]
        : counted
          ? (await c.runAndReadAll(sql.extractCountSql(job.dataset, job.feature, shards.length, inOrder), [job.window.start, job.window.end, ...bounds])).getRows()
          : [[ordered!.rows, ordered!.rows, ordered!.rows]];
      let sourceRows = Number(counts![0]);
      let distinct = Number(counts![1]);
      // Rows per shard: a shard with none (a weekend day) is not copied at all.
      const shardRows = shards.map((_, i) => Number(counts![2 + i]));
      // Deduplication sorts each key's rows by every column: only paid where a key repeats.
      const select = sourceRows > distinct ? sql.extractSelectSql(job.dataset, job.feature, job.columns) : sql.extractPlainSql(job.dataset, job.feature, job.columns, !inOrder);
      const files: string[] = [];
      let rows = 0;
      const carried = carry.reduce((n, f) => n + Number(f.metadata.num_rows), 0);
      // Under the memory gate: the estimate is the whole window's. Runs of shards that fit in it are
      // read from the table once (extractBatches.ts); the rest are read shard by shard.
      const reservedMb = Math.min(extractEstimateMb(sourceRows + carried, job.columns.length), this.extractGate.budgetMb);
      const batchRows = extractRowsWithin(reservedMb, job.columns.length);
      const stage = shardRows.filter((n) => n > 0).length >= STAGED_SHARDS && (await this.viewFacts(job.dataset)).parquet.has(job.feature);
      // One shard's file, from the table or from the staged run holding it.
      const writeShard = async (i: number, staged: boolean) => {
        const shard = shards[i]!;
        // The same rule as for a copy that wrote no row, below: only the one file a feature must keep is written empty.
        const keepsFile = (i === 0 && carry.length > 0) || (files.length === 0 && i === shards.length - 1);
        if (shardRows[i] === 0 && !keepsFile) return;
        const temp = await this.staging.tempPath('.parquet');
        const written = i === 0 && carry.length > 0
          ? await this.carryInto(c, select, shard, { files: carry, rows: carried }, temp, job.columns)
          : Number((await c.run(sql.copyToParquetSql(staged ? sql.stagedShardSql(!inOrder) : select, temp), [shard.start, shard.end])).rowsChanged);
        if (written === 0 && !(i === 0 && carried > 0) && (files.length > 0 || i < shards.length - 1)) {
          await fs.rm(temp, { force: true });
          return;
        }
        const name = `${job.prefix}part-${String(files.length).padStart(5, '0')}.parquet`;
        await this.staging.adopt(name, temp);
        files.push(name);
        rows += written;
      };
      await this.extractGate.run(reservedMb, async () => {
        for (const batch of shardBatches(shardRows, stage ? batchRows : 0, (i) => i === 0 && carry.length > 0, STAGED_SHARDS)) {
          if (!batch.staged) {
            for (let i = batch.from; i < batch.to; i++) await writeShard(i, false);
            continue;
          }
          await c.run(sql.stageSql(select), [shards[batch.from]!.start, shards[batch.to - 1]!.end]);
          this.stagedRuns++;
          try {
            for (let i = batch.from; i < batch.to; i++) await writeShard(i, true);
          } finally {
            await c.run(sql.dropStageSql);
          }
        }
      });
      if (!counted) sourceRows = distinct = rows;
      if (rows !== distinct) throw new Error(`extract of ${job.feature} wrote ${rows} rows, expected ${distinct} distinct keys`);
      return { state: 'done', files, rows, sourceRows, duplicates: sourceRows - distinct, ...(carry.length > 0 ? { carried } : {}) };
    }));
  }

  /**
   * A refresh's first shard, whose earlier rows are in `carry`: the new rows are written alone and
   * joined after the carried ones into one row group, page for page (parquetStitch.ts `joinRows`).
   * A COPY reading the carried file with the new rows cost three to four times a plain shard's
   * (38-42 ms against 9-20 ms a table at 20,000 rows, 667 times a refresh); it is what runs where
   * the pages cannot be joined (a dictionary page in the new file, another codec). Returns the new
   * rows written.
   */
  private async carryInto(c: DuckDBConnection, select: string, shard: Window, carry: { files: readonly { file: string; metadata: FileMetaData }[]; rows: number }, target: string, columns: readonly string[]): Promise<number> {
    const fresh = await this.staging.tempPath('.parquet');
    try {
      const rows = Number((await c.run(sql.copyToParquetSql(select, fresh), [shard.start, shard.end])).rowsChanged);
      const parts = [...carry.files, { file: fresh, metadata: readLocalFooter(fresh).metadata }];
      // At most one row group's rows: a COPY of them would write one row group too.
      if (carry.rows + rows <= sql.ROW_GROUP_ROWS && joinable(parts.map((p) => p.metadata))) {
        joinRows(parts, target);
        this.joinedCarries++;
        return rows;
      }
    } finally {
      await fs.rm(fresh, { force: true });
    }
    const copy = await c.run(sql.copyToParquetSql(sql.carrySelectSql(select, columns), target), [shard.start, shard.end, listValue(carry.files.map((f) => f.file))]);
    return Number(copy.rowsChanged) - carry.rows;
  }

  /** The views of `dataset` reading parquet files (file tables, not tables DuckDB stores), and the file tables known in key order. */
  private async viewFacts(dataset: string): Promise<ViewFacts> {
    let facts = this.knownViews.get(dataset);
    if (!facts) {
      facts = this.withConnection(async (c) => {
        const rows = (await c.runAndReadAll(sql.viewsSql, [dataset])).getRows();
        const parquet = new Set(rows.filter(([, text]) => /\bread_parquet\s*\(/i.test(String(text))).map(([name]) => String(name)));
        return { parquet, keyOrdered: await keyOrderedTables(c, this.tablesPlace, dataset) };
      });
      this.knownViews.set(dataset, facts);
      const mine = facts;
      mine.catch(() => this.knownViews.get(dataset) === mine && this.knownViews.delete(dataset));
    }
    return facts;
  }

  /**
   * Runs `body` as one of `callers` statements run side by side (the extracts, the demo build's
   * tables): DuckDB's own thread pool shrinks to what the cores leave them meanwhile (callerThreads.ts).
   */
  async withCallerThreads<T>(callers: number, body: () => Promise<T>): Promise<T> {
    return this.pool.run(callers, body);
  }

  /**
   * The merge, shard by shard: (1) each shard's label keys and labels, written once in key order;
   * (2) for every feature and shard, a checkpoint file that holds exactly those keys in the same
   * row groups is used as it is, otherwise the shard is aligned to them by a narrow LEFT JOIN
   * here; (3) each (shard, column group) is stitched from the aligned files' column chunks,
   * copied without decoding. Memory stays bounded whatever the number of shards and columns (the
   * key column of every shard, 8 bytes a row, is held to check each group against).
   */
  async merge(job: MergeJob, progress: (p: MergeProgress) => void = () => {}): Promise<MergeResult> {
    const { manifest, plan } = job;
    const labels = manifest.labels;
    const grid = job.shards.length > 0 ? job.shards : [{ index: 0, id: 'window', start: job.window.start, end: job.window.end }];
    const work = await this.output.tempPath('-merge');
    await fs.mkdir(work, { recursive: true });
    let lineUp: LineUp | undefined;
    try {
      // A few shards at a time: each is two small statements, mostly DuckDB's fixed cost. After a
      // touch of 84 tables on 16 day shards: 0.46-0.62 s four at a time against 0.56-0.66 s one
      // after another (three runs each, of a merge of 2.7-3.0 s); the first shard's statements
      // wait longest, while this thread loads the merge's modules and reads the previous manifest.
      const made = await mapLimit(grid, BASE_WRITES, async (shard): Promise<Base | undefined> => {
        const file = path.join(work, `base-${shard.id}.parquet`);
        const copy = await this.withConnection((c) => c.run(sql.copyToParquetSql(sql.labelSliceSql(labels.dataset, labels.table, labels.columns), file), [shard.start, shard.end]));
        if (Number(copy.rowsChanged) === 0) return undefined; // no label rows: the shard has no files
        const metadata = readLocalFooter(file).metadata;
        const layout = readLayout(file);
        return { shard, file, metadata, layout, keys: keyChunks(file, layout), slices: await this.withConnection((c) => baseSlices(c, file, metadata)) };
      });
      const bases = made.filter((b): b is Base => b !== undefined);

      // The features of the groups to build (a run may build only some: shared/chain/shareShards.ts).
      const members = planFeatures(plan);
      // Where only some features changed since the previous dataset, the others' columns are copied
      // from its files of the same shards and groups, not aligned from their checkpoints again.
      const changed = new Set(job.previous?.changed);
      const previous = job.previous ? await previousParts(job.previous.files, changed, bases, plan, manifest, (o) => this.output.uri(o)) : undefined;
      const unchanged = new Set(previous ? [...members].filter((f) => !changed.has(f)) : []);
      this.lastFromPrevious = unchanged.size;
      const features = manifest.features.filter((f) => members.has(f.feature) && !unchanged.has(f.feature));
      const total = features.length + bases.length * plan.groups.length;
      let done = 0;
      progress({ step: 'align', done, total });
      // Per feature and shard: files holding the shard base's keys and row groups.
      const aligned = new Map<string, Map<string, AlignedPart[]>>();
      const concurrency = this.options.threads ?? 2;
      const batchColumns = alignBatchColumns(duckDbMemoryMb(this.options.memoryMb), concurrency);
      let realigned = 0;
      let padded = 0;
      let joinedShards = 0;
      const kept = new KeptLayouts(this.options.keptLayoutBytes ?? KEPT_LAYOUT_BYTES);
      const alignFeature = async (f: (typeof features)[number]): Promise<void> => {
        const files = job.checkpoints[f.feature]!.map((o) => this.staging.uri(o));
        // Footers as layouts (parquetLayout.ts), not hyparquet's objects: a day-shard merge reads
        // 10,000 of them, and their objects were half of its garbage collection.
        const footers = files.map((file) => ({ file, layout: readLayout(file) }));
        const byShard = new Map<string, AlignedPart[]>();
        let aligning = false;
        let padding = false;
        // A checkpoint's files are in shard order: each shard's match is looked for from the file
        // after the last match on (reading key chunks from every earlier file was O(shards²) reads).
        let next = 0;
        for (const base of bases) {
          const at = await findFrom(footers.length, next, (i) => sameKeys(footers[i]!.file, footers[i]!.layout, base));
          const match = at === undefined ? undefined : footers[at];
          if (at !== undefined) next = at + 1;
          const sources = f.columns.map((c) => c.source);
          if (match) {
            byShard.set(base.shard.id, [kept.part({ ...match, columns: new Set(sources) })]);
            continue;
          }
          const to = await joinedRun(footers, next, base);
          if (to !== undefined) {
            byShard.set(base.shard.id, [kept.part({ ...footers[next]!, columns: new Set(sources), then: footers.slice(next + 1, to) })]);
            next = to;
            joinedShards++;
            continue;
          }
          const padded = await padShard(f.feature, sources, footers, base, work);
          if (padded) {
            byShard.set(base.shard.id, [kept.part(padded)]);
            padding = true;
          } else {
            byShard.set(base.shard.id, (await this.alignShard(f.feature, sources, files, base, work, batchColumns)).map((p) => kept.part(p)));
            aligning = true;
          }
        }
        aligned.set(f.feature, byShard);
        if (aligning) realigned++;
        else if (padding) padded++;
        progress({ step: 'align', done: ++done, total });
      };
      // The features are lined up in the background, in the order the stitch below takes its groups,
      // and each group's stitch waits only for its own members: its copies (on libuv's threads) go
      // on while this thread lines up the next groups' features. One phase after the other, the
      // copies waited for the whole alignment and this thread was half idle during the copies.
      lineUp = alignInOrder(features, [...plan.groups].reverse(), concurrency, alignFeature);

      // Stitched group after group, the last group first, each across every shard. At sizes past
      // the page cache this reads what the previous phase wrote most recently first: the extract
      // writes checkpoints in the manifest's order, which the groups follow, so the last group's
      // are the likeliest still cached; and it leaves group 0, which the profile reads first, the
      // most recently written (LRU: reading in the order written would find little cached).
      // Each group's keys are checked against its shard's label keys, which every group's key
      // column is copied from: only the shard's key column is held, never a group's keys beyond
      // the one just written.
      const labelKeys = await Promise.all(bases.map(baseKeys));
      const built = bases.map(() => ({ groups: [] as MergedGroup[], keysInRange: true }));
      for (const group of [...plan.groups].reverse()) {
        await lineUp.ready(group);
        for (const [s, base] of bases.entries()) {
          const keySource = { file: base.file, layout: base.layout, columns: [KEY_COLUMN, ...(group.labels ? labels.columns : [])].map((c) => ({ source: c, output: c })) };
          const earlier = previous?.get(base.shard.id)?.get(group.index);
          const sources: StitchSource[] = [keySource];
          for (const m of group.members) {
            if (earlier && unchanged.has(m.feature)) {
              // Named as output there; a run of such features is one source.
              const columns = m.columns.map((c) => ({ source: c.output, output: c.output }));
              const last = sources.at(-1)!;
              if (last.file === earlier.file && last !== keySource) last.columns.push(...columns);
              else sources.push({ file: earlier.file, layout: earlier.layout, columns, ...(earlier.then ? { then: earlier.then } : {}) });
              continue;
            }
            for (const part of aligned.get(m.feature)!.get(base.shard.id)!) {
              const columns = m.columns.filter((c) => part.columns.has(c.source)).map((c) => ({ source: c.source, output: c.output }));
              if (columns.length > 0) sources.push({ file: part.file, layout: part.layout ?? readLayout(part.file), columns, ...(part.then ? { then: part.then } : {}) });
            }
          }
          const parts = await stitchParquet(sources, (i) => path.join(work, `${base.shard.id}-group-${group.index}-${i}.parquet`));
          // The keys as written, read back from the files' key column chunks with the footer just
          // written: DuckDB's count and order queries over them parsed each 9,900-column footer
          // again (36 day-shard groups at 20,000 rows: 4.2 s of a 21 s merge).
          const keys = groupKeys(await Promise.all(parts.map(async (part) => readKeyColumn(await asyncBufferFromFile(part.file), projectMetadata(part.layout, [KEY_COLUMN])))));
          const objects: string[] = [];
          for (const [i, part] of parts.entries()) {
            const object = paths.shardGroupPart(job.outputPrefix, base.shard.id, group.index, i);
            await this.output.adopt(object, part.file);
            objects.push(object);
          }
          const { start, end } = base.shard;
          built[s]!.keysInRange &&= allWithin(keys.keys, { start, end });
          built[s]!.groups.push({ index: group.index, files: objects, rows: parts.reduce((n, p) => n + p.rows, 0), columns: group.columns, bytes: parts.reduce((n, p) => n + p.bytes, 0), distinctKeys: keys.distinctKeys, keysInOrder: keys.ascending && sameSequence(keys.keys, labelKeys[s]!) });
          progress({ step: 'stitch', done: ++done, total });
        }
      }
      const shards: MergedShard[] = bases.map((base, s) => {
        const groups = built[s]!.groups.reverse();
        const { start, end, id } = base.shard;
        return { index: s, id, start, end, rows: groups[0]!.rows, groups, keysInRange: built[s]!.keysInRange };
      });
      this.lastRealigned = realigned;
      this.lastPadded = padded;
      this.lastKeysDecoded = bases.reduce((n, b) => n + (b.decoded ?? 0), 0);
      this.lastJoinedShards = joinedShards;
      this.lastLayoutsDropped = kept.dropped;
      const groups = byGroup(plan.groups.map((g) => ({ index: g.index, columns: g.columns })), shards);
      return { state: 'done', groups, shards, rows: shards.reduce((s, x) => s + x.rows, 0), ...(previous ? { fromPrevious: unchanged.size } : {}) };
    } finally {
      // After a failure no feature is lined up any more, and those under way end before their
      // folder is removed.
      await lineUp?.stop();
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Aligns one feature's checkpoint to one shard's label keys, one base row group (a slice of
   * keys) and at most `batchColumns` columns at a time, each slice written as one row group and
   * the slices concatenated: DuckDB holds one row group of a few columns, whatever the row count
   * and the table's width.
   */
  private async alignShard(feature: string, columns: string[], files: string[], base: Base, work: string, batchColumns: number): Promise<AlignedPart[]> {
    const outputs: AlignedPart[] = [];
    for (let b = 0; b * batchColumns < columns.length; b++) {
      const cols = columns.slice(b * batchColumns, (b + 1) * batchColumns);
      const file = path.join(work, `${feature}.${base.shard.id}.${b}.parquet`);
      const parts: { file: string; metadata: FileMetaData }[] = [];
      for (const [g, slice] of base.slices.entries()) {
        const part = path.join(work, `${feature}.${base.shard.id}.${b}.${g}.parquet`);
        await this.withConnection((c) =>
          c.run(sql.copyToParquetSql(sql.alignSliceSql(cols), part), [base.file, listValue(files), base.shard.start, base.shard.end, slice.from, slice.to, slice.lo, slice.hi]),
        );
        parts.push({ file: part, metadata: readLocalFooter(part).metadata });
      }
      if (parts.length === 1) await fs.rename(parts[0]!.file, file);
      else concatParquet(parts, file);
      await Promise.all(parts.map((p) => fs.rm(p.file, { force: true })));
      const written = readLayout(file);
      if (!(await sameKeys(file, written, base))) throw new Error(`aligning ${feature} to the label keys of shard ${base.shard.id} did not give the same row groups`);
      outputs.push({ file, layout: written, columns: new Set(cols) });
    }
    return outputs;
  }

  async profile(job: ProfileJob, progress?: (p: MergeProgress) => void): Promise<ProfileData> {
    // Kept for the comparisons that follow the profile, until the next profile (parquetCompare.ts).
    this.profiledFooters = new FooterCache();
    return profileDuckDb((body) => this.withConnection(body), (o) => this.output.uri(o), job, { memoryMb: duckDbMemoryMb(this.options.memoryMb), threads: this.options.threads ?? os.availableParallelism() }, progress, this.profiledFooters, this.profileThreads);
  }

  /** In this process from the profile's footers; by DuckDB where a column is not bqx's own doubles or the columns would take over an eighth of the memory setting. */
  async compareColumns(job: CompareJob): Promise<ColumnComparison[]> {
    const uri = (o: string) => this.output.uri(o);
    const own = await compareOwn(job, uri, this.profiledFooters ?? new FooterCache(), (duckDbMemoryMb(this.options.memoryMb) * 2 ** 20) / 8);
    return own ?? compareDuckDb((body) => this.withConnection(body), uri, job);
  }

  /** A feature view stitched from the dataset's files, chunk by chunk (duckdbView.ts). */
  async view(job: ViewJob): Promise<ViewResult> {
    return viewLocal(this.output, job);
  }

  /**
   * Writes the whole dataset as one parquet file: each shard's groups stitched side by side (one
   * key column), the shards then concatenated, all by chunk copy.
   */
  async consolidate(shards: { groups: { files: string[] }[] }[], object: string): Promise<number> {
    if (shards.some((s) => s.groups.some((g) => g.files.length === 0))) throw new Error('consolidation needs every shard\'s groups to have files');
    const temps: { file: string; metadata: FileMetaData }[] = [];
    const joined: string[] = [];
    try {
      for (const shard of shards) {
        const sources = [];
        for (const [i, g] of shard.groups.entries()) {
          // A group in several parts (a shard a refresh grew) is one file first, as a view makes it.
          const file = await oneFile(g.files.map((f) => this.output.uri(f)), () => this.output.tempPath('.parquet'), joined);
          const layout = readLayout(file);
          const names = layout.schema.map((e) => e.name).slice(i === 0 ? 0 : 1); // one key column
          sources.push({ file, layout, columns: names.map((n) => ({ source: n, output: n })) });
        }
        const temp = await this.output.tempPath('.parquet');
        const [part] = await stitchParquet(sources, () => temp, Number.MAX_SAFE_INTEGER);
        temps.push({ file: part!.file, metadata: readLocalFooter(part!.file).metadata });
      }
      if (temps.length === 0) throw new Error('the dataset has no rows to consolidate');
      const target = temps.length === 1 ? temps[0]!.file : await this.output.tempPath('.parquet');
      const rows = temps.length === 1 ? Number(temps[0]!.metadata.num_rows) : concatParquet(temps, target).rows;
      await this.output.adopt(object, target);
      return rows;
    } finally {
      await Promise.all([...temps.map((t) => t.file), ...joined].map((f) => fs.rm(f, { force: true })));
    }
  }

  /**
   * Writes each `select`'s rows as a table kept in parquet files beside the warehouse
   * (fileTables.ts): the whole table ('replace') or rows added to it ('append'), `copies` files
   * written at once (DuckDB's own pool makes room for them: callerThreads.ts), every view changed
   * in one transaction after.
   */
  async writeFileTables(dataset: string, writes: readonly FileTableWrite[], mode: FileTableMode, options: { copies?: number; onWritten?: (table: string) => void } = {}): Promise<void> {
    const place = this.tablesPlace;
    if (!place) throw new Error('file tables need a warehouse kept in a file, not in memory');
    const copies = options.copies ?? 2;
    this.knownViews.clear();
    this.frozenVersions.clear();
    await this.withCallerThreads(copies, () => writeFileTables((body) => this.withConnection(body), place, dataset, writes, mode, { ...options, copies }));
  }

  /** The tables of `dataset` kept in parquet files (the rest are DuckDB's own). */
  async fileTables(dataset: string): Promise<Set<string>> {
    return this.withConnection((c) => fileTableNames(c, dataset));
  }

  /** Runs statements on the warehouse (the demo generator builds its tables through this). */
  async execute(statement: string, params: DuckDBValue[] = []): Promise<void> {
    this.knownViews.clear();
    this.frozenVersions.clear();
    await this.withConnection((c) => c.run(statement, params).then(() => undefined));
  }

  async query(statement: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    return this.withConnection(async (c) => (await c.runAndReadAll(statement, params)).getRowObjectsJS() as Record<string, unknown>[]);
  }

  /**
   * An extract from a file table in key order, written from its pages (keyedExtract.ts) and put in
   * place; where that path declines, the rows it counted, if any (then DuckDB copies). Small tables' extracts run here, the
   * rest on the keyed writer's threads (KEYED_THREADS_PER_CORE, up to the extract concurrency), so they use
   * every core and this thread runs the chain meanwhile: below KEYED_THREAD_CELLS (the table's rows
   * times its columns, what its spans are found in) the hand-over would cost more than the work.
   */
  private async extractKeyed(job: ExtractJob, shards: readonly Window[], table: OrderedTable, partial: string[]): Promise<ExtractResult | { counts?: KeyedCounts }> {
    // The partial shard's files stay (the chain keeps them: no `carried`) until there are enough to carry.
    const carry = partial.length >= KEYED_CARRY_FILES ? partial : [];
    const temps: string[] = [];
    for (let i = 0; i < shards.length; i++) temps.push(await this.staging.tempPath('.parquet'));
    const task: KeyedExtract = { feature: job.feature, files: table.files, window: job.window, shards, carry, columns: job.columns, temps };
    const outcome = await this.runKeyed(task, table.rows * (job.columns.length + 1));
    if ('declined' in outcome) return outcome.counts ? { counts: outcome.counts } : {};
    const files: string[] = [];
    for (const w of outcome.written) {
      const name = `${job.prefix}part-${String(files.length).padStart(5, '0')}.parquet`;
      await this.staging.adopt(name, w.target);
      files.push(name);
    }
    this.keyedExtracts++;
    return { state: 'done', files, rows: outcome.rows, sourceRows: outcome.rows, duplicates: 0, ...(carry.length > 0 ? { carried: outcome.carried } : {}) };
  }

  private async runKeyed(task: KeyedExtract, cells: number): Promise<KeyedOutcome> {
    if (cells < KEYED_THREAD_CELLS) {
      await (this.zstd ??= zstdReady());
      return writeKeyedExtract(task);
    }
    this.keyedOnThreads++;
    const pool = (this.keyedThreads ??= new ThreadPool('keyedWriteWorker', Math.max(1, Math.min(this.options.extractConcurrency ?? 1, KEYED_THREADS_PER_CORE * os.availableParallelism())), 'keyed extract'));
    clearTimeout(this.keyedIdle);
    this.keyedInFlight++;
    try {
      return await pool.run(task);
    } catch (error) {
      // A thread that died takes the pool with it: the next write (the chain's retry) starts another.
      if (pool.failed && this.keyedThreads === pool) {
        this.keyedThreads = undefined;
        void pool.close();
      }
      throw error;
    } finally {
      if (--this.keyedInFlight === 0) {
        this.keyedIdle = setTimeout(() => this.endIdleKeyed(pool), this.options.keyedIdleMs ?? KEYED_IDLE_MS);
        this.keyedIdle.unref();
      }
    }
  }

  /** Ends the keyed writer's threads if no extract has used them since they went idle. */
  private endIdleKeyed(pool: ThreadPool<KeyedExtract, KeyedOutcome>): void {
    if (this.keyedInFlight > 0 || this.keyedThreads !== pool) return;
    this.keyedThreads = undefined;
    void pool.close();
  }

  async close(): Promise<void> {
    this.profiledFooters = undefined;
    clearTimeout(this.keyedIdle);
    await this.profileThreads.close();
    await this.keyedThreads?.close();
    this.keyedThreads = undefined;
    try {
      this.instance.closeSync();
    } catch (error) {
      throw new Error(`closing the warehouse: ${errorMessage(error)}`);
    }
  }
}

/**
 * How long the keyed writer's threads stay with no extract before they end; the next keyed extract
 * starts new ones (about 50 ms). Kept through the merge and the profile, their two heaps added about
 * 65 MB to a 20,000-row run's peak (617 and 600 MB against 543 and 539 MB with them ended when the
 * merge began). Extracts follow one another within milliseconds while a run extracts.
 */
const KEYED_IDLE_MS = 2000;

/** How long the profile's scan threads wait for the job a profile job said follows it (within milliseconds: resumeByGroup.ts) before they end all the same. */
const PROFILE_IDLE_MS = 1000;

/**
 * Keyed writer threads per core (up to the extract concurrency, 4 by default). Two a core were
 * chosen when a refresh's extract of a table made many small synchronous reads that came from the
 * disk a day after the last run (twenty-ninth session: page cache dropped, 10.3 s against 13.6 s
 * with one). Its reads have since become fewer (row groups skipped by their key statistics, only
 * the window's rows decoded), and each thread is a V8 isolate of its own that loads and compiles
 * the same code: on 2 cores, 20,000 rows, day shards, alternated (bench/HISTORY.md, thirty-eighth
 * session), a refresh from the page cache was faster with one a core in 7 of 10 pairs (median
 * 0.56 s less), with the page cache dropped the same (median 12.3 s either way, 4 pairs), and a
 * `--no-reuse` full build no slower (23.5-31.4 s against 25.8-29.8 s, 3 pairs).
 */
const KEYED_THREADS_PER_CORE = 1;

/**
 * Cells (the table's rows x its columns, the key included) from which a keyed extract runs on a
 * thread: a 600-row test table (about 15,000 cells) is extracted here; a 20,000-row demo table of
 * four columns (100,000 cells) on a thread, even for a refresh's one new day, whose spans are found
 * in the table's whole key column.
 */
export const KEYED_THREAD_CELLS = 30_000;

/** What the catalog says of a dataset's views (DuckDbWarehouse `viewFacts`). */
interface ViewFacts {
  parquet: Set<string>;
  /** File tables known in key order, with their rows and files. */
  keyOrdered: Map<string, OrderedTable>;
}

/** Shards whose label keys and labels the merge writes at once. */
const BASE_WRITES = 4;

interface Base {
  shard: Pick<Shard, 'id' | 'start' | 'end'>;
  file: string;
  metadata: FileMetaData;
  layout: FooterLayout;
  /** Key column chunk bytes per row group. */
  keys: Buffer[];
  slices: { from: bigint; to: bigint; lo: string; hi: string }[];
  /** The key column decoded (epoch microseconds): read once, by `baseKeys`. */
  keyValues?: Float64Array;
  /** The same as INT64 microseconds, made once by `baseMicros` (null: a key is not a whole microsecond). */
  keyMicros?: BigInt64Array | null;
  /**
   * Key chunks (one per row group) of files found to hold the base's keys by decoding them, by how
   * they are stored (`keyForm`): a file whose key chunks are byte for byte one of these, stored the
   * same way, holds the same keys (`sameKeys`).
   */
  matched?: Map<string, Buffer[]>;
  /** The check of each form deciding now by decoding (the others of that form wait for it), and how many checks decoded. */
  deciding?: Map<string, Promise<void>>;
  decoded?: number;
}

/** The shard's label keys decoded, read from its base file the first time they are asked for. */
async function baseKeys(base: Base): Promise<Float64Array> {
  return (base.keyValues ??= await readKeyColumn(await asyncBufferFromFile(base.file), base.metadata));
}

/** Raw key values a millisecond is worth where keys are stored in microseconds. */
const MICROS_PER_MS = 1000n;

/**
 * The shard's label keys as INT64 microseconds (the base's own key column is one DuckDB encodes
 * in a way the decoder here does not read); null where a key is not a whole microsecond.
 */
async function baseMicros(base: Base): Promise<BigInt64Array | null> {
  if (base.keyMicros === undefined) {
    const keys = await baseKeys(base);
    base.keyMicros = keys.every(Number.isInteger) ? BigInt64Array.from(keys, (k) => BigInt(k)) : null;
  }
  return base.keyMicros;
}

/**
 * A shard of a checkpoint lined up with the shard's label keys without a join, where its keys in
 * the shard are a contiguous run of the label keys (a feature that starts late or ends early):
 * the label keys' column and the feature's column chunks, copied, with null pages before and after
 * (parquetStitch.ts `padParquet`), or no row at all there (columns of nulls). Undefined where that
 * does not hold: the shard is then aligned by a join (alignShard). One file of one row group must
 * hold all the feature's rows in the shard.
 */
async function padShard(feature: string, columns: string[], footers: readonly { file: string; layout: FooterLayout }[], base: Base, work: string): Promise<AlignedPart | undefined> {
  if (base.metadata.row_groups.length !== 1) return undefined;
  const [lo, hi] = [Date.parse(base.shard.start) * 1000, Date.parse(base.shard.end) * 1000];
  // Which files hold the shard's rows, from their key statistics: a file with rows whose range
  // is unknown could be any, so then nothing is padded (an all-null column would be wrong).
  const ranges = footers.filter((x) => x.layout.rows > 0).map((x) => ({ x, range: keyRange(projectMetadata(x.layout, [KEY_COLUMN])) }));
  if (ranges.some((r) => r.range === undefined)) return undefined;
  const inShard = ranges.filter((r) => r.range!.min < hi && r.range!.max >= lo);
  const file = path.join(work, `${feature}.${base.shard.id}.padded.parquet`);
  const rows = Number(base.metadata.num_rows);
  // No row in the shard: every value a null, the columns' types from any of the feature's files.
  if (inShard.length === 0) {
    // hyparquet's whole parse, here and below: padding copies and rewrites the chunks' metadata (a few features' shards).
    const schemaOnly = footers[0] && { file: footers[0].file, metadata: { ...readLocalFooter(footers[0].file).metadata, num_rows: 0n, row_groups: [] } };
    if (!schemaOnly || !paddable(schemaOnly.metadata, columns, 0)) return undefined;
    padParquet(base, { ...schemaOnly, columns }, KEY_COLUMN, 0, rows, file);
    return { file, layout: readLayout(file), columns: new Set(columns) };
  }
  if (inShard.length !== 1) return undefined;
  const { x, range } = inShard[0]!;
  if (range!.min < lo || range!.max >= hi) return undefined;
  const source = { file: x.file, metadata: readLocalFooter(x.file).metadata };
  const baseKeyValues = await baseKeys(base);
  const keys = keyMicros(x.file, x.layout) ?? (await readKeyColumn(await asyncBufferFromFile(source.file), source.metadata));
  const before = firstAtLeast(baseKeyValues, keys[0]!);
  if (before + keys.length > baseKeyValues.length || !paddable(source.metadata, columns, before)) return undefined;
  for (let i = 0; i < keys.length; i++) if (baseKeyValues[before + i] !== keys[i]) return undefined;
  padParquet(base, { ...source, columns }, KEY_COLUMN, before, baseKeyValues.length - before - keys.length, file);
  return { file, layout: readLayout(file), columns: new Set(columns) };
}

/**
 * Where the run of a checkpoint's files from `from` on that holds the shard base's keys one after
 * the other ends (exclusive): two files or more, each one row group, joinable page for page
 * (parquetStitch.ts `joinableLayouts`). A refresh leaves its partial last shard in the earlier
 * extract's file and writes the new rows to a file of their own (KEYED_CARRY_FILES); the stitch
 * copies both files' pages into each column chunk (StitchSource `then`). Undefined where that
 * does not hold: the shard is then padded or aligned.
 */
async function joinedRun(footers: readonly { file: string; layout: FooterLayout }[], from: number, base: Base): Promise<number | undefined> {
  if (base.layout.rowGroups.length !== 1) return undefined;
  let rows = 0;
  let to = from;
  while (to < footers.length && rows < base.layout.rows) rows += footers[to++]!.layout.rows;
  const run = footers.slice(from, to);
  if (rows !== base.layout.rows || run.length < 2 || !joinableLayouts(run.map((f) => f.layout))) return undefined;
  return (await keysFollow(run, base)) ? to : undefined;
}

/** A file's first and last key (epoch microseconds) from its key column's statistics; undefined when it has no rows or they do not say. */
function keyRange(metadata: FileMetaData): { min: number; max: number } | undefined {
  if (Number(metadata.num_rows) === 0) return undefined;
  const index = metadata.schema.slice(1).findIndex((e) => e.name === KEY_COLUMN);
  const stats = metadata.row_groups.map((g) => g.columns[index]?.meta_data?.statistics);
  // hyparquet gives timestamp statistics as Dates (millisecond precision: keys are whole minutes).
  const micros = (v: unknown) => (v instanceof Date ? v.getTime() * 1000 : NaN);
  const min = Math.min(...stats.map((s) => micros(s?.min_value ?? s?.min)));
  const max = Math.max(...stats.map((s) => micros(s?.max_value ?? s?.max)));
  return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : undefined;
}

/**
 * Shards with rows a run must hold to be read once and staged (extractBatches.ts). Only tables read
 * from parquet files (bqx's file tables are views over them) gain: a native DuckDB table's scan
 * skips to a shard's rows cheaply, and staging one (232 columns, 20,000 rows, 19 day shards) took
 * 5.0-5.4 s against 2.7 s. A file table: 5.0 s against 6.1 s there, 31 s against 212 s at 177,748
 * rows; with month shards at 177,748 rows (two shards per run within the memory reservation) 24 s
 * against 18 s, so a run of two is read shard by shard.
 */
const STAGED_SHARDS = 3;

/** A previous dataset's file of a shard and group, with the parts after it where a refresh grew the shard. */
type EarlierFile = Pick<StitchSource, 'file' | 'layout' | 'then'>;

/**
 * The previous dataset's file of every shard and group a merge builds (MergeJob `previous`), each
 * read and checked: the base's row groups and keys, and every column of the group's unchanged
 * features; a shard a refresh grew by parts is its files joined page for page (StitchSource
 * `then`), as joinedRun joins a checkpoint's. Undefined when any is missing or differs: then
 * every feature is aligned as usual.
 */
async function previousParts(
  files: NonNullable<MergeJob['previous']>['files'],
  changed: ReadonlySet<string>,
  bases: readonly Base[],
  plan: MergePlan,
  manifest: MergeJob['manifest'],
  uri: (object: string) => string,
): Promise<Map<string, Map<number, EarlierFile>> | undefined> {
  const outputs = new Map(manifest.features.map((f) => [f.feature, f.columns.map((c) => c.output)]));
  // Per group, the output columns its unchanged features must find in the earlier file.
  const wanted = new Map(plan.groups.map((g) => [g.index, g.members.filter((m) => !changed.has(m.feature)).flatMap((m) => outputs.get(m.feature) ?? [])]));
  const parts = new Map<string, Map<number, EarlierFile>>();
  for (const base of bases) {
    const byGroup = new Map<number, EarlierFile>();
    for (const group of plan.groups) {
      const objects = files[base.shard.id]?.[group.index] ?? [];
      if (objects.length === 0) return undefined;
      let read: { file: string; layout: FooterLayout }[];
      try {
        read = objects.map((o) => ({ file: uri(o), layout: readLayout(uri(o)) }));
      } catch {
        return undefined; // gone or unreadable: align instead
      }
      const [{ file, layout }, ...then] = read as [{ file: string; layout: FooterLayout }, ...{ file: string; layout: FooterLayout }[]];
      const names = new Set(layout.schema.map((e) => e.name));
      if (!wanted.get(group.index)!.every((c) => names.has(c))) return undefined;
      if (then.length === 0 ? !(await sameKeys(file, layout, base)) : (await joinedRun(read, 0, base)) !== read.length) return undefined;
      byGroup.set(group.index, { file, layout, ...(then.length > 0 ? { then } : {}) });
    }
    parts.set(base.shard.id, byGroup);
  }
  return parts;
}

/** The first of `length` indexes, trying `from` onwards then wrapping round, for which `test` holds. */
async function findFrom(length: number, from: number, test: (index: number) => Promise<boolean>): Promise<number | undefined> {
  for (let k = 0; k < length; k++) {
    const i = (from + k) % length;
    if (await test(i)) return i;
  }
  return undefined;
}

interface AlignedPart {
  file: string;
  /** Its footer's layout; read again at the stitch where it was not kept (KeptLayouts). */
  layout?: FooterLayout;
  columns: Set<string>;
  /** Files whose rows follow this one's in the shard, joined page for page at the stitch (joinedRun). */
  then?: { file: string; layout: FooterLayout }[];
}

/**
 * Footer bytes and layouts of aligned parts the merge keeps for the stitch: 64 MB. A part takes about
 * 3 KB (11,796 parts at 20,000 rows on day shards: 36 MB, all kept). Past it a part keeps its name
 * only and its footer is read again, once, when stitched (the real data's 72 month shards have
 * 48,000 parts): kept all, they grew the merge's memory by the shard, gigabytes for years of days.
 */
const KEPT_LAYOUT_BYTES = 64 * 2 ** 20;

class KeptLayouts {
  private bytes = 0;
  /** Parts whose layout was not kept. */
  dropped = 0;
  constructor(private readonly maxBytes: number) {}

  /** `part`, without its layout once the layouts kept reach the limit. */
  part(part: AlignedPart): AlignedPart {
    if (!part.layout) return part;
    const bytes = layoutBytes(part.layout);
    if (this.bytes + bytes > this.maxBytes) {
      this.dropped++;
      return { file: part.file, columns: part.columns, ...(part.then ? { then: part.then } : {}) };
    }
    this.bytes += bytes;
    return part;
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
  return Math.ceil((rows * extractBytesPerRow(columns)) / 2 ** 20);
}

/** The rows of a table of `columns` whose extract holds at most `mb` (extractEstimateMb, inverted). */
function extractRowsWithin(mb: number, columns: number): number {
  return Math.floor((mb * 2 ** 20) / extractBytesPerRow(columns));
}

/** Three copies of a row (the key and `columns` values), 8 bytes a value. */
const extractBytesPerRow = (columns: number) => (columns + 1) * 8 * 3;

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
function keyChunks(file: string, layout: FooterLayout): Buffer[] {
  const index = layout.schema.findIndex((e) => e.name === KEY_COLUMN);
  if (index < 0) throw new Error(`${file} has no ${KEY_COLUMN} column`);
  const fd = openSync(file, 'r');
  try {
    return layout.rowGroups.map((g) => readSpan(fd, chunkStart(g, index), g.compressedSize[index]!));
  } finally {
    closeSync(fd);
  }
}

/**
 * True when `file` has the base's row groups and the same keys in them: byte-identical key chunks
 * (DuckDB wrote both), or byte-identical to those of a file stored the same way already found to
 * hold them (`Base.matched`), or else equal key values (a refresh's joined shard holds its keys in
 * the pages of two writes: parquetStitch.ts `joinRows`).
 * The keyed extract writes every checkpoint's key chunk of a shard alike, never as DuckDB wrote the
 * labels': each check decoded its keys (a day-shard merge at 20,000 rows checks 12,700 of them,
 * about 1.2 s of the chain's thread). Now the first of each shard and form is decoded, and the
 * rest of that form compared with it byte for byte; a file whose keys differ is still decoded.
 */
async function sameKeys(file: string, layout: FooterLayout, base: Base): Promise<boolean> {
  if (layout.rowGroups.length !== base.layout.rowGroups.length) return false;
  if (layout.rowGroups.some((g, i) => g.rows !== base.layout.rowGroups[i]!.rows)) return false;
  const index = layout.schema.findIndex((e) => e.name === KEY_COLUMN);
  if (index < 0) return false;
  let read: Buffer[] | undefined;
  const chunks = () => (read ??= keyChunks(file, layout));
  // The sizes in the footer first: the chunks are read only where every one could be equal.
  const sameBytes = (other: readonly Buffer[]) => layout.rowGroups.every((g, i) => g.compressedSize[index] === other[i]!.length) && chunks().every((k, i) => k.equals(other[i]!));
  if (sameBytes(base.keys)) return true;
  const form = keyForm(layout, index);
  // One check of a form decodes at a time: those of the same form wait for its chunks.
  for (let pending = base.deciding?.get(form); pending; pending = base.deciding?.get(form)) await pending;
  const known = base.matched?.get(form);
  if (known && sameBytes(known)) return true;
  // Another shard's file of as many rows is told apart by its first and last key, undecoded.
  const metadata = projectMetadata(layout, [KEY_COLUMN]);
  const [mine, theirs] = [keyRange(metadata), keyRange(base.metadata)];
  if (mine && theirs && (mine.min !== theirs.min || mine.max !== theirs.max)) return false;
  base.decoded = (base.decoded ?? 0) + 1;
  if (known) return keysFollow([{ file, layout }], base);
  let decided!: () => void;
  (base.deciding ??= new Map()).set(form, new Promise<void>((resolve) => (decided = resolve)));
  try {
    const same = await keysFollow([{ file, layout }], base);
    if (same) (base.matched ??= new Map()).set(form, chunks());
    return same;
  } finally {
    base.deciding.delete(form);
    decided();
  }
}

/**
 * How a file stores its key column, all a decoder needs besides the chunks' bytes: the physical
 * type, repetition and unit, and each row group's codec.
 */
function keyForm(layout: FooterLayout, index: number): string {
  const node = layout.schema[index]!;
  return [node.type, node.repetition, node.convertedType, ...layout.rowGroups.map((g) => g.codec[index])].join('/');
}

/**
 * True when the keys of `files`, one file after another, are the shard base's keys. Keys stored in
 * microseconds are compared as stored, byte for byte (converting each to a number was most of a
 * 177,748-row merge's alignment); others as numbers: the keys already read, and where they could
 * not be read here, hyparquet reads them (keyMicros would only read them again and fail the same way).
 */
async function keysFollow(files: readonly { file: string; layout: FooterLayout }[], base: Base): Promise<boolean> {
  const stored = files.map((f) => rawKeys(f.file, f.layout));
  const baseStored = stored.every((k) => k?.perMs === MICROS_PER_MS) ? await baseMicros(base) : null;
  let at = 0;
  if (baseStored) {
    for (const k of stored) {
      if (!sameBytes(k!.values, baseStored.subarray(at, at + k!.values.length))) return false;
      at += k!.values.length;
    }
    return at === baseStored.length;
  }
  const baseKeyValues = await baseKeys(base);
  for (const [i, f] of files.entries()) {
    const keys = stored[i] ? rawToMicros(stored[i]!) : await readKeyColumn(await asyncBufferFromFile(f.file), projectMetadata(f.layout, [KEY_COLUMN]));
    for (let r = 0; r < keys.length; r++) if (keys[r] !== baseKeyValues[at + r]) return false;
    at += keys.length;
  }
  return at === baseKeyValues.length;
}

/** Whether two arrays hold the same bytes. */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Features being lined up in the background (alignInOrder). */
interface LineUp {
  /** Resolves once every member of `group` that is lined up here is; rejects with the first failure of any. */
  ready(group: { members: readonly { feature: string }[] }): Promise<void>;
  /** Starts no further feature and resolves once those under way have ended (never rejects). */
  stop(): Promise<void>;
}

/**
 * Runs `body` for each of `features`, `limit` at a time, in the order `groups` name them (a
 * feature named by several at its first), without waiting: the caller waits per group (`ready`).
 * After a failure none is started any more, and every feature not yet done fails with it.
 */
function alignInOrder<F extends { feature: string }>(features: readonly F[], groups: readonly { members: readonly { feature: string }[] }[], limit: number, body: (f: F) => Promise<void>): LineUp {
  const byName = new Map(features.map((f) => [f.feature, f]));
  const order = [...new Set(groups.flatMap((g) => g.members.map((m) => m.feature)))].filter((n) => byName.has(n));
  const settle = new Map<string, { resolve: () => void; reject: (e: unknown) => void }>();
  const done = new Map<string, Promise<void>>();
  for (const name of order) {
    const promise = new Promise<void>((resolve, reject) => settle.set(name, { resolve, reject }));
    promise.catch(() => {}); // a failure is the caller's through ready(), if it asks
    done.set(name, promise);
  }
  let stopped = false;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stopped && next < order.length) {
      const name = order[next++]!;
      try {
        // A feature's alignment mostly awaits promises already settled (its reads are synchronous):
        // without a turn of the event loop between features, the stitch's copies (libuv callbacks)
        // would wait for the whole alignment to end.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await body(byName.get(name)!);
        settle.get(name)!.resolve();
      } catch (error) {
        stopped = true;
        for (const n of order) settle.get(n)!.reject(error); // those done already stay resolved
      }
    }
  };
  const running = Promise.all(Array.from({ length: Math.max(1, Math.min(limit, order.length)) }, worker));
  return {
    ready: async (group) => {
      await Promise.all(group.members.map((m) => done.get(m.feature)).filter((p) => p !== undefined));
    },
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

function isoOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  // DuckDB returns TIMESTAMPTZ values as objects whose micros count from the epoch.
  const micros = (value as { micros?: bigint }).micros;
  if (typeof micros === 'bigint') return new Date(Number(micros / 1000n)).toISOString();
  return new Date(String(value)).toISOString();
}
