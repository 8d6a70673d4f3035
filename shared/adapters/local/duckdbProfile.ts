// The profile port on DuckDB: measures the output dataset where it lies (the output parquet),
// a batch of columns at a time so memory follows the batch, not the width.

import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { ColumnComparison, ColumnStats, CompareJob, KeyGap, ProfileData, ProfileJob } from '../../profile/types.js';
import * as sql from './duckdbProfileSql.js';

type WithConnection = <T>(body: (c: DuckDBConnection) => Promise<T>) => Promise<T>;

/**
 * Columns measured per statement: the batch and its lag, many times over (the window and the
 * parquet reader hold more than DuckDB's memory limit counts: 1,000 columns at 10,000 rows
 * reached 3 GB), within half the memory setting.
 */
export function profileBatchColumns(memoryMb: number, rows: number): number {
  const perColumn = Math.max(1, rows) * 8 * 24;
  return Math.max(20, Math.min(1000, Math.floor((memoryMb * 2 ** 20) / 2 / perColumn)));
}

/** Repeat share from which a column's longest run is measured (a sorted window: costly, so only where runs can matter). */
export const LONGEST_RUN_FROM_SHARE = 0.01;

const num = (v: DuckDBValue | undefined): number | null => (v === null || v === undefined ? null : Number(v));

export async function profileDuckDb(withConnection: WithConnection, uri: (object: string) => string, job: ProfileJob, memoryMb: number): Promise<ProfileData> {
  const batch = profileBatchColumns(memoryMb, job.rows);
  const columns: ColumnStats[] = [];
  const values: Record<string, Float64Array> = {};
  let sampleRows: number[] = [];
  const labels = new Set(job.labels);
  await withConnection(async (c) => {
    for (const group of job.groups) {
      const files = listValue(group.files.map(uri));
      const names = group.columns.filter((n) => n !== job.key);
      for (let from = 0; from < names.length; from += batch) {
        const part = names.slice(from, from + batch);
        const [row] = (await c.runAndReadAll(sql.columnStatsSql(part), [files])).getRows();
        const [warm] = (await c.runAndReadAll(sql.warmupSql(part), [files, job.warmupRows])).getRows();
        const stats = part.map((column, i) => toStats(column, row!.slice(i * sql.STATS_PER_COLUMN, (i + 1) * sql.STATS_PER_COLUMN), num(warm![i]) ?? 0));
        await nonFinite(c, files, stats);
        await longestRuns(c, files, stats);
        const tails = stats.filter((s) => labels.has(s.column));
        if (tails.length > 0) {
          const [last] = (await c.runAndReadAll(sql.lastRowSql(tails.map((s) => s.column)), [files])).getRows();
          tails.forEach((s, i) => (s.lastNonNullRow = num(last![i])));
        }
        columns.push(...stats);
        const block = (await c.runAndReadAll(sql.sampleSql(part), [files, job.blockFrom, job.blockRows, job.spreadStep])).getRows();
        sampleRows = block.map((r) => Number(r[0]));
        part.forEach((column, i) => (values[column] = Float64Array.from(block, (r) => num(r[i + 1]) ?? NaN)));
      }
    }
  });
  const keyFiles = listValue(job.groups[0]!.files.map(uri));
  const gaps = await withConnection(async (c) => {
    const rows = (await c.runAndReadAll(sql.keyGapsSql(job.key), [keyFiles])).getRows();
    return rows.map(([from, to, minutes]): KeyGap => ({ from: String(from), to: String(to), minutes: Number(minutes) }));
  });
  const cutRows =
    job.cuts.length === 0 ? [] : await withConnection(async (c) => (await c.runAndReadAll(sql.cutRowsSql(job.key, job.cuts.length), [keyFiles, ...job.cuts])).getRows()[0]!.map(Number));
  return { columns, gaps, sample: { rows: sampleRows, values }, cutRows };
}

function toStats(column: string, v: DuckDBValue[], warmupNonNull: number): ColumnStats {
  const [nonNull, min, max, mean, sd, repeats] = [0, 1, 2, 3, 4, 5].map((i) => num(v[i])) as [number | null, number | null, number | null, number | null, number | null, number | null];
  const n = nonNull ?? 0;
  return {
    column,
    nonNull: n,
    warmupNonNull,
    min,
    max,
    mean,
    sd,
    inf: 0,
    nan: 0,
    beyond10sd: 0,
    repeats: repeats ?? 0,
    // Measured by longestRuns where the repeat share is high enough; else unknown (at most repeats + 1).
    longestRun: n === 0 ? 0 : (repeats ?? 0) === 0 ? 1 : null,
    lastNonNullRow: null,
  };
}

const finite = (x: number | null) => x === null || Number.isFinite(x);

/** inf/NaN counts and finite statistics for the columns whose min or max is not finite, then values beyond 10 sd. */
async function nonFinite(c: DuckDBConnection, files: DuckDBValue, stats: ColumnStats[]): Promise<void> {
  const odd = stats.filter((s) => !finite(s.min) || !finite(s.max) || (s.mean !== null && !Number.isFinite(s.mean)));
  if (odd.length > 0) {
    const [row] = (await c.runAndReadAll(sql.nonFiniteSql(odd.map((s) => s.column)), [files])).getRows();
    odd.forEach((s, k) => {
      const [inf, nan, min, max, mean, sd] = [0, 1, 2, 3, 4, 5].map((i) => num(row![k * 6 + i]));
      Object.assign(s, { inf: inf ?? 0, nan: nan ?? 0, min, max, mean, sd });
    });
  }
  const far = stats.filter((s) => s.sd !== null && s.sd > 0 && s.mean !== null && s.min !== null && s.max !== null && (s.max - s.mean > 10 * s.sd || s.mean - s.min > 10 * s.sd));
  if (far.length === 0) return;
  const [row] = (await c.runAndReadAll(sql.beyondSql(far.map((s) => s.column)), [files, ...far.flatMap((s) => [s.mean!, s.sd!])])).getRows();
  far.forEach((s, k) => (s.beyond10sd = Number(row![k])));
}

async function longestRuns(c: DuckDBConnection, files: DuckDBValue, stats: ColumnStats[]): Promise<void> {
  const repeating = stats.filter((s) => s.nonNull > 0 && s.repeats / s.nonNull >= LONGEST_RUN_FROM_SHARE);
  for (let from = 0; from < repeating.length; from += 50) {
    const part = repeating.slice(from, from + 50);
    const [row] = (await c.runAndReadAll(sql.longestRunSql(part.map((s) => s.column)), [files])).getRows();
    part.forEach((s, i) => (s.longestRun = num(row![i]) ?? 0));
  }
}

export async function compareDuckDb(withConnection: WithConnection, uri: (object: string) => string, job: CompareJob): Promise<ColumnComparison[]> {
  if (job.pairs.length === 0) return [];
  const wanted = new Set(job.pairs.flatMap((p) => [p.a, p.b]));
  const groups = job.groups
    .map((g) => ({ files: g.files, columns: g.columns.filter((n) => wanted.has(n)) }))
    .filter((g) => g.columns.length > 0);
  return withConnection(async (c) => {
    await c.run(sql.compareTableSql(groups), groups.map((g) => listValue(g.files.map(uri))));
    const out: ColumnComparison[] = [];
    // A few hundred pairs per statement keeps the SQL small.
    for (let from = 0; from < job.pairs.length; from += 200) {
      const pairs = job.pairs.slice(from, from + 200);
      const [row] = (await c.runAndReadAll(sql.compareSql(pairs), [job.step])).getRows();
      pairs.forEach((p, i) => {
        const [both, equal, mismatch, corr] = [0, 1, 2, 3].map((k) => num(row![i * 4 + k] ?? null));
        out.push({ ...p, both: both ?? 0, equal: equal ?? 0, nullMismatch: mismatch ?? 0, correlation: corr === null || corr === undefined || Number.isNaN(corr) ? null : corr });
      });
    }
    await c.run('DROP TABLE IF EXISTS cmp');
    return out;
  });
}
