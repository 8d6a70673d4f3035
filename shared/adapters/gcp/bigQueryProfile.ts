// The profile port on BigQuery: the output's column groups are loaded from their parquet files
// into the run's scratch area (tables that expire by themselves) and measured there, a batch of
// columns per query (bigQueryProfileSql.ts), in stretches joined to a scan state as the embedded
// profile keeps one (shared/profile/scanSegments.ts): so a refresh measures only its rebuilt
// shards' rows. Reads go through the runner's `read`: on BigQuery, deterministic jobs waited on
// until the call's deadline (bigQueryWarehouse.ts resumableReads), each salted with what the
// profile is over, so a later call of the same run over other files never attaches to them. The
// far values (beyond 10 sd, and the tails kept for them) are bigQueryFarValues.ts.

import { createHash } from 'node:crypto';
import type { Config } from '../../config.js';
import type { ObjectStore } from '../../ports.js';
import type { ColumnComparison, ColumnStats, CompareJob, KeyGap, ProfileData, ProfileJob } from '../../profile/types.js';
import type { StepSpec } from './bigQueryJobs.js';
import { SEGMENT_MEASURES, profileScratch, renderCompare, renderCutRows, renderKeyGaps, renderScanSegments } from './bigQueryProfileSql.js';
import { ColumnScan, fillEarlierSample, sampleRows } from '../../profile/columnScan.js';
import { resumedTails, type Tail } from '../../profile/outlierTails.js';
import { countBeyond, keptTails } from './bigQueryFarValues.js';
import { carrySegments, emptyState, type Segment } from '../../profile/scanSegments.js';
import { joinStates, pickStates, type ScanState } from '../../profile/scanState.js';
import { renderLoad, scratchArea } from './bigQuerySql.js';
import { mapLimit } from '../../concurrency.js';

export interface ProfileRunner {
  read<T>(spec: StepSpec): Promise<T[]>;
}

/** `jobs` with every statement salted with `what` (the job's files and rows): a statement over a scratch table is named for what the table holds. */
function salted(jobs: ProfileRunner, what: unknown): ProfileRunner {
  const salt = createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
  return { read: (spec) => jobs.read({ ...spec, salt }) };
}

/**
 * Columns per profile statement: 18 measures and the sample each (3,802 result columns, about
 * 250 KB of text). The sample makes a result row large: about 600 values a column, up to 45 bytes
 * each in the API's JSON, so up to about 5.4 MB a row at 200 columns, under the API's 10 MB page.
 */
export const BIGQUERY_PROFILE_BATCH = 200;
/** Bytes one sampled value takes in a query result's JSON at most (`{"v":{"f":[{"v":"-1.2345678901234567E-5"}]}}` and a comma). */
export const SAMPLE_VALUE_JSON_BYTES = 45;

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Loads every group of the job into its scratch table (a table of its own for a part of the
 * files), `concurrency` at once (at full size each load takes minutes); returns the tables.
 */
async function loadGroups(jobs: ProfileRunner, config: Config, output: ObjectStore, runId: string, groups: CompareJob['groups'], part?: string, concurrency = 1): Promise<{ table: string; columns: string[] }[]> {
  const area = scratchArea(runId);
  return mapLimit(groups, concurrency, async (g) => {
    const table = profileScratch.group(area, g.index, part);
    const load = renderLoad({ dataset: config.gcp.scratchDataset, table, ttlHours: config.gcp.scratchTtlHours }, g.files.map((f) => output.uri(f)), g.columns.slice(1));
    await jobs.read({ key: `profile_load_g${g.index}${part ? `_${part}` : ''}`, step: 'profile_load', sql: load.sql });
    return { table, columns: g.columns };
  });
}

/** A stretch's measures of column i, from a segments row (renderScanSegments). */
function segmentOf(row: Row, i: number, start: number, end: number): Segment {
  const v = (n: (typeof SEGMENT_MEASURES)[number]) => num(row[`s${i}_${n}`]);
  return {
    start,
    end,
    nonNull: v('non_null') ?? 0,
    warm: v('warm') ?? 0,
    finite: v('finite') ?? 0,
    min: v('min'),
    max: v('max'),
    mean: v('mean'),
    m2: v('m2'),
    inf: v('inf') ?? 0,
    nan: v('nan') ?? 0,
    repeats: v('repeats') ?? 0,
    lead: v('lead') ?? 0,
    longest: v('longest'),
    lastRow: v('last_row'),
    first: v('first'),
    firstValid: (v('first_valid') ?? 0) > 0,
    last: v('last'),
    lastValid: (v('last_valid') ?? 0) > 0,
    lastRun: v('last_run') ?? 0,
  };
}

/** The parameters that number a table's rows stretch by stretch (bigQueryProfileSql.ts numberedRows). */
export interface Numbering {
  bounds: number[];
  firsts: number[];
  lasts: number[];
}

/** A bound past every key (epoch microseconds, year 2255): RANGE_BUCKET always has one. */
const PAST_EVERY_KEY = Number.MAX_SAFE_INTEGER;

/**
 * The stretches of the dataset's rows from `row0` on: its shards (`job.shards`), or without them
 * one stretch of every row (numbered then by one window over them all); with their numbering.
 * `row0` may lie inside a shard (a refresh carrying on from the state after an earlier dataset's
 * last row, whose last shard this one grew by a part): the first stretch is then that shard's rows
 * from `row0` on, the rows of the files read from there (its first key is no bound: only the
 * stretches after the first are told apart by key).
 */
export function stretchesFrom(job: Pick<ProfileJob, 'shards' | 'rows'>, row0: number): { stretches: { first: number; rows: number }[]; numbering: Numbering } {
  let first = 0;
  const all = (job.shards ?? []).map((x) => ({ first: (first += x.rows) - x.rows, rows: x.rows, start: x.start }));
  if (job.shards && first !== job.rows) throw new Error(`the dataset's shards hold ${first} rows, the dataset ${job.rows}`);
  const holding = all.findIndex((x) => x.first <= row0 && row0 < x.first + x.rows);
  const stretches = job.shards
    ? all.slice(Math.max(0, holding)).map((x, i) => (i === 0 ? { first: row0, rows: x.first + x.rows - row0, start: x.start } : x))
    : [{ first: row0, rows: job.rows - row0, start: '' }];
  if (holding < 0 && job.shards) throw new Error(`row ${row0} is in none of the dataset's shards`);
  const numbering = {
    bounds: [...stretches.slice(1).map((x) => Date.parse(x.start) * 1000), PAST_EVERY_KEY],
    firsts: stretches.map((x) => x.first),
    lasts: stretches.map((x) => x.first + x.rows - 1),
  };
  return { stretches: stretches.map(({ first: f, rows }) => ({ first: f, rows })), numbering };
}

/**
 * The dataset's columns, measured in stretches and joined to a scan state (shared/profile/
 * scanSegments.ts): from row 0, or, with `job.resume`, from an earlier dataset's state, reading
 * only the files of the rows from its row on (a refresh's rebuilt shards). The state at
 * `job.snapshotAt` goes back with the data, for the next refresh to carry on from. The key's gaps
 * and the fold rows read the whole of group 0's key; columns whose values may lie beyond 10 sd are
 * counted in a second pass (their earlier rows too, unless the earlier state rules them out).
 * `concurrency`: loads and batches at once (1 keeps the statements in order, as `bqx plan` records them).
 */
export async function profileBigQuery(runner: ProfileRunner, config: Config, output: ObjectStore, job: ProfileJob, concurrency = 1): Promise<ProfileData> {
  const dataset = config.gcp.scratchDataset;
  const jobs = salted(runner, { groups: job.groups, resume: job.resume?.groups, row: job.resume?.from.state.row, rows: job.rows, snapshotAt: job.snapshotAt });
  const resume = job.resume;
  const row0 = resume?.from.state.row ?? 0;
  if (row0 >= job.rows) throw new Error(`the scan state to carry on from is at row ${row0}, past the dataset's ${job.rows} rows`);
  const part = resume ? `r${row0}` : undefined;
  const measured = resume ? job.groups.map((g) => ({ ...g, files: resume.groups.find((r) => r.index === g.index)?.files ?? [] })) : job.groups;
  const tables = await loadGroups(jobs, config, output, job.runId, measured, part, concurrency);
  // Whole groups loaded (their tables named without a part), for the key and the beyond-10-sd pass.
  const whole = new Map<number, string>(resume ? [] : job.groups.map((g, k) => [g.index, tables[k]!.table]));
  const loading = new Map<number, Promise<string>>();
  const wholeTable = (g: ProfileJob['groups'][number]): Promise<string> => {
    const known = whole.get(g.index);
    if (known) return Promise.resolve(known);
    if (!loading.has(g.index)) loading.set(g.index, loadGroups(jobs, config, output, job.runId, [g]).then((t) => t[0]!.table));
    return loading.get(g.index)!;
  };
  // The stretches of the measured rows (a shard each); the state is kept at the one starting at the snapshot row.
  const { stretches, numbering } = stretchesFrom(job, row0);
  const keeps = job.snapshotAt !== undefined && stretches.some((x) => x.first === job.snapshotAt);
  const snap = keeps ? job.snapshotAt! : job.rows;
  const allSample = sampleRows(job.rows, job);
  const earlierSample = resume && (await resume.from.sample);
  const labels = new Set(job.labels);
  // The earlier dataset's state and tails, for the far values' counts before row0.
  const resumed = resumedTails(job);

  const measure = async ({ k, batch, from }: { k: number; batch: string[]; from: number }) => {
    const t = tables[k]!;
    const initial = resume ? pickStates(batch, new Set(), resume.from.state) : emptyState(batch);
    if (!initial) throw new Error(`the scan state to carry on from lacks some of group ${measured[k]!.index}'s columns`);
    const segments = renderScanSegments(dataset, t.table, batch);
    const rows = await jobs.read<Row>({
      key: `profile_scan_${t.table}_${from}`,
      step: 'profile_scan',
      sql: segments.sql,
      params: { ...numbering, warmup: job.warmupRows, block_from: job.blockFrom, block_rows: job.blockRows, spread_step: job.spreadStep },
    });
    // The stretches joined in row order to the state, which is kept as it stands at the snapshot row.
    const bySeg = new Map(rows.map((r) => [Number(r.seg), r]));
    let state = initial;
    let atSnap = initial;
    stretches.forEach((x, seg) => {
      if (x.first === snap) atSnap = state;
      state = carrySegments(state, new Map(batch.map((column, i) => [column, segmentOf(bySeg.get(seg) ?? {}, i, x.first, x.first + x.rows)])));
    });
    // After the last row: the state a later dataset that grows this one's last shard carries on from.
    const end = state;
    // The sample: the earlier dataset's values before row0 (the same rows), the stretches' from there on.
    const sampled = new Map<number, Float64Array>();
    for (const r of rows) {
      const at = (Array.isArray(r.sample_rn) ? r.sample_rn : []).map(Number);
      batch.forEach((_, i) => {
        const values = (Array.isArray(r[`s${i}_sample`]) ? r[`s${i}_sample`] : []) as { v?: unknown }[];
        if (values.length !== at.length) throw new Error(`the sample of ${t.table} came back with ${values.length} values of column ${i} for ${at.length} rows`);
        at.forEach((rowNumber, k) => {
          if (!sampled.has(rowNumber)) sampled.set(rowNumber, new Float64Array(batch.length).fill(NaN));
          sampled.get(rowNumber)![i] = num(values[k]?.v) ?? NaN;
        });
      });
    }
    const values = batch.map((_, i) => Float64Array.from(allSample, (r) => (r < row0 ? NaN : (sampled.get(r)?.[i] ?? NaN))));
    if (earlierSample) fillEarlierSample(batch, allSample, values, row0, earlierSample);
    const batchValues = Object.fromEntries(batch.map((column, i) => [column, values[i]!]));
    const scan = new ColumnScan(batch, job, job.rows, { state: end, sample: { rows: allSample, values: batchValues } });
    const stats = scan.stats(labels);
    const whole = () => wholeTable(job.groups[k]!);
    const counted = await countBeyond(jobs, dataset, t.table, stats, resumed, whole, `${t.table}_${from}`);
    const tails = keeps ? await keptTails(jobs, dataset, { table: t.table, row0 }, whole, (at) => stretchesFrom(job, at).numbering, stats, atSnap, snap, resumed, `${t.table}_${from}`) : {};
    return { stats, sample: scan.sample, atSnap, end, counted, tails };
  };
  // Carrying on, group 0's whole key (gaps, fold rows) is loaded meanwhile; a failure is
  // reported where it is awaited, after the batches.
  const keysTable = wholeTable(job.groups[0]!);
  keysTable.catch(() => {});
  // Every batch of every group, a few at once (each is a BigQuery job of seconds; one after
  // another, the demo's 98 batches were minutes), the results in group and column order.
  const batches = tables.flatMap((t, k) => {
    const names = t.columns.filter((n) => n !== job.key);
    return Array.from({ length: Math.ceil(names.length / BIGQUERY_PROFILE_BATCH) }, (_, b) => ({ k, from: b * BIGQUERY_PROFILE_BATCH, batch: names.slice(b * BIGQUERY_PROFILE_BATCH, (b + 1) * BIGQUERY_PROFILE_BATCH) }));
  });
  const measuredBatches = await mapLimit(batches, concurrency, measure);
  const columns: ColumnStats[] = measuredBatches.flatMap((m) => m.stats);
  const values: Record<string, Float64Array> = {};
  measuredBatches.forEach((m, b) => batches[b]!.batch.forEach((column, i) => (values[column] = m.sample[i]!)));
  const snapshots: ScanState[] = measuredBatches.map((m) => m.atSnap);
  const beyond = measuredBatches.reduce((n, m) => ({ carried: n.carried + m.counted.carried, reread: n.reread + m.counted.reread }), { carried: 0, reread: 0 });
  const keys = await keysTable;
  const gapsSql = renderKeyGaps(dataset, keys);
  const gaps = (await jobs.read<Row>({ key: 'profile_gaps', step: 'profile_gaps', sql: gapsSql.sql })).map(
    (r): KeyGap => ({ from: String(r.gap_from), to: String(r.gap_to), minutes: Number(r.minutes) }),
  );
  let cutRows: number[] = [];
  if (job.cuts.length > 0) {
    const cuts = renderCutRows(dataset, keys);
    const rows = await jobs.read<Row>({ key: 'profile_cuts', step: 'profile_cuts', sql: cuts.sql, params: { cuts: job.cuts.map((c) => new Date(c)) } });
    cutRows = rows.map((r) => Number(r.rows_before));
  }
  const scanState = keeps ? joinStates(snapshots) : undefined;
  const scanTails: Record<string, Tail> = Object.assign({}, ...measuredBatches.map((m) => m.tails));
  // The state after the last row goes back without tails (as DuckDB's batches keep none): a later
  // dataset carrying on from it counts the far values of the columns that need them on every row.
  const endState = joinStates(measuredBatches.map((m) => m.end));
  return { columns, gaps, sample: { rows: allSample, values }, cutRows, ...(scanState ? { scanState, scanTails } : {}), ...(endState ? { endState } : {}), ...(resume ? { beyond } : {}) };
}

/** CORR's result: NaN where a column is constant or a value is NaN or infinite reads as null, as the embedded comparison gives it. */
function correlation(v: unknown): number | null {
  const n = num(v);
  return n === null || Number.isNaN(n) ? null : n;
}

/** Pairs per comparison statement, and the distinct shifts one may join (renderCompare: a join of the numbered rows per shift). */
export const COMPARE_BATCH = 200;
export const COMPARE_SHIFTS = 8;

/** The pairs in runs of at most COMPARE_BATCH, each with at most COMPARE_SHIFTS distinct non-zero shifts, in order. */
export function compareBatches<P extends { shift: number }>(pairs: readonly P[]): { from: number; pairs: P[] }[] {
  const batches: { from: number; pairs: P[]; shifts: Set<number> }[] = [];
  pairs.forEach((p, i) => {
    const last = batches.at(-1);
    const joins = last && p.shift !== 0 && !last.shifts.has(p.shift) ? last.shifts.size + 1 : (last?.shifts.size ?? 0);
    if (!last || last.pairs.length >= COMPARE_BATCH || joins > COMPARE_SHIFTS) batches.push({ from: i, pairs: [], shifts: new Set() });
    const batch = batches.at(-1)!;
    batch.pairs.push(p);
    if (p.shift !== 0) batch.shifts.add(p.shift);
  });
  return batches.map(({ from, pairs: ps }) => ({ from, pairs: ps }));
}

export async function compareBigQuery(runner: ProfileRunner, config: Config, output: ObjectStore, job: CompareJob, concurrency = 1): Promise<ColumnComparison[]> {
  if (job.pairs.length === 0) return [];
  const jobs = salted(runner, { groups: job.groups, part: job.part });
  const wanted = new Set(job.pairs.flatMap((p) => [p.a, p.b]));
  const involved = job.groups.filter((g) => g.columns.slice(1).some((c) => wanted.has(c)));
  const tables = await loadGroups(jobs, config, output, job.runId, involved, job.part, concurrency);
  const out: ColumnComparison[] = [];
  for (const { from, pairs } of compareBatches(job.pairs)) {
    const r = renderCompare(config.gcp.scratchDataset, tables, pairs, job.step);
    const [row] = await jobs.read<Row>({ key: `profile_compare_${job.part ? `${job.part}_` : ''}${from}`, step: 'profile_compare', sql: r.sql, ...(r.params ? { params: r.params } : {}) });
    pairs.forEach((p, i) =>
      out.push({ ...p, both: num(row?.[`both${i}`]) ?? 0, equal: num(row?.[`equal${i}`]) ?? 0, nullMismatch: num(row?.[`mismatch${i}`]) ?? 0, correlation: correlation(row?.[`corr${i}`]) }),
    );
  }
  return out;
}
