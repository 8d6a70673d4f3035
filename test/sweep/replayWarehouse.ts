// One DuckDB warehouse for every simulated run of a sweep, with each job's result kept by the
// content of its inputs. An extract is a function of (table, columns, window) and the merge a
// function of its plan and the bytes of its checkpoints, so a job whose inputs were seen before
// gets the same bytes written again, the way the real job would write them (finalize events
// included), in a few milliseconds instead of a DuckDB query. A job with new inputs (say, a
// checkpoint that came out different after a crash) runs for real, so the output comparison still
// sees what the chain really built. Reads (catalog, data versions, label stats) are answered from
// memory; the profile and column comparisons, kept by the bytes of the output they read, likewise.
// A scenario that changes tables (touchScenario.ts) says so (`tablesChanged`): the reads are asked
// again, and extracts, whose keys do not name the tables' versions, are kept anew.

import { createHash } from 'node:crypto';
import { bytesDigest } from './digest.js';
import type { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import type { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import type { CatalogTable, ExtractJob, ExtractResult, LabelStats, MergedGroup, MergedShard, MergeJob, MergeResult, ObjectStore, Warehouse } from '../../shared/ports.js';
import type { ColumnComparison, CompareJob, ProfileData, ProfileJob } from '../../shared/profile/types.js';

interface Kept {
  /** Object names relative to the job's prefix, with their bytes. */
  files: { name: string; bytes: Uint8Array }[];
}
type KeptExtract = Kept & { rows: number; sourceRows: number; duplicates: number; carried?: number };
/** File names in groups and shards are kept relative to the job's output prefix. */
type KeptMerge = Kept & { groups: MergedGroup[]; shards: MergedShard[]; rows: number; fromPrevious?: number };

export class SharedWarehouse {
  readonly stats = { extractsRun: 0, extractsReplayed: 0, mergesRun: 0, mergesReplayed: 0, readsRun: 0, readsReplayed: 0 };
  private catalogs = new Map<string, Promise<CatalogTable[]>>();
  private versions = new Map<string, Promise<Record<string, string | null>>>();
  /** Profiles and comparisons by the content of what they read. */
  private outputReads = new Map<string, Promise<unknown>>();
  private scratchReads = 0;
  private labels = new Map<string, Promise<LabelStats>>();
  private extracts = new Map<string, KeptExtract>();
  private merges = new Map<string, KeptMerge>();
  /** Real jobs run one at a time: they share the scratch stores below. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped whenever the tables change: part of every extract's key. */
  private tablesVersion = 0;

  /** `staging` and `output` are the scratch stores the DuckDB warehouse was opened with. */
  constructor(readonly duckdb: DuckDbWarehouse, private staging: FolderObjectStore, private output: FolderObjectStore) {}

  /** The Warehouse port for one simulated run, writing into its own stores. */
  for(staging: ObjectStore, output: ObjectStore): Warehouse {
    return {
      checkpointsFollowShards: this.duckdb.checkpointsFollowShards,
      readsTablesAsOf: this.duckdb.readsTablesAsOf,
      listTables: (dataset) => this.memo(this.catalogs, dataset, () => this.duckdb.listTables(dataset)),
      // The demo tables do not change during a sweep: their versions are read once.
      dataVersions: (dataset, tables, range) => this.memo(this.versions, JSON.stringify([dataset, tables, range]), () => this.duckdb.dataVersions(dataset, tables, range)),
      profile: (job) => this.readOutput(job, output, (j) => this.duckdb.profile(j)) as Promise<ProfileData>,
      compareColumns: (job) => this.readOutput(job, output, (j) => this.duckdb.compareColumns(j)) as Promise<ColumnComparison[]>,
      labelStats: (dataset, table, window) => this.memo(this.labels, JSON.stringify([dataset, table, window]), () => this.duckdb.labelStats(dataset, table, window)),
      extract: (job) => this.extract(job, staging),
      merge: (job) => this.merge(job, staging, output),
      // A view is made from a finished dataset by `bqx view`, never by a run: nothing to replay.
      view: () => Promise.reject(new Error('views are not part of a run: the sweep does not simulate them')),
      close: async () => {},
    };
  }

  /** The warehouse's tables were changed (by the caller, on `duckdb`): nothing read or extracted before holds. */
  tablesChanged(): void {
    this.catalogs.clear();
    this.versions.clear();
    this.labels.clear();
    this.tablesVersion++;
  }

  private memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let value = cache.get(key);
    if (!value) cache.set(key, (value = load()));
    return frozen(value);
  }

  private async extract(job: ExtractJob, staging: ObjectStore): Promise<ExtractResult> {
    // A refresh's extract may carry an earlier checkpoint's files into its first one: their bytes are inputs too.
    const carry = job.carry ?? [];
    const carried = await Promise.all(carry.map(async (n) => bytesDigest(await staging.read(n))));
    const key = JSON.stringify([this.tablesVersion, job.dataset, job.feature, job.columns, job.window, job.shards, carried]);
    let kept = this.extracts.get(key);
    if (kept) this.stats.extractsReplayed++;
    else {
      kept = await this.alone(async () => {
        for (const n of carry) await this.staging.write(n, await staging.read(n));
        try {
          const result = await this.duckdb.extract(job);
          if (result.state !== 'done') throw new Error(`extract of ${job.feature}: ${result.detail}`);
          const files = await take(this.staging, job.prefix, result.files);
          return { files, rows: result.rows, sourceRows: result.sourceRows, duplicates: result.duplicates, ...(result.carried !== undefined ? { carried: result.carried } : {}) };
        } finally {
          await this.staging.deleteObjects(carry);
        }
      });
      this.extracts.set(key, kept);
      this.stats.extractsRun++;
    }
    for (const f of kept.files) await staging.write(job.prefix + f.name, f.bytes);
    return { state: 'done', files: kept.files.map((f) => job.prefix + f.name), rows: kept.rows, sourceRows: kept.sourceRows, duplicates: kept.duplicates, ...(kept.carried !== undefined ? { carried: kept.carried } : {}) };
  }

  private async merge(job: MergeJob, staging: ObjectStore, output: ObjectStore): Promise<MergeResult> {
    const key = await mergeKey(job, staging, output);
    let kept = this.merges.get(key);
    if (kept) this.stats.mergesReplayed++;
    else {
      // The previous version's files a merge may copy unchanged features from (a run after a touch).
      const previous = Object.values(job.previous?.files ?? {}).flatMap((byGroup) => Object.values(byGroup).flat());
      kept = await this.alone(async () => {
        for (const names of Object.values(job.checkpoints)) for (const n of names) await this.staging.write(n, await staging.read(n));
        for (const n of previous) await this.output.write(n, await output.read(n));
        try {
          const result = await this.duckdb.merge(job);
          if (result.state !== 'done') throw new Error(`merge: ${result.detail}`);
          // Every file is in a group's list (groups list all shards' files, in shard order).
          const files = await take(this.output, job.outputPrefix, result.groups.flatMap((g) => g.files));
          const relative = (g: MergedGroup) => ({ ...g, files: g.files.map((f) => f.slice(job.outputPrefix.length)) });
          return { files, groups: result.groups.map(relative), shards: result.shards.map((s) => ({ ...s, groups: s.groups.map(relative) })), rows: result.rows, ...(result.fromPrevious !== undefined ? { fromPrevious: result.fromPrevious } : {}) };
        } finally {
          await this.staging.deletePrefix(`runs/${job.runId}/`);
          await this.output.deleteObjects(previous);
        }
      });
      this.merges.set(key, kept);
      this.stats.mergesRun++;
    }
    for (const f of kept.files) await output.write(job.outputPrefix + f.name, f.bytes);
    const absolute = (g: MergedGroup) => ({ ...g, files: g.files.map((f) => job.outputPrefix + f) });
    return { state: 'done', rows: kept.rows, groups: kept.groups.map(absolute), shards: kept.shards.map((s) => ({ ...s, groups: s.groups.map(absolute) })), ...(kept.fromPrevious !== undefined ? { fromPrevious: kept.fromPrevious } : {}) };
  }

  /**
   * A profile or comparison: a function of the job (less the names of the run and its files) and
   * the bytes it reads; a profile carried on from an earlier scan state (a refresh's), of that
   * state and the earlier sample too. Run for real on copies in the scratch output store, under a
   * folder of its own.
   */
  private async readOutput<J extends ProfileJob | CompareJob>(job: J, output: ObjectStore, run: (job: J) => Promise<unknown>): Promise<unknown> {
    const hash = createHash('sha256');
    // Named files count by their place (their bytes are hashed below): each run's have its own names.
    // (A profile's input also names the files before its snapshot row, for the comparisons counted before it.)
    const { runId: _runId, groups, resume, snapshotPrefix, ...rest } = job as J & { pair?: string; resume?: ProfileJob['resume']; snapshotPrefix?: { files: string[] }[] };
    const counted = (list: { files: string[] }[]) => list.map((g) => ({ ...g, files: g.files.length }));
    hash.update(JSON.stringify({ ...rest, pair: undefined, groups: counted(groups), snapshotPrefix: snapshotPrefix && counted(snapshotPrefix) }));
    for (const g of groups) for (const f of g.files) hash.update(bytesDigest(await output.read(f)));
    if (resume) {
      // Its files are among the groups' (hashed above); the state and the sample are what it carries.
      const { from, groups: resumed, ...kept } = resume;
      hash.update(JSON.stringify({ resumed: counted(resumed), kept, row: from.state.row, columns: from.state.columns }));
      hash.update(new Uint8Array(from.state.values.buffer, from.state.values.byteOffset, from.state.values.byteLength));
      const sample = await Promise.resolve(from.sample).catch(() => undefined);
      hash.update(JSON.stringify(sample ? sample.rows : 'no sample'));
      for (const [column, values] of Object.entries(sample?.values ?? {})) hash.update(column).update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    const key = hash.digest('hex');
    let kept = this.outputReads.get(key);
    if (kept) this.stats.readsReplayed++;
    else {
      kept = this.alone(async () => {
        const folder = `replay-reads/${++this.scratchReads}/`;
        try {
          const copied = [];
          for (const g of groups) {
            const files = [];
            for (const f of g.files) {
              await this.output.write(folder + f, await output.read(f));
              files.push(folder + f);
            }
            copied.push({ ...g, files });
          }
          const moved = resume && { ...resume, groups: resume.groups.map((g) => ({ ...g, files: g.files.map((f) => folder + f) })) };
          return await run({ ...job, groups: copied, ...(moved ? { resume: moved } : {}) });
        } finally {
          await this.output.deletePrefix(folder);
        }
      });
      this.outputReads.set(key, kept);
      this.stats.readsRun++;
    }
    return frozen(kept);
  }

  private alone<T>(body: () => Promise<T>): Promise<T> {
    const run = this.queue.then(body);
    this.queue = run.catch(() => {});
    return run;
  }
}

/** Reads the named objects (under `prefix`) out of a scratch store and removes them from it. */
async function take(store: FolderObjectStore, prefix: string, names: string[]): Promise<{ name: string; bytes: Uint8Array }[]> {
  const files = [];
  for (const n of names) files.push({ name: n.slice(prefix.length), bytes: new Uint8Array(await store.read(n)) });
  await store.deletePrefix(prefix);
  return files;
}

/** What the merge's output depends on: its plan, window, labels, every checkpoint's bytes, and the previous version's files it may copy from. */
async function mergeKey(job: MergeJob, staging: ObjectStore, output: ObjectStore): Promise<string> {
  const hash = createHash('sha256');
  const { manifest } = job;
  hash.update(JSON.stringify([job.plan, job.window, job.shards, manifest.key, manifest.labels, manifest.features, manifest.columnCount, job.previous?.changed ?? null]));
  for (const feature of Object.keys(job.checkpoints).sort()) {
    hash.update(`\n${feature}:`);
    for (const n of job.checkpoints[feature]!) hash.update(bytesDigest(await staging.read(n)));
  }
  for (const [shard, byGroup] of Object.entries(job.previous?.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const [group, names] of Object.entries(byGroup).sort(([a], [b]) => Number(a) - Number(b))) {
      hash.update(`\nprevious ${shard}/${group}:`);
      for (const n of names) hash.update(bytesDigest(await output.read(n)));
    }
  }
  return hash.digest('hex');
}

/**
 * A kept answer, frozen to the bottom and handed out as it is: every simulated run reads the same
 * object, and a handler that changed its plain objects or arrays would throw instead of changing
 * the next run's answer.
 * (A structured clone per call was a tenth of the sweep's time.)
 */
async function frozen<T>(value: Promise<T>): Promise<T> {
  return deepFreeze(await value);
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  for (const inner of Object.values(value as object)) deepFreeze(inner);
  return Object.freeze(value);
}
