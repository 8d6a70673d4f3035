// The profile port on BigQuery: the output's column groups are loaded from their parquet files
// into the run's scratch area (tables that expire by themselves) and measured there, a batch of
// columns per query (bigQueryProfileSql.ts). Reads go through the job runner's `read`.

import type { Config } from '../../config.js';
import type { ObjectStore } from '../../ports.js';
import type { ColumnComparison, ColumnStats, CompareJob, KeyGap, ProfileData, ProfileJob } from '../../profile/types.js';
import type { StepSpec } from './bigQueryJobs.js';
import { STAT_NAMES, profileScratch, renderCompare, renderCutRows, renderKeyGaps, renderProfileSample, renderProfileStats } from './bigQueryProfileSql.js';
import { renderLoad, scratchArea } from './bigQuerySql.js';

export interface ProfileRunner {
  read<T>(spec: StepSpec): Promise<T[]>;
}

/** Columns per statistics query: 11 measures each stays well under BigQuery's limits. */
export const BIGQUERY_PROFILE_BATCH = 500;

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Loads every group of the job into its scratch table (a table of its own for a part of the files); returns the tables. */
async function loadGroups(jobs: ProfileRunner, config: Config, output: ObjectStore, runId: string, groups: CompareJob['groups'], part?: string): Promise<{ table: string; columns: string[] }[]> {
  const area = scratchArea(runId);
  const tables = [];
  for (const g of groups) {
    const table = profileScratch.group(area, g.index, part);
    const load = renderLoad({ dataset: config.gcp.scratchDataset, table, ttlHours: config.gcp.scratchTtlHours }, g.files.map((f) => output.uri(f)), g.columns.slice(1));
    await jobs.read({ key: `profile_load_g${g.index}${part ? `_${part}` : ''}`, step: 'profile_load', sql: load.sql });
    tables.push({ table, columns: g.columns });
  }
  return tables;
}

export async function profileBigQuery(jobs: ProfileRunner, config: Config, output: ObjectStore, job: ProfileJob): Promise<ProfileData> {
  const dataset = config.gcp.scratchDataset;
  const tables = await loadGroups(jobs, config, output, job.runId, job.groups);
  const columns: ColumnStats[] = [];
  const values: Record<string, Float64Array> = {};
  let sampleRows: number[] = [];
  for (const t of tables) {
    const names = t.columns.filter((n) => n !== job.key);
    for (let from = 0; from < names.length; from += BIGQUERY_PROFILE_BATCH) {
      const part = names.slice(from, from + BIGQUERY_PROFILE_BATCH);
      const stats = renderProfileStats(dataset, t.table, part);
      const [row] = await jobs.read<Row>({ key: `profile_stats_${t.table}_${from}`, step: 'profile_stats', sql: stats.sql, params: { warmup: job.warmupRows } });
      part.forEach((column, i) => {
        const v = (n: (typeof STAT_NAMES)[number]) => num(row?.[`s${i}_${n}`]);
        columns.push({
          column,
          nonNull: v('non_null') ?? 0,
          warmupNonNull: v('warm_non_null') ?? 0,
          min: v('min'),
          max: v('max'),
          mean: v('mean'),
          sd: v('sd'),
          inf: v('inf') ?? 0,
          nan: v('nan') ?? 0,
          beyond10sd: 0,
          repeats: v('repeats') ?? 0,
          longestRun: v('longest_run') ?? 0,
          lastNonNullRow: v('last_row'),
        });
      });
      const sample = renderProfileSample(dataset, t.table, part);
      const rows = await jobs.read<Row>({
        key: `profile_sample_${t.table}_${from}`,
        step: 'profile_sample',
        sql: sample.sql,
        params: { block_from: job.blockFrom, block_rows: job.blockRows, spread_step: job.spreadStep },
      });
      sampleRows = rows.map((r) => Number(r.rn));
      part.forEach((column, i) => (values[column] = Float64Array.from(rows, (r) => num(r[`c${i}`]) ?? NaN)));
    }
  }
  const gapsSql = renderKeyGaps(dataset, tables[0]!.table);
  const gaps = (await jobs.read<Row>({ key: 'profile_gaps', step: 'profile_gaps', sql: gapsSql.sql })).map(
    (r): KeyGap => ({ from: String(r.gap_from), to: String(r.gap_to), minutes: Number(r.minutes) }),
  );
  let cutRows: number[] = [];
  if (job.cuts.length > 0) {
    const cuts = renderCutRows(dataset, tables[0]!.table);
    const rows = await jobs.read<Row>({ key: 'profile_cuts', step: 'profile_cuts', sql: cuts.sql, params: { cuts: job.cuts.map((c) => new Date(c)) } });
    cutRows = rows.map((r) => Number(r.rows_before));
  }
  return { columns, gaps, sample: { rows: sampleRows, values }, cutRows };
}

export async function compareBigQuery(jobs: ProfileRunner, config: Config, output: ObjectStore, job: CompareJob): Promise<ColumnComparison[]> {
  if (job.pairs.length === 0) return [];
  const wanted = new Set(job.pairs.flatMap((p) => [p.a, p.b]));
  const involved = job.groups.filter((g) => g.columns.slice(1).some((c) => wanted.has(c)));
  const tables = await loadGroups(jobs, config, output, job.runId, involved, job.part);
  const out: ColumnComparison[] = [];
  for (let from = 0; from < job.pairs.length; from += 200) {
    const pairs = job.pairs.slice(from, from + 200);
    const r = renderCompare(config.gcp.scratchDataset, tables, pairs);
    const [row] = await jobs.read<Row>({ key: `profile_compare_${job.part ? `${job.part}_` : ''}${from}`, step: 'profile_compare', sql: r.sql, params: { step: job.step } });
    pairs.forEach((p, i) =>
      out.push({ ...p, both: num(row?.[`both${i}`]) ?? 0, equal: num(row?.[`equal${i}`]) ?? 0, nullMismatch: num(row?.[`mismatch${i}`]) ?? 0, correlation: num(row?.[`corr${i}`]) }),
    );
  }
  return out;
}
