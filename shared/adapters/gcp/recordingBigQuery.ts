// A stand-in for the BigQuery client that runs nothing and records every statement the warehouse
// adapter sends, in the order it sends them: `bqx plan` drives the real BigQueryWarehouse against
// it, so the plan is the adapter's own text, never a second renderer. Every job is done when
// created; read queries get rows from `answer`; an EXPORT DATA may leave a placeholder object under
// its wildcard (`exportSink` decides: a checkpoint's file is what the merge then loads) and reports
// no rows. Dry runs (the merge's cost estimate) are answered with 0 bytes and are not recorded: they
// repeat statements that are recorded anyway.

import type { BigQuery, JobMetadata, Query } from '@google-cloud/bigquery';

export interface RecordedStatement {
  /** The job's `step` label: list_tables, label_stats, extract, extract_counts, keys, load, batch, export, profile_load, profile_scan, ... */
  step: string;
  labels: Record<string, string>;
  sql: string;
  params: Record<string, unknown>;
  jobId: string;
}

type JobOptions = Query & { jobId?: string; jobPrefix?: string; dryRun?: boolean };

interface Recorded {
  metadata: JobMetadata;
  rows: unknown[];
}

/** Where an export would write: leaves a placeholder file there, or not; says how many files it left. */
export type ExportSink = (uri: string) => Promise<number>;

const notFound = (id: string) => Object.assign(new Error(`Not found: Job ${id}`), { code: 404 });
const EXPORT_URI = /^EXPORT DATA OPTIONS\(uri='([^']+)'/;

export class RecordingBigQuery {
  readonly statements: RecordedStatement[] = [];
  private readonly jobs = new Map<string, Recorded>();

  constructor(
    /** Rows of a read query (catalog, label statistics, counts). */
    private readonly answer: (statement: RecordedStatement) => Promise<unknown[]>,
    private readonly exportSink: ExportSink,
  ) {}

  /** This recorder typed as the client the adapter takes (it implements the part the adapter uses). */
  asClient(): BigQuery {
    return this as unknown as BigQuery;
  }

  async createQueryJob(options: JobOptions): Promise<[ReturnType<RecordingBigQuery['job']>, JobMetadata]> {
    if (options.dryRun) return [this.job('dry-run'), { statistics: { totalBytesProcessed: '0' } } as JobMetadata];
    const id = options.jobId ?? `${options.jobPrefix ?? 'job_'}${this.statements.length + 1}`;
    if (this.jobs.has(id)) throw Object.assign(new Error(`Already Exists: Job ${id}`), { code: 409 });
    const statement: RecordedStatement = {
      step: options.labels?.step ?? 'query',
      labels: { ...(options.labels ?? {}) },
      sql: options.query ?? '',
      params: { ...((options.params as Record<string, unknown> | undefined) ?? {}) },
      jobId: id,
    };
    this.statements.push(statement);
    const uri = EXPORT_URI.exec(statement.sql)?.[1];
    const fileCount = uri ? await this.exportSink(uri) : 0;
    const metadata = {
      id,
      jobReference: { jobId: id },
      status: { state: 'DONE' },
      statistics: { query: { totalBytesBilled: '0', ...(uri ? { exportDataStatistics: { fileCount: String(fileCount), rowCount: '0' } } : {}) } },
    } as JobMetadata;
    this.jobs.set(id, { metadata, rows: await this.answer(statement) });
    return [this.job(id), metadata];
  }

  job(id: string, _options?: { location?: string }) {
    return {
      id,
      getMetadata: async (): Promise<[JobMetadata]> => {
        const job = this.jobs.get(id);
        if (!job) throw notFound(id);
        return [job.metadata];
      },
      getQueryResults: async (_options?: unknown): Promise<[unknown[]]> => {
        const job = this.jobs.get(id);
        if (!job) throw notFound(id);
        return [job.rows];
      },
    };
  }

  /** The scratch dataset holds nothing: the plan created no table. */
  dataset(_name: string) {
    return { getTables: async (_options?: unknown): Promise<[unknown[]]> => [[]] };
  }
}
