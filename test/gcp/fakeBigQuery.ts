// A stand-in for the BigQuery client, its methods sinon stubs, that behaves like the service where
// the warehouse depends on it: job ids are unique (409 on a second insert), unknown jobs are 404,
// a job is found only in the location it was created in (404 elsewhere, as BigQuery answers),
// a job runs for `pollsToFinish` metadata reads, a statement naming a scratch table that does not
// exist fails (so steps run out of order fail as they would), CREATE/LOAD make their table, and
// EXPORT DATA writes parquet files (key column only) under its wildcard in an in-memory bucket.

import type { BigQuery, Query } from '@google-cloud/bigquery';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { SinonSandbox, SinonStub } from 'sinon';
import type { MemoryObjectStore } from './memoryStore.js';

export interface FakeJob {
  id: string;
  options: Query;
  state: 'RUNNING' | 'DONE';
  pollsLeft: number;
  errorResult?: { reason: string; message: string };
  statistics: Record<string, unknown>;
  seq: number;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const notFound = (what: string) => Object.assign(new Error(`Not found: ${what}`), { code: 404 });

/** A clock and a sleep that moves it: no real waiting. */
export function fakeTime(start = '2025-01-01T00:00:00.000Z') {
  const origin = Date.parse(start);
  let now = origin;
  const slept: number[] = [];
  return {
    clock: { now: () => new Date(now) },
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
      await tick();
    },
    slept,
    elapsed: () => now - origin,
    advance: (ms: number) => (now += ms),
  };
}

/** One parquet file holding `keys` (epoch microseconds) as a UTC TIMESTAMP(MICROS) column. */
export function keysParquet(keys: readonly number[], rowGroupSize = 250): Uint8Array {
  const buffer = parquetWriteBuffer({
    columnData: [{ name: 'interval_time', data: keys.map((k) => BigInt(k)) as unknown as bigint[] }],
    schema: [
      { name: 'root', num_children: 1 },
      { name: 'interval_time', type: 'INT64', repetition_type: 'REQUIRED', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } },
    ],
    rowGroupSize,
  });
  return new Uint8Array(buffer);
}

/** `count` minute keys from `start`, in epoch microseconds. */
export function minuteKeys(start: string, count: number): number[] {
  const t0 = Date.parse(start) * 1000;
  return Array.from({ length: count }, (_, i) => t0 + i * 60_000_000);
}

export class FakeBigQuery {
  readonly jobs = new Map<string, FakeJob>();
  readonly dryRuns: Query[] = [];
  /** Existing scratch tables, `dataset.table`. */
  readonly tables = new Set<string>();
  readonly deleted: string[] = [];
  readonly stores = new Map<string, MemoryObjectStore>();
  /** Metadata reads a job takes to finish; 0 = done when created; Infinity = never. */
  pollsToFinish = 1;
  /** Job id -> the error it finishes with; with `afterWriting`, an export writes its files first (a job that failed part-way). */
  readonly failWith = new Map<string, { reason: string; message: string; afterWriting?: boolean }>();
  /** Rows of a job's results. */
  rows: (job: FakeJob) => unknown[] = () => [];
  /** Keys each file of an export holds, in file order. */
  exportFiles: (job: FakeJob, prefix: string) => number[][] = () => [];
  dryRunBytes: (sql: string) => number = () => 2 ** 30;
  /** Whether export jobs report exportDataStatistics.rowCount (documented as Alpha: it may be missing). */
  reportRowCount = true;
  scratchDataset = 'bqx_scratch';
  /** Inserts refused with 409 because the id was taken. */
  conflicts = 0;
  /** Most jobs running at one time. */
  maxRunning = 0;

  readonly createQueryJob: SinonStub;
  readonly job: SinonStub;
  readonly dataset: SinonStub;
  private seq = 0;

  constructor(sandbox: SinonSandbox) {
    this.createQueryJob = sandbox.stub().callsFake((options: Query) => this.create(options));
    this.job = sandbox.stub().callsFake((id: string, options?: { location?: string }) => this.handle(id, options?.location));
    this.dataset = sandbox.stub().callsFake((datasetId: string) => ({
      getTables: async () => [
        [...this.tables]
          .filter((t) => t.startsWith(`${datasetId}.`))
          .map((t) => ({
            id: t.slice(datasetId.length + 1),
            delete: async () => {
              this.tables.delete(t);
              this.deleted.push(t);
              return [{}];
            },
          })),
      ],
    }));
  }

  get client(): BigQuery {
    return this as unknown as BigQuery;
  }

  /** Query options of the jobs created with an id, in creation order. */
  created(): Query[] {
    return this.createQueryJob
      .getCalls()
      .map((c) => c.args[0] as Query)
      .filter((o) => o.jobId !== undefined && !o.dryRun);
  }

  /** Lets every running job finish at its next metadata read. */
  release(): void {
    for (const job of this.jobs.values()) if (job.state === 'RUNNING') job.pollsLeft = 1;
  }

  /** The job `id` as seen from `location`: a job created elsewhere (or without one) is not found. */
  private lookup(id: string, location: string | undefined): FakeJob {
    const job = this.jobs.get(id);
    if (!job || location === undefined || job.options.location !== location) throw notFound(`Job demo-bqx:${location ?? '(no location)'}.${id}`);
    return job;
  }

  private handle(id: string, location: string | undefined) {
    return {
      id,
      getMetadata: async () => {
        await tick();
        const job = this.lookup(id, location);
        if (job.state === 'RUNNING' && --job.pollsLeft <= 0) await this.finish(job);
        return [this.metadataOf(job), {}];
      },
      getQueryResults: async () => {
        const job = this.lookup(id, location);
        return [this.rows(job), null, {}];
      },
    };
  }

  private async create(options: Query) {
    await tick();
    const sql = options.query ?? '';
    if (options.dryRun) {
      this.dryRuns.push(options);
      const missing = this.missingTables(sql);
      if (missing.length > 0) throw notFound(`Table ${missing[0]}`);
      return [this.handle('dry_run', options.location), { status: { state: 'DONE' }, statistics: { totalBytesProcessed: String(this.dryRunBytes(sql)) } }];
    }
    const id = options.jobId ?? `${options.jobPrefix ?? ''}auto_${this.seq + 1}`;
    if (this.jobs.has(id)) {
      this.conflicts++;
      throw Object.assign(new Error(`Already Exists: Job demo-bqx:US.${id}`), { code: 409 });
    }
    const job: FakeJob = { id, options, state: 'RUNNING', pollsLeft: this.pollsToFinish, statistics: {}, seq: ++this.seq };
    this.jobs.set(id, job);
    this.maxRunning = Math.max(this.maxRunning, [...this.jobs.values()].filter((j) => j.state === 'RUNNING').length);
    if (this.pollsToFinish <= 0) await this.finish(job);
    return [this.handle(id, options.location), this.metadataOf(job)];
  }

  /** Scratch tables a statement reads that do not exist (its own target excluded). */
  private missingTables(sql: string): string[] {
    const target = /^(?:LOAD DATA OVERWRITE|CREATE OR REPLACE TABLE) `([^`]+)`\.`([^`]+)`/.exec(sql);
    const refs = [...sql.matchAll(/`([A-Za-z0-9_]+)`\.`([A-Za-z0-9_]+)`/g)].map((m) => `${m[1]}.${m[2]}`);
    return refs.filter((r) => r.startsWith(`${this.scratchDataset}.`) && r !== (target ? `${target[1]}.${target[2]}` : '') && !this.tables.has(r));
  }

  private async finish(job: FakeJob): Promise<void> {
    job.state = 'DONE';
    const sql = job.options.query ?? '';
    const failure = this.failWith.get(job.id);
    const missing = this.missingTables(sql);
    if (failure) job.errorResult = { reason: failure.reason, message: failure.message };
    else if (missing.length > 0) job.errorResult = { reason: 'notFound', message: `Not found: Table ${missing[0]}` };
    if (job.errorResult && !failure?.afterWriting) return;
    job.statistics = { totalBytesProcessed: '1048576', totalBytesBilled: '10485760' };
    const target = /^(?:LOAD DATA OVERWRITE|CREATE OR REPLACE TABLE) `([^`]+)`\.`([^`]+)`/.exec(sql);
    if (target) this.tables.add(`${target[1]}.${target[2]}`);
    const uri = /^EXPORT DATA OPTIONS\(uri='gs:\/\/([^/]+)\/([^']*)part-\*\.parquet'/.exec(sql);
    if (uri) {
      const store = this.stores.get(uri[1]!);
      if (!store) throw new Error(`fake BigQuery has no bucket ${uri[1]}`);
      const files = this.exportFiles(job, uri[2]!);
      for (const [i, keys] of files.entries()) {
        await store.write(`${uri[2]}part-${String(i).padStart(12, '0')}.parquet`, keysParquet(keys));
      }
      const rowCount = this.reportRowCount ? { rowCount: String(files.reduce((n, f) => n + f.length, 0)) } : {};
      if (!job.errorResult) job.statistics.exportDataStatistics = { fileCount: String(files.length), ...rowCount };
    }
  }

  private metadataOf(job: FakeJob) {
    return {
      id: `demo-bqx:US.${job.id}`,
      jobReference: { projectId: 'demo-bqx', jobId: job.id, location: job.options.location },
      configuration: { query: { query: job.options.query }, labels: job.options.labels },
      status: { state: job.state, ...(job.errorResult ? { errorResult: job.errorResult, errors: [job.errorResult] } : {}) },
      statistics: { query: job.statistics },
    };
  }
}
