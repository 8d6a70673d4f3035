// BigQuery jobs keyed on deterministic ids. A step's id is derived from the run, the step and a
// hash of its SQL, so a retried event (or a second caller) finds the job the first one started
// (by `getMetadata`, or a 409 on insert) and attaches to it instead of starting another. A job that
// failed for a temporary reason is retried under the next attempt id (`_r2`, `_r3`), also
// deterministic. No call waits past its deadline: what is still running is reported as pending.

import { createHash } from 'node:crypto';
import type { BigQuery, JobMetadata, Query } from '@google-cloud/bigquery';
import type { Clock, Logger } from '../../ports.js';
import { mapLimit } from '../../concurrency.js';

export interface StepSpec {
  /** Stable name of the step within its run (`extract_agg_eurusd`, `batch_g000_b001`); part of the job id. */
  key: string;
  /** Value of the job's `step` label. */
  step: string;
  sql: string;
  params?: Record<string, unknown>;
  /** Extra labels, e.g. the feature. */
  labels?: Record<string, string>;
  /** Identity of the step's inputs beyond its SQL (e.g. checkpoint generations); part of the id. */
  salt?: string;
  /**
   * For a finished job: whether what it produced is gone (files deleted for a rerun), so the step
   * must run again, under the next attempt id.
   */
  isStale?: (metadata: JobMetadata) => Promise<boolean>;
}

export interface RunContext {
  runId: string;
  pair: string;
}

export class BigQueryJobError extends Error {
  constructor(
    readonly jobId: string,
    readonly reason: string,
    detail: string,
    /** Whether trying again later could succeed. */
    readonly retryable: boolean,
  ) {
    super(`BigQuery job ${jobId} failed (${reason}): ${detail}`);
    this.name = 'BigQueryJobError';
  }
}

/** errorResult reasons worth another attempt under the next job id. */
const RETRYABLE_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'jobBackendError', 'jobInternalError', 'jobRateLimitExceeded']);
export const MAX_JOB_ATTEMPTS = 3;

export function statementHash(sql: string, params?: Record<string, unknown>, salt = ''): string {
  return createHash('sha256').update(sql).update('\n').update(JSON.stringify(params ?? {})).update('\n').update(salt).digest('hex').slice(0, 12);
}

/** `bqx_<runId>_<step key>_<hash>[_r<attempt>]`: letters, digits, `_` and `-` only, as BigQuery requires. */
export function jobIdFor(ctx: RunContext, spec: StepSpec, attempt = 1): string {
  const key = spec.key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 300);
  const base = `bqx_${ctx.runId}_${key}_${statementHash(spec.sql, spec.params, spec.salt)}`.replace(/[^A-Za-z0-9_-]/g, '_');
  return attempt === 1 ? base : `${base}_r${attempt}`;
}

/**
 * Placeholder for an export's own folder in a step's SQL (`.../__bqx_attempt__/part-*.parquet`).
 * The job id is derived from the SQL with the placeholder in it; the job then runs with the
 * placeholder replaced by `attempt-<the id's hash and attempt>`, so each attempt of an export
 * writes into a folder no other attempt writes to, and a retry can never mix files of two attempts
 * (EXPORT DATA's `overwrite` is not documented to remove an earlier attempt's extra files).
 */
export const ATTEMPT_DIR = '__bqx_attempt__';

/** The folder name an attempt's files go to: `attempt-<hash>` or `attempt-<hash>_r<n>`. */
export function attemptDir(jobId: string): string {
  const suffix = /_([0-9a-f]{12}(?:_r\d+)?)$/.exec(jobId)?.[1];
  if (!suffix) throw new Error(`job id ${jobId} has no statement hash`);
  return `attempt-${suffix}`;
}

/** The statement a job runs: its SQL with the attempt folder filled in. */
export function jobSql(sql: string, jobId: string): string {
  return sql.includes(ATTEMPT_DIR) ? sql.split(ATTEMPT_DIR).join(attemptDir(jobId)) : sql;
}

/** A label value: lower-case letters, digits, `_` and `-`, at most 63 characters. */
export function labelValue(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
}

export function jobLabels(ctx: RunContext | undefined, step: string, extra: Record<string, string> = {}): Record<string, string> {
  const labels: Record<string, string> = { app: 'bqx' };
  if (ctx) {
    labels.run_id = labelValue(ctx.runId);
    labels.pair = labelValue(ctx.pair);
  }
  labels.step = labelValue(step);
  for (const [k, v] of Object.entries(extra)) labels[k] = labelValue(v);
  return labels;
}

export type JobState = 'missing' | 'running' | 'done';

interface Tracked {
  spec: StepSpec;
  attempt: number;
  jobId: string;
  state: JobState;
  metadata?: JobMetadata;
  /** Attempts of this step that failed for a temporary reason. */
  failures: number;
}

type Verdict = JobState | 'retry' | 'stale';

export type RunAllResult =
  | { state: 'done'; metadata: Map<string, JobMetadata>; jobIds: Map<string, string> }
  | { state: 'pending'; done: number; running: number; total: number };

export interface JobRunnerOptions {
  location: string;
  maxBytesBilled: number;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  logger: Logger;
  /** Jobs of one call running at once; the rest start as these finish (or on a later call). */
  maxRunning?: number;
  /** Parallel API calls (metadata reads, inserts). */
  apiConcurrency?: number;
  pollMs?: number;
  maxPollMs?: number;
}

const httpCode = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
};

export class JobRunner {
  private readonly maxRunning: number;
  private readonly apiConcurrency: number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;

  constructor(private readonly bigquery: BigQuery, private readonly options: JobRunnerOptions) {
    this.maxRunning = options.maxRunning ?? 40;
    this.apiConcurrency = options.apiConcurrency ?? 16;
    this.pollMs = options.pollMs ?? 1000;
    this.maxPollMs = options.maxPollMs ?? 10000;
  }

  /** Query options every job carries: location, byte cap, labels. */
  queryOptions(ctx: RunContext | undefined, spec: StepSpec): Query {
    return {
      query: spec.sql,
      ...(spec.params ? { params: spec.params } : {}),
      location: this.options.location,
      maximumBytesBilled: String(this.options.maxBytesBilled),
      labels: jobLabels(ctx, spec.step, spec.labels),
    };
  }

  /**
   * Walks the steps: attaches to jobs that exist, starts missing ones (at most `maxRunning` at
   * once), polls until all are done or the deadline (epoch ms) comes. Throws a BigQueryJobError
   * for a job that failed for good.
   */
  async runAll(ctx: RunContext, specs: readonly StepSpec[], deadline: number, onProgress?: (done: number, total: number) => void): Promise<RunAllResult> {
    const tracked = await mapLimit(specs, this.apiConcurrency, (spec) => this.locate(ctx, spec));
    let poll = this.pollMs;
    for (;;) {
      const running = tracked.filter((t) => t.state === 'running').length;
      const toStart = tracked.map((t, i) => ({ t, i })).filter(({ t }) => t.state === 'missing').slice(0, Math.max(0, this.maxRunning - running));
      const started = await mapLimit(toStart, this.apiConcurrency, ({ t }) => this.start(ctx, t));
      toStart.forEach(({ i }, n) => (tracked[i] = started[n]!));

      const done = tracked.filter((t) => t.state === 'done').length;
      onProgress?.(done, tracked.length);
      if (done === tracked.length) {
        return {
          state: 'done',
          metadata: new Map(tracked.map((t) => [t.spec.key, t.metadata!])),
          jobIds: new Map(tracked.map((t) => [t.spec.key, t.jobId])),
        };
      }
      const left = deadline - this.options.clock.now().getTime();
      if (left <= 0) {
        return { state: 'pending', done, running: tracked.filter((t) => t.state === 'running').length, total: tracked.length };
      }
      await this.options.sleep(Math.min(poll, left));
      poll = Math.min(Math.round(poll * 1.5), this.maxPollMs);
      const active = tracked.map((t, i) => ({ t, i })).filter(({ t }) => t.state === 'running');
      const refreshed = await mapLimit(active, this.apiConcurrency, ({ t }) => this.refresh(ctx, t));
      active.forEach(({ i }, n) => (tracked[i] = refreshed[n]!));
    }
  }

  /** Bytes a statement would process, from a dry run (no job is kept, nothing is billed). */
  async dryRunBytes(ctx: RunContext, spec: StepSpec): Promise<number> {
    const [, response] = await this.bigquery.createQueryJob({ ...this.queryOptions(ctx, spec), dryRun: true });
    const bytes = Number((response as JobMetadata | undefined)?.statistics?.totalBytesProcessed ?? NaN);
    if (!Number.isFinite(bytes)) throw new Error(`dry run of ${spec.key} returned no totalBytesProcessed`);
    return bytes;
  }

  /** Runs a small read-only query to the end and returns its rows (catalog and label statistics). */
  async read<T>(spec: StepSpec): Promise<T[]> {
    const [job] = await this.bigquery.createQueryJob({ ...this.queryOptions(undefined, spec), jobPrefix: `bqx_${labelValue(spec.step)}_` });
    const [rows] = await job.getQueryResults({ autoPaginate: true });
    return rows as T[];
  }

  /** The rows of a finished job (the small result of a counting step). */
  async results<T>(jobId: string): Promise<T[]> {
    const [rows] = await this.bigquery.job(jobId, { location: this.options.location }).getQueryResults({ autoPaginate: true });
    return rows as T[];
  }

  /** The id of the attempt a step is at now (none is started). */
  async currentJobId(ctx: RunContext, spec: StepSpec): Promise<string> {
    return (await this.walk(ctx, spec, 1, 0)).jobId;
  }

  private async metadata(jobId: string): Promise<JobMetadata | undefined> {
    try {
      const [metadata] = await this.bigquery.job(jobId, { location: this.options.location }).getMetadata();
      return metadata as JobMetadata;
    } catch (error) {
      if (httpCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** From `attempt` on, the first attempt id that holds no failed or stale job. */
  private async walk(ctx: RunContext, spec: StepSpec, attempt: number, failures: number): Promise<Tracked> {
    for (;;) {
      const jobId = jobIdFor(ctx, spec, attempt);
      const metadata = await this.metadata(jobId);
      const t: Tracked = { spec, attempt, jobId, state: 'missing', failures };
      const verdict = await this.judge(t, metadata);
      if (verdict === 'retry') failures++;
      else if (verdict !== 'stale') return { ...t, state: verdict, ...(metadata ? { metadata } : {}) };
      attempt++;
    }
  }

  private locate(ctx: RunContext, spec: StepSpec): Promise<Tracked> {
    return this.walk(ctx, spec, 1, 0);
  }

  /** What a job's metadata means for its step. Throws when it failed for good or too often. */
  private async judge(t: Tracked, metadata: JobMetadata | undefined): Promise<Verdict> {
    if (!metadata) return 'missing';
    if (metadata.status?.state !== 'DONE') return 'running';
    const error = metadata.status.errorResult;
    if (error) {
      const reason = error.reason ?? 'unknown';
      this.options.logger.warn('BigQuery job failed', { jobId: t.jobId, reason, attempt: t.attempt, step: t.spec.step, detail: error.message });
      if (RETRYABLE_REASONS.has(reason) && t.failures + 1 < MAX_JOB_ATTEMPTS) return 'retry';
      throw new BigQueryJobError(t.jobId, reason, error.message ?? 'no message', false);
    }
    if (t.spec.isStale && (await t.spec.isStale(metadata))) {
      this.options.logger.info('BigQuery job output is gone; running the step again', { jobId: t.jobId, step: t.spec.step });
      return 'stale';
    }
    return 'done';
  }

  /** The step's state after a job's metadata was read; on to the next attempt where needed. */
  private async settle(ctx: RunContext, t: Tracked, metadata: JobMetadata | undefined): Promise<Tracked> {
    const verdict = await this.judge(t, metadata);
    if (verdict === 'retry') return this.walk(ctx, t.spec, t.attempt + 1, t.failures + 1);
    if (verdict === 'stale') return this.walk(ctx, t.spec, t.attempt + 1, t.failures);
    return { ...t, state: verdict, ...(metadata ? { metadata } : {}) };
  }

  private async start(ctx: RunContext, t: Tracked): Promise<Tracked> {
    try {
      const [, response] = await this.bigquery.createQueryJob({ ...this.queryOptions(ctx, t.spec), query: jobSql(t.spec.sql, t.jobId), jobId: t.jobId });
      this.options.logger.info('BigQuery job started', { runId: ctx.runId, pair: ctx.pair, step: t.spec.step, jobId: t.jobId });
      return this.settle(ctx, t, (response as JobMetadata | undefined) ?? (await this.metadata(t.jobId)));
    } catch (error) {
      const code = httpCode(error);
      if (code === 409 || code === undefined) {
        // 409: someone (an earlier delivery, another caller) started it, so attach. No code: the
        // job was made but failed at once; its metadata says why.
        const metadata = await this.metadata(t.jobId);
        if (metadata) return this.settle(ctx, t, metadata);
      }
      if (code === 400) throw new BigQueryJobError(t.jobId, 'invalidQuery', (error as Error).message, false);
      throw error;
    }
  }

  private async refresh(ctx: RunContext, t: Tracked): Promise<Tracked> {
    return this.settle(ctx, t, await this.metadata(t.jobId));
  }
}
