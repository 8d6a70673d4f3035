// Ports: the small interfaces the core talks to. Adapters implement them: `adapters/local`
// (DuckDB, a folder, an in-process bus, an embedded store) and `adapters/gcp` (BigQuery, Cloud
// Storage, Pub/Sub, Firestore). Only adapters import client libraries.

import type { RunManifest } from './manifest.js';
import type { MergePlan } from './planner.js';
import type { Shard } from './shards.js';
import type { ColumnComparison, CompareJob, ProfileData, ProfileJob } from './profile/types.js';

export interface LogFields {
  runId?: string;
  pair?: string;
  feature?: string;
  step?: string;
  [field: string]: unknown;
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface Clock {
  now(): Date;
}

/** A half-open time window [start, end), as ISO-8601 UTC strings. */
export interface Window {
  start: string;
  end: string;
}

export interface ColumnInfo {
  name: string;
  /** Warehouse type, normalised to BigQuery's names: TIMESTAMP, FLOAT64, INT64, STRING, ... */
  type: string;
}

export interface CatalogTable {
  table: string;
  columns: ColumnInfo[];
}

export interface LabelStats {
  rows: number;
  /** First and last key (ISO) present, or null when the table (or window) is empty. */
  minKey: string | null;
  maxKey: string | null;
}

export interface ExtractJob {
  runId: string;
  pair: string;
  feature: string;
  dataset: string;
  /** Source columns to keep, besides the key; metadata columns are already left out. */
  columns: string[];
  window: Window;
  /** Object-name prefix in the staging store; files go under it as part-NNNNN.parquet (BigQuery: in a folder per export attempt). */
  prefix: string;
  /**
   * The window's time shards. A runtime that stitches checkpoints (embedded) writes no row group
   * across a shard boundary, so a shard is a run of whole row groups; others may ignore it.
   */
  shards: Shard[];
  /**
   * A refresh's partial last shard: checkpoint files holding that cell's rows before window.start.
   * A runtime may write them with the new rows of the first shard as one file and say so
   * (`carried`; embedded, where its merge could not join the files' pages, or once enough files
   * hold the shard); otherwise the chain keeps them as they are.
   */
  carry?: string[];
  /**
   * The table as the run froze it: its data version of `range`'s rows (Warehouse.dataVersions) at
   * time `at`. A warehouse that keeps earlier versions of a table reads it as of `at`
   * (`readsTablesAsOf`); one that keeps none checks that the version has not moved, and throws
   * TableChangedError if it has. Absent: the table as it is now.
   */
  asOf?: { at: string; version: string; range: Window };
}

/**
 * A table the run froze has changed and cannot be read as it was (embedded: no earlier versions
 * kept; BigQuery: older than its time-travel window). No retry can help: the run must start again.
 */
export class TableChangedError extends Error {
  constructor(readonly table: string, message: string) {
    super(message);
    this.name = 'TableChangedError';
  }
}

export type Pending = { state: 'pending'; detail: string };

/**
 * Thrown by a warehouse's `profile` or `compareColumns` whose jobs still run when its wait ends
 * (BigQuery: BQX_JOB_WAIT_SECONDS): the profile is many calls deep in the core, so it travels as an
 * error to the merge handler, which sends a follow-up; the next call attaches to the same jobs
 * (their ids are deterministic) instead of starting them again.
 */
export class WorkPending extends Error {
  constructor(readonly pending: Pending) {
    super(pending.detail);
    this.name = 'WorkPending';
  }
}

export type ExtractResult =
  | {
      state: 'done';
      /** Object names of the parquet files written, in key order. */
      files: string[];
      rows: number;
      sourceRows: number;
      duplicates: number;
      /** Rows taken from `carry` into the first file (not counted in rows): the carry files are replaced. */
      carried?: number;
      /** Bytes the extract's jobs billed, where the warehouse bills by them (BigQuery). */
      bytesBilled?: number;
    }
  | Pending;

export interface MergeJob {
  runId: string;
  pair: string;
  window: Window;
  manifest: RunManifest;
  plan: MergePlan;
  /** Checkpoint parquet object names per feature, in the staging store. */
  checkpoints: Record<string, string[]>;
  /** Object-name prefix in the output store. */
  outputPrefix: string;
  /** The window's time shards: each (shard, group) is written by its own bounded step. */
  shards: Shard[];
  /**
   * A run of the same window and label rows as the previous dataset where only `changed` features
   * changed: that dataset's files of each (shard id, group index) built (several: a shard a refresh
   * grew by parts, the rows of each after the one before). Every other feature's
   * columns there hold the same values in the same rows, so a merge may copy them from it rather
   * than align the feature's checkpoint again (shared/chain/shareShards.ts); one may also ignore it.
   */
  previous?: { files: Record<string, Record<number, string[]>>; changed: string[] };
}

export interface MergedGroup {
  index: number;
  files: string[];
  rows: number;
  columns: string[];
  bytes: number;
  /** Distinct keys in the group's output: must equal rows. */
  distinctKeys: number;
  /** Keys strictly ascending, file after file, and the same sequence as every other group of its shard (checked against the shard's label keys, or its group 0's). */
  keysInOrder: boolean;
}

/** One time shard of the output: its column groups hold the same rows, in the same order. */
export interface MergedShard {
  index: number;
  id: string;
  start: string;
  end: string;
  rows: number;
  /** Per group: the files of this shard only; keysInOrder compares within this shard. */
  groups: MergedGroup[];
  /** Every key of the shard within [start, end). */
  keysInRange: boolean;
}

export type MergeResult =
  | {
      state: 'done';
      /** Per column group over all shards: files in shard order (the layout readers of groups know). */
      groups: MergedGroup[];
      /** Shards with at least one label row, in time order; a shard with none has no files. */
      shards: MergedShard[];
      rows: number;
      /** Features whose columns were copied from the previous dataset's files (MergeJob `previous`), where the warehouse did so. */
      fromPrevious?: number;
      /** The staged joins' bytes as dry runs price them (BigQuery), and their cost. */
      bytesProcessed?: number;
      costUsd?: number;
      /** Bytes the merge's jobs billed (loads, joins, exports), where the warehouse bills by them. */
      bytesBilled?: number;
    }
  | Pending;

/**
 * A feature view (`bqx view`): chosen columns of a finished dataset written as a dataset of their
 * own, from the dataset's files, without extracting anything (shared/view/).
 */
export interface ViewJob {
  runId: string;
  pair: string;
  name: string;
  key: string;
  /** The source dataset's column groups (key first). */
  sourceGroups: { index: number; columns: string[] }[];
  /** The source's time shards: per source group, its output objects in key order. */
  shards: { id: string; start: string; end: string; rows: number; groups: { index: number; files: string[] }[] }[];
  /** The view's column groups, key first, every column one of the source's. */
  groups: { index: number; columns: string[] }[];
  /** Object-name prefix of the view in the output store, ending with `/`. */
  outputPrefix: string;
}

export interface ViewShard {
  id: string;
  start: string;
  end: string;
  rows: number;
  groups: { index: number; files: string[]; rows: number; bytes: number }[];
}

export type ViewResult = { state: 'done'; shards: ViewShard[]; bytesProcessed?: number; costUsd?: number } | Pending;

export interface MergeProgress {
  step: string;
  done: number;
  total: number;
}

export interface Warehouse {
  /**
   * Whether its checkpoints' files follow the run's shard grid (ExtractJob.shards). Where they do
   * (embedded: its merge stitches them), a checkpoint cut by another grid must be aligned shard by
   * shard, so the shard unit is part of the checkpoint's fingerprint (shared/fingerprint.ts) and a
   * changed unit extracts again. BigQuery joins its checkpoints whatever their files.
   */
  readonly checkpointsFollowShards: boolean;
  /**
   * Whether it reads a table as it was at an earlier time (ExtractJob.asOf; BigQuery's time travel,
   * within its window). Where it cannot (embedded), a run whose tables changed after it started
   * cannot be finished consistently: a new run request supersedes it (startRun).
   */
  readonly readsTablesAsOf: boolean;
  /** Tables and their columns in a dataset, from INFORMATION_SCHEMA. */
  listTables(dataset: string): Promise<CatalogTable[]>;
  /**
   * The data version of each named table: a string that changes whenever the table's data
   * changes (BigQuery: its partitions' last modification; embedded: recorded by every bqx write).
   * null where the warehouse cannot tell, and such a table's checkpoints are never reused.
   * With `range`: the version of the table's rows with keys in [range.start, range.end), which
   * stays put when only rows outside it are written; where the warehouse cannot tell rows apart,
   * it is the whole table's version (never too old).
   */
  dataVersions(dataset: string, tables: readonly string[], range?: Window): Promise<Record<string, string | null>>;
  /** Rows and key range of the label table, optionally within a window. */
  labelStats(dataset: string, table: string, window?: Window): Promise<LabelStats>;
  extract(job: ExtractJob): Promise<ExtractResult>;
  merge(job: MergeJob, progress?: (p: MergeProgress) => void): Promise<MergeResult>;
  /** One pass over an output dataset's columns: statistics, key gaps and a small sample (shared/profile). `progress`: batches of columns done. */
  profile(job: ProfileJob, progress?: (p: MergeProgress) => void): Promise<ProfileData>;
  /**
   * Column pairs compared row by row (one shifted), on a deterministic sample of rows. `billed`:
   * told the bytes the comparison's jobs billed, where the warehouse bills by them (BigQuery).
   */
  compareColumns(job: CompareJob, billed?: (bytes: number) => void): Promise<ColumnComparison[]>;
  /** Writes a feature view from an existing dataset's files (one file per shard and view group). */
  view(job: ViewJob): Promise<ViewResult>;
  close(): Promise<void>;
}

export interface StoredObject {
  name: string;
  size: number;
}

/**
 * An object's contents: bytes, text (UTF-8), or parts written one after another, so that a large
 * object made of many arrays (a stored profile's sample: 17,038 columns, 80 MB) is written without
 * first being copied into one.
 */
export type ObjectData = Uint8Array | string | readonly Uint8Array[];

/** The contents as one array of bytes (a store that keeps or sends objects whole). */
export function objectBytes(data: ObjectData): Uint8Array {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  return data.length === 1 ? data[0]! : Buffer.concat(data);
}

/** The sizes of `names` by name (ObjectStore.sizes: one call for all of them), undefined where absent. */
export async function sizesByName(store: Pick<ObjectStore, 'sizes'>, names: readonly string[]): Promise<Map<string, number | undefined>> {
  const sizes = await store.sizes(names);
  return new Map(names.map((name, i) => [name, sizes[i]]));
}

export interface ObjectStore {
  /** Bucket name (GCS) or folder (local). */
  readonly bucket: string;
  /** Where the warehouse finds an object: gs://bucket/name, or an absolute file path. */
  uri(name: string): string;
  /** Writes an object; with ifAbsent, returns false (and writes nothing) when it exists. */
  write(name: string, data: ObjectData, options?: { ifAbsent?: boolean; contentType?: string }): Promise<boolean>;
  read(name: string): Promise<Uint8Array>;
  /**
   * Copies object `from` whole to `to`, as a write of its bytes would (replacing any object
   * there): in the bucket, without the bytes passing through the caller (Cloud Storage's copy; a
   * copy the kernel makes in a folder, a clone where the file system shares blocks, never a hard
   * link). Throws where `from` is absent.
   */
  copy(from: string, to: string): Promise<void>;
  /** Bytes [start, end) of an object. */
  readRange(name: string, start: number, end: number): Promise<Uint8Array>;
  /**
   * Bytes a parquet footer read fetches first, from the end of the object (default 512 KiB: on a
   * remote store one round trip then covers nearly every footer). A local store sets it low, since
   * a second read costs no round trip and the default read small files whole.
   */
  readonly footerPrefetchBytes?: number;
  /** Size in bytes, or undefined when the object does not exist. */
  size(name: string): Promise<number | undefined>;
  /**
   * The sizes of many objects, in order (undefined where absent), as the store answers them
   * cheapest: a folder stats each file; Cloud Storage lists the folders they lie in, where a size
   * is a request per object (a reused checkpoint at full size has 72 files, checked for 667 tables).
   */
  sizes(names: readonly string[]): Promise<(number | undefined)[]>;
  list(prefix: string): Promise<StoredObject[]>;
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Deletes these objects, by exact name (one absent is passed over); returns how many were
   * there. What retention removes among files it keeps: no listing per object, and no object
   * whose name merely begins with one of these is touched.
   */
  deleteObjects(names: readonly string[]): Promise<number>;
  /**
   * What this store can still hold, where that is bounded (a folder: its file system's free
   * bytes), or undefined where it is not (a bucket). A run checks it before writing anything.
   */
  room(): Promise<Room | undefined>;
}

/** Free space behind a store. `volume` names the file system, so two stores on one count once. */
export interface Room {
  free: number;
  volume: string;
  /** Where the space is, for the message that says it is short. */
  where: string;
}

/** A storage "object finalized" notification, as Cloud Storage sends it (trimmed). */
export interface FinalizedObject {
  bucket: string;
  name: string;
  size: number;
  generation?: string;
}

export interface MessageBus {
  /** Publishes one message; resolves with its id. */
  publish(topic: string, data: unknown, attributes?: Record<string, string>): Promise<string>;
  /** Publishes many messages to one topic, batched; resolves with their ids. */
  publishMany(topic: string, items: { data: unknown; attributes?: Record<string, string> }[]): Promise<string[]>;
}

import type { RefreshInfo } from './chain/refresh.js';
import type { Gate } from './profile/gates.js';

export type RunState = 'extracting' | 'merging' | 'succeeded' | 'failed';
export const TERMINAL_STATES: readonly RunState[] = ['succeeded', 'failed'];

export interface Transition {
  state: RunState;
  at: string;
  reason?: string;
}

export interface RunOutput {
  manifest: string;
  report: string;
  rows: number;
  columns: number;
  files: string[];
  bytes: number;
}

export interface ReuseCounts {
  reused: number;
  extracted: number;
  /** Extracted features per reason: `new table`, `data changed`, ... */
  reasons: Record<string, number>;
}

export interface RunRecord {
  runId: string;
  pair: string;
  state: RunState;
  createdAt: string;
  updatedAt: string;
  window: Window;
  /** Distinct features that must land: from the frozen manifest, never a constant. */
  expected: number;
  /** Label rows in the window: what the output must have. */
  labelRows: number;
  manifestObject: string;
  transitions: Transition[];
  /** Times the reconciler re-sent work for this run. */
  reconcileAttempts: number;
  /** Merge attempts (claims) so far. */
  mergeAttempts: number;
  output?: RunOutput;
  error?: string;
  warnings: string[];
  timings: Record<string, number>;
  bytesProcessed?: number;
  /** What the run's BigQuery work cost on demand: its billed bytes (bytesBilled) where reported, else the merge's dry runs. */
  costUsd?: number;
  /** Bytes the run's jobs billed: extracts, merge, profile column pass (shared/cost.ts billedBytes). */
  bytesBilled?: number;
  /**
   * What retention removed of the run (shared/retention.ts): `checkpoints` for a kept dataset
   * whose checkpoints no newer run points at, `all` for a run past the kept ones. The record
   * itself stays, as history. `left`: files of its output folder that a kept dataset still
   * listed then (shards shared by reference); they go once none does (a later retention, which
   * checks these names against the kept datasets' lists without listing the folder).
   */
  collected?: { at: string; scope: 'checkpoints' | 'all'; left?: string[] };
  /** How many checkpoints were reused from earlier runs (by content) and extracted, and why extracted. */
  reuse?: ReuseCounts;
  /**
   * The quality gates the run was started with (BQX_GATES and `--gate`), and those a rerun added:
   * its merge checks these, so a rerun in a process with other settings cannot drop a `fail` gate
   * the run failed. Absent on records from before: the merge's own configuration then.
   */
  gates?: Gate[];
  /** Set on a refresh (shared/chain/refresh.ts): the version it follows and the schema drift since. */
  refresh?: RefreshInfo;
  /**
   * Output shards this run takes by reference from an earlier dataset of the pair (a refresh, or a
   * run whose window and checkpoints are all unchanged), and those it builds (shareShards.ts).
   * `groups`: the rebuilt shards build only these column groups and take their others from it
   * (a run of the same window where only some features changed).
   */
  sharing?: { from: string; shared: string[]; rebuilt: string[]; groups?: number[]; changed?: string[]; moved?: Record<number, number>; grown?: { id: string; from: string; relabelled?: boolean }[]; relabelled?: string[] };
  /** Rows read from the warehouse: by the extracts (all features) and the merge (label rows of the shards it built). */
  rowsRead?: { features: number; labels: number };
  /** When the run's outcome event was published: a finished run without it has its event sent again. */
  outcomeSentAt?: string;
  /** The request message that started the run: a redelivery of it gets this run, never a second one. */
  requestId?: string;
}

/** A file's key range, from its footer's statistics (both null: the file has no rows). */
export interface FileKeys {
  minKey: string | null;
  maxKey: string | null;
}

export interface CheckpointRecord {
  runId: string;
  feature: string;
  landedAt: string;
  files: string[];
  rows: number;
  sourceRows: number;
  duplicates: number;
  /** Null count per output column of the feature. */
  nullCounts: Record<string, number>;
  minKey: string | null;
  maxKey: string | null;
  /**
   * Each file's key range, in the order of `files`, as the landing read them: a refresh and its
   * merge find the files a range needs from these instead of reading footers again (absent from
   * records written before it was kept).
   */
  fileKeys?: FileKeys[];
  bytes: number;
  /** The run whose checkpoint this is, when it was reused rather than extracted by this run. */
  reusedFrom?: string;
  /**
   * The fingerprint its reuse index entry is under (shared/chain/reuse.ts), where it has one:
   * retention keeps the entries that the records it keeps name (absent from records written before).
   */
  fingerprint?: string;
  /** Rows this run's extract read from the warehouse for it (absent: reused, or uploaded by hand). */
  readRows?: number;
  /** Bytes this run's extract billed (absent: reused, uploaded by hand, or embedded). */
  bytesBilled?: number;
}

/**
 * How long a refusal is kept: whoever sent the request asks within seconds. Firestore removes it by
 * a TTL policy on `refusals.expireAt` (terraform/main.tf); the file store when it records another.
 */
export const REFUSAL_DAYS = 30;

/** When a refusal expires (ms since the epoch): REFUSAL_DAYS after it was recorded. */
export const refusalExpiry = (refusal: Pick<Refusal, 'at'>) => Date.parse(refusal.at) + REFUSAL_DAYS * 86_400_000;

/** A run request startRun refused for good. */
export interface Refusal {
  requestId: string;
  pair: string;
  reason: string;
  at: string;
}

export interface RunStore {
  /** Creates the run unless its pair has an active run; then returns that one, unchanged. */
  createRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  activeRun(pair: string): Promise<RunRecord | undefined>;
  lastRun(pair: string): Promise<RunRecord | undefined>;
  /** Every run of a pair, any state, oldest first (retention reads this). */
  listRuns(pair: string): Promise<RunRecord[]>;
  /** Runs not yet succeeded or failed. */
  listActiveRuns(): Promise<RunRecord[]>;
  /**
   * Changes a run in a transaction: `change` gets the current record and returns the new one, or
   * undefined to leave it. Resolves with the stored record and whether it changed. A run that
   * becomes terminal frees its pair; one that leaves a terminal state claims it again (and the
   * change is refused if the pair has another active run).
   */
  updateRun(runId: string, change: (run: RunRecord) => RunRecord | undefined): Promise<{ run: RunRecord; changed: boolean }>;
  /**
   * Creates the named claim of a run if it does not exist; true for the one caller that created
   * it. A create-if-absent record, not a transaction on the run: a burst of callers costs one
   * write each and none waits on another.
   */
  claimOnce(runId: string, claim: string): Promise<boolean>;
  /** Records a landed checkpoint if the feature has none yet; true when this call created it. */
  recordCheckpoint(record: CheckpointRecord): Promise<boolean>;
  countCheckpoints(runId: string): Promise<number>;
  listCheckpoints(runId: string): Promise<CheckpointRecord[]>;
  /** One feature's checkpoint record of a run, if recorded (a refresh's landing extends it). */
  getCheckpoint(runId: string, feature: string): Promise<CheckpointRecord | undefined>;
  deleteCheckpoint(runId: string, feature: string): Promise<void>;
  /**
   * Keeps why startRun refused a request for good (bad input), by the request's id (its message
   * id), so that whoever sent it can say why instead of waiting for a run that never comes.
   */
  recordRefusal(refusal: Refusal): Promise<void>;
  getRefusal(requestId: string): Promise<Refusal | undefined>;
  close(): Promise<void>;
}
