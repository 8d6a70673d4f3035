// The warehouse port on BigQuery. Reads (catalog, label statistics) are plain queries; extract and
// merge are walks over deterministic jobs (bigQueryJobs.ts) that can be called again and again:
// each call attaches to what exists, starts what is missing, and returns `pending` rather than
// wait past `config.gcp.jobWaitSeconds`. The SQL itself is in bigQuerySql.ts.

import type { BigQuery, JobMetadata } from '@google-cloud/bigquery';
import type { Config } from '../../config.js';
import { silentLogger, systemClock } from '../../log.js';
import { InputError, assertIdentifier, assertRunId, pairOfRunId, validatePair } from '../../naming.js';
import type {
  CatalogTable,
  Clock,
  ExtractJob,
  ExtractResult,
  LabelStats,
  Logger,
  MergeJob,
  MergeProgress,
  MergeResult,
  MergedGroup,
  MergedShard,
  ObjectStore,
  Pending,
  StoredObject,
  ViewJob,
  ViewResult,
  Warehouse,
  Window,
} from '../../ports.js';
import { TableChangedError, WorkPending } from '../../ports.js';
import { renderExtract, renderExtractCounts, renderLabelStats, renderListTables, normaliseType } from './bigQuerySql.js';
import { ATTEMPT_DIR, BigQueryJobError, JobRunner, attemptDir, type RunContext, type StepSpec } from './bigQueryJobs.js';
import { renderDataVersions } from './bigQueryVersions.js';
import { mergeSteps } from './bigQueryMergeSteps.js';
import { viewBigQuery } from './bigQueryView.js';
import { compareBigQuery, profileBigQuery, type ProfileRunner } from './bigQueryProfile.js';
import type { ColumnComparison, CompareJob, ProfileData, ProfileJob } from '../../profile/types.js';
import { estimateObject, mergeState, recordFinished, type FinishedMerge } from './mergeState.js';
import { estimateCost } from '../../cost.js';
import { mapLimit } from '../../concurrency.js';
import { allWithin, sameSequence } from '../../parquetKeys.js';
import { byGroup, readGroupKeys } from '../../outputShards.js';

export interface BigQueryWarehouseOptions {
  bigquery: BigQuery;
  config: Config;
  staging: ObjectStore;
  output: ObjectStore;
  clock?: Clock;
  logger?: Logger;
  /** How to wait between polls; tests pass one that moves a fake clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Jobs of one merge call running at once. */
  maxRunningJobs?: number;
}

/** What a dry run of the merge's join statements said, kept beside the run's checkpoints. */
export interface MergeEstimate {
  bytesProcessed: number;
  costUsd: number;
  statements: number;
}

/** The profile's loads and statement batches run at once: each reads a few hundred columns of the whole output, so a few keep the slots free for other work. */
const PROFILE_BATCHES_AT_ONCE = 8;

/** The on-demand price rule (shared/cost.ts), where callers of the adapter have found it. */
export { estimateCost };

/** Bytes billed by finished jobs (a load bills none). */
const billedBy = (metadata: Iterable<JobMetadata | undefined>): number => [...metadata].reduce((n, m) => n + Number(m?.statistics?.query?.totalBytesBilled ?? 0), 0);

/**
 * A read as of a time BigQuery no longer keeps ("Invalid snapshot time ... Cannot read before ...":
 * a run resumed after its time-travel window, or a table created after the run froze it) can never
 * succeed: a TableChangedError, so the run fails saying to start again. Other errors pass as they are.
 */
function beyondTimeTravel(error: unknown, table: string, at: string): unknown {
  if (!(error instanceof BigQueryJobError) || !/Invalid snapshot time/i.test(error.message)) return error;
  return new TableChangedError(table, `table ${table} can no longer be read as it was at ${at}, when the run froze it (older than BigQuery's time-travel window, or the table was made again since): ${error.message}`);
}

export class BigQueryWarehouse implements Warehouse {
  /** The merge joins checkpoints in SQL, whatever files hold them. */
  readonly checkpointsFollowShards = false;
  /** Time travel: an extract reads the table as of the run's snapshot (within BigQuery's window, 2 to 7 days). */
  readonly readsTablesAsOf = true;
  private readonly config: Config;
  private readonly bigquery: BigQuery;
  private readonly staging: ObjectStore;
  private readonly output: ObjectStore;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly jobs: JobRunner;
  /** The profile's loads and batches at once: PROFILE_BATCHES_AT_ONCE, or fewer where the runner runs fewer jobs (1 under `bqx plan`). */
  private readonly profileConcurrency: number;

  constructor(options: BigQueryWarehouseOptions) {
    this.config = options.config;
    this.bigquery = options.bigquery;
    this.staging = options.staging;
    this.output = options.output;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.profileConcurrency = Math.min(PROFILE_BATCHES_AT_ONCE, options.maxRunningJobs ?? PROFILE_BATCHES_AT_ONCE);
    this.jobs = new JobRunner(options.bigquery, {
      location: options.config.gcp.location,
      maxBytesBilled: options.config.gcp.maxBytesBilled,
      clock: this.clock,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      logger: this.logger,
      ...(options.maxRunningJobs ? { maxRunning: options.maxRunningJobs } : {}),
    });
  }

  async listTables(dataset: string): Promise<CatalogTable[]> {
    assertIdentifier(dataset, 'dataset');
    const r = renderListTables(dataset);
    const rows = await this.jobs.read<{ table_name: string; column_name: string; data_type: string }>({ key: 'list_tables', step: 'list_tables', sql: r.sql, params: r.params! });
    const tables: CatalogTable[] = [];
    for (const row of rows) {
      let last = tables[tables.length - 1];
      if (!last || last.table !== row.table_name) tables.push((last = { table: row.table_name, columns: [] }));
      last.columns.push({ name: row.column_name, type: normaliseType(row.data_type) });
    }
    return tables;
  }

  async dataVersions(dataset: string, tables: readonly string[], range?: Window): Promise<Record<string, string | null>> {
    const versions: Record<string, string | null> = Object.fromEntries(tables.map((t) => [t, null]));
    for (const r of renderDataVersions(dataset, tables, range)) {
      const rows = await this.jobs.read<{ table_name: string; version: string | null }>({ key: 'data_versions', step: 'data_versions', sql: r.sql, params: r.params });
      for (const row of rows) if (row.table_name in versions && typeof row.version === 'string') versions[row.table_name] = row.version;
    }
    return versions;
  }

  async labelStats(dataset: string, table: string, window?: Window): Promise<LabelStats> {
    const r = renderLabelStats(dataset, table, window);
    const [row] = await this.jobs.read<{ row_count: number | string; min_key: string | null; max_key: string | null }>({
      key: 'label_stats',
      step: 'label_stats',
      sql: r.sql,
      ...(r.params ? { params: r.params } : {}),
    });
    return { rows: Number(row?.row_count ?? 0), minKey: row?.min_key ?? null, maxKey: row?.max_key ?? null };
  }

  async extract(job: ExtractJob): Promise<ExtractResult> {
    const deadline = this.deadline();
    const ctx = this.context(job.runId, job.pair);
    const feature = assertIdentifier(job.feature, 'feature');
    if (!job.prefix.endsWith('/')) throw new InputError(`extract prefix ${JSON.stringify(job.prefix)} must end with /`);
    const source = { dataset: job.dataset, table: feature, columns: job.columns, window: job.window, ...(job.asOf ? { asOf: job.asOf.at } : {}) };
    // Each attempt of the export writes into its own folder (ATTEMPT_DIR), named after its job id.
    const exported = renderExtract(source, this.staging.uri(`${job.prefix}${ATTEMPT_DIR}/part-*.parquet`));
    const counted = renderExtractCounts(source);
    const written = async (jobId: string) => {
      const dir = `${job.prefix}${attemptDir(jobId)}/`;
      return partFiles(await this.staging.list(dir), dir);
    };
    const exportSpec: StepSpec = {
      key: `extract_${feature}`,
      step: 'extract',
      sql: exported.sql,
      params: exported.params!,
      labels: { feature },
      // Its files were deleted (a rerun of the feature): export again under the next attempt id.
      isStale: async (metadata) =>
        (await written(jobIdOf(metadata))).length < Number(metadata.statistics?.query?.exportDataStatistics?.fileCount ?? 0),
    };
    // The count goes with the export attempt it describes.
    const salt = await this.jobs.currentJobId(ctx, exportSpec);
    const specs: StepSpec[] = [exportSpec, { key: `extract_counts_${feature}`, step: 'extract_counts', sql: counted.sql, params: counted.params!, labels: { feature }, salt }];
    const run = await this.jobs.runAll(ctx, specs, deadline).catch((error: unknown) => {
      throw job.asOf ? beyondTimeTravel(error, `${job.dataset}.${feature}`, job.asOf.at) : error;
    });
    if (run.state === 'pending') return this.pending(`extract of ${feature} for ${job.runId}: ${run.done} of ${run.total} jobs done, still running`);

    const [counts] = await this.jobs.results<{ source_rows: number | string; key_count: number | string }>(run.jobIds.get(specs[1]!.key)!);
    const sourceRows = Number(counts?.source_rows ?? 0);
    const rows = Number(counts?.key_count ?? 0);
    const exportId = run.jobIds.get(specs[0]!.key)!;
    const files = await written(exportId);
    checkExport(run.metadata.get(specs[0]!.key), files.length, rows, `extract of ${feature}`);
    await dropOtherAttempts(this.staging, job.prefix, attemptDir(exportId));
    this.logger.info('feature extracted', { runId: job.runId, pair: job.pair, feature, step: 'extract', rows, sourceRows, files: files.length });
    return { state: 'done', files: files.map((f) => f.name), rows, sourceRows, duplicates: sourceRows - rows, bytesBilled: billedBy(run.metadata.values()) };
  }

  async merge(job: MergeJob, progress?: (p: MergeProgress) => void): Promise<MergeResult> {
    const deadline = this.deadline();
    const ctx = this.context(job.runId, job.pair);
    const plain = mergeSteps(job, this.config, this.staging, this.output); // validates before any I/O
    const state = await mergeState(job, this.staging, this.output);
    if (state.finished) {
      this.logger.info('merge already finished; its output is in place', { runId: job.runId, pair: job.pair, step: 'merge' });
      return state.finished;
    }
    const salt = `${state.fp}-${state.epoch}`;
    const salted = (specs: StepSpec[]) => specs.map((s) => ({ ...s, salt }));
    const steps = { ...plain, keys: { ...plain.keys, salt }, loads: salted(plain.loads), batches: salted(plain.batches), exports: plain.exports.map((e) => ({ ...e, salt })) };
    const report = (step: string) => (done: number, total: number) => progress?.({ step, done, total });
    const pending = (step: string, r: { done: number; total: number; running: number }) =>
      this.pending(`merge of ${job.runId}: step ${step}, ${r.done} of ${r.total} jobs done, ${r.running} running; call again to resume`);

    const loaded = await this.jobs.runAll(ctx, [steps.keys, ...steps.loads], deadline, report('load'));
    if (loaded.state === 'pending') return pending('load', loaded);
    const estimate = await this.estimate(ctx, steps.batches, estimateObject(job.runId, state.fp, state.epoch));
    const joined = await this.jobs.runAll(ctx, steps.batches, deadline, report('join'));
    if (joined.state === 'pending') return pending('join', joined);
    const exported = await this.jobs.runAll(ctx, steps.exports, deadline, report('export'));
    if (exported.state === 'pending') return pending('export', exported);

    const shards: MergedShard[] = [];
    for (const shard of job.shards) {
      const groups: MergedGroup[] = [];
      let reference: Float64Array | undefined;
      let keysInRange = true;
      for (const step of steps.exports.filter((e) => e.shard.id === shard.id)) {
        const attempt = attemptDir(exported.jobIds.get(step.key)!);
        const dir = `${step.dir}${attempt}/`;
        const files = partFiles(await this.output.list(dir), dir);
        const names = files.map((f) => f.name);
        // The key column of every file is read for the order check; its length is the rows the
        // files hold, which stand in for the job's row count where the job reports none (that
        // statistic is documented as Alpha).
        const keys = await readGroupKeys(this.output, names);
        const rows = exportRows(exported.metadata.get(step.key)) ?? keys.keys.length;
        checkExport(exported.metadata.get(step.key), files.length, rows, `export of shard ${shard.id} group ${step.group}`);
        await dropOtherAttempts(this.output, step.dir, attempt);
        if (reference === undefined) {
          reference = keys.keys;
          keysInRange = allWithin(keys.keys, shard);
        }
        groups.push({
          index: step.group,
          files: names,
          rows,
          columns: step.columns,
          bytes: files.reduce((n, f) => n + f.size, 0),
          distinctKeys: keys.distinctKeys,
          keysInOrder: keys.ascending && sameSequence(keys.keys, reference),
        });
      }
      // A shard without label rows (a market holiday, a weekend day) has no files in the dataset.
      if (groups.every((g) => g.rows === 0)) {
        await this.output.deletePrefix(`${job.outputPrefix}shard-${shard.id}/`);
        continue;
      }
      shards.push({ index: shards.length, id: shard.id, start: shard.start, end: shard.end, rows: groups[0]!.rows, groups, keysInRange });
    }
    const groups = byGroup(job.plan.groups, shards);
    const dropped = await this.dropScratch(steps.area);
    const billed = billedBy([...loaded.metadata.values(), ...joined.metadata.values(), ...exported.metadata.values()]);
    const result: FinishedMerge = { state: 'done', groups, shards, rows: shards.reduce((n, x) => n + x.rows, 0), bytesProcessed: estimate.bytesProcessed, costUsd: estimate.costUsd, bytesBilled: billed };
    await recordFinished(this.staging, job.runId, state.fp, state.epoch, result);
    this.logger.info('merge finished', { runId: job.runId, pair: job.pair, step: 'merge', groups: groups.length, bytesBilled: billed, estimate, dropped, epoch: state.epoch });
    return result;
  }

  /** The output's groups loaded into the run's scratch area and measured there (bigQueryProfile.ts). */
  async profile(job: ProfileJob): Promise<ProfileData> {
    const billed = { bytes: 0 };
    const reads = this.resumableReads(this.context(job.runId, job.pair), `profile of ${job.runId}`, billed);
    const data = await profileBigQuery(reads, this.config, this.output, job, this.profileConcurrency);
    return { ...data, bytesBilled: billed.bytes };
  }

  async compareColumns(job: CompareJob, billed?: (bytes: number) => void): Promise<ColumnComparison[]> {
    const tally = { bytes: 0 };
    const reads = this.resumableReads(this.context(job.runId, pairOfRunId(job.runId)), `column comparison of ${job.runId}`, tally);
    const compared = await compareBigQuery(reads, this.config, this.output, job, this.profileConcurrency);
    billed?.(tally.bytes);
    return compared;
  }

  /** A feature view from the dataset's output files, loaded into expiring scratch tables (bigQueryView.ts). */
  async view(job: ViewJob): Promise<ViewResult> {
    return viewBigQuery(this.jobs, this.config, this.output, job, this.context(job.runId, job.pair), this.deadline(), (detail) => this.pending(detail));
  }

  async close(): Promise<void> {}

  /** Dry run of the join statements, once per merge epoch (kept in the staging store, so later calls and the cost survive the scratch tables). */
  private async estimate(ctx: RunContext, batches: readonly StepSpec[], name: string): Promise<MergeEstimate> {
    if ((await this.staging.size(name)) !== undefined) {
      return JSON.parse(new TextDecoder().decode(await this.staging.read(name))) as MergeEstimate;
    }
    const bytes = await mapLimit(batches, 8, (spec) => this.jobs.dryRunBytes(ctx, { ...spec, step: 'dry_run' }));
    const bytesProcessed = bytes.reduce((a, b) => a + b, 0);
    const estimate: MergeEstimate = { bytesProcessed, costUsd: estimateCost(bytesProcessed, this.config.gcp.costPerTbUsd), statements: bytes.length };
    await this.staging.write(name, JSON.stringify(estimate), { ifAbsent: true, contentType: 'application/json' });
    this.logger.info('merge estimate', { runId: ctx.runId, pair: ctx.pair, step: 'dry_run', ...estimate });
    return estimate;
  }

  /** Deletes the run's scratch tables (they would expire anyway); returns how many were there. */
  private async dropScratch(area: string): Promise<number> {
    const [tables] = await this.bigquery.dataset(this.config.gcp.scratchDataset).getTables({ autoPaginate: true });
    const mine = tables.filter((t) => t.id?.startsWith(`${area}__`));
    await mapLimit(mine, 16, async (t) => {
      await t.delete({ ignoreNotFound: true });
    });
    return mine.length;
  }

  /**
   * The profile's reads as deterministic jobs waited on until this call's deadline: one still
   * running then ends the call with WorkPending (the merge handler polls again), and the next call
   * attaches to it and to every finished one instead of starting them again. At full size the
   * profile's loads and queries run longer than one function call.
   */
  private resumableReads(ctx: RunContext, what: string, billed?: { bytes: number }): ProfileRunner {
    const deadline = this.deadline();
    return {
      read: async <T>(spec: StepSpec): Promise<T[]> => {
        const r = await this.jobs.runAll(ctx, [spec], deadline);
        if (r.state === 'pending') throw new WorkPending(this.pending(`${what}: ${spec.step} ${spec.key} still running; call again to resume`));
        // A job finished in an earlier call is attached to again, so the call that completes the profile counts every job.
        if (billed) billed.bytes += billedBy([r.metadata.get(spec.key)]);
        return this.jobs.results<T>(r.jobIds.get(spec.key)!);
      },
    };
  }

  private deadline(): number {
    return this.clock.now().getTime() + this.config.gcp.jobWaitSeconds * 1000;
  }

  private context(runId: string, pair: string): RunContext {
    return { runId: assertRunId(runId), pair: validatePair(pair, this.config.currencies) };
  }

  private pending(detail: string): Pending {
    this.logger.info('warehouse work pending', { detail });
    return { state: 'pending', detail };
  }
}

/** Parquet parts directly under `prefix`, in name order (= key order for a wildcard export). */
function partFiles(objects: readonly StoredObject[], prefix: string): StoredObject[] {
  return objects
    .filter((o) => o.name.startsWith(prefix) && /^[^/]+\.parquet$/.test(o.name.slice(prefix.length)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Deletes what earlier attempts of an export left under `dir` (the part files of an attempt that
 * failed part-way, or of an earlier merge epoch), once attempt `keep` has succeeded, so that only
 * the files the result lists are there. Attempts are deterministic, so every caller keeps the same one.
 */
async function dropOtherAttempts(store: ObjectStore, dir: string, keep: string): Promise<number> {
  const others = new Set<string>();
  for (const o of await store.list(dir)) {
    const attempt = /^(attempt-[^/]+)\//.exec(o.name.slice(dir.length))?.[1];
    if (attempt && attempt !== keep) others.add(attempt);
  }
  let deleted = 0;
  for (const attempt of others) deleted += await store.deletePrefix(`${dir}${attempt}/`);
  return deleted;
}

/** The rows an export job reports, or undefined when it reports none. */
function exportRows(metadata: JobMetadata | undefined): number | undefined {
  const rows = metadata?.statistics?.query?.exportDataStatistics?.rowCount;
  return rows === undefined || rows === null ? undefined : Number(rows);
}

/** The job id in a job's metadata (`jobReference.jobId`). */
function jobIdOf(metadata: JobMetadata): string {
  const id = metadata.jobReference?.jobId;
  if (!id) throw new Error('BigQuery job metadata has no jobReference.jobId');
  return id;
}

/** The files found must be the files the export wrote, and its rows the rows expected. */
function checkExport(metadata: JobMetadata | undefined, files: number, rows: number, what: string): void {
  const stats = metadata?.statistics?.query?.exportDataStatistics;
  if (stats?.fileCount !== undefined && stats.fileCount !== null && Number(stats.fileCount) !== files) {
    throw new Error(`${what}: the job wrote ${stats.fileCount} files, ${files} are in the bucket`);
  }
  if (stats?.rowCount !== undefined && stats.rowCount !== null && Number(stats.rowCount) !== rows) {
    throw new Error(`${what}: the job exported ${stats.rowCount} rows, ${rows} were expected`);
  }
  if (files === 0 && rows > 0) throw new Error(`${what}: no parquet files were written`);
}
