// The profile port on DuckDB: measures the output dataset where it lies (the output parquet).
// DuckDB decodes a batch of columns and streams it in chunks; the per-column statistics are all
// computed in one pass over those chunks (shared/profile/columnScan.ts), so every value is read
// once and memory follows the batch width (profileBatchColumns). Only columns whose min or max lies beyond
// 10 sd of the mean are read a second time (to count those values).
// Columns in bqx's own parquet encodings (parquetDoubles.ts: every DOUBLE column bqx writes) are
// decoded in worker threads of this process instead (parquetScan.ts, threadPool.ts): DuckDB's
// reader costs about 1 ms per column chunk of a 9,900-column file. The same values in the same row
// order give the same statistics to the last bit; the rest (an integer column) stays with DuckDB.

import type { DuckDBConnection, DuckDBDataChunk, DuckDBValue } from '@duckdb/node-api';
import { listValue } from './duckdbApi.js';
import bindings from '@duckdb/node-bindings';
import { asyncBufferFromFile } from 'hyparquet';
import { groupKeys, readKeyColumn } from '../../parquetKeys.js';
import { ColumnScan, beyondCandidates, fillEarlierSample, type ColumnChunk } from '../../profile/columnScan.js';
import { keyGaps, rowsBefore } from '../../profile/gaps.js';
import { beyondBefore, endTailPlans, MAX_TAIL_VALUES, resumedTails, tailPlans, type Tail } from '../../profile/outlierTails.js';
import { joinStates, pickStates, type ScanState } from '../../profile/scanState.js';
import type { ColumnComparison, ColumnStats, CompareJob, ProfileData, ProfileJob } from '../../profile/types.js';
import type { MergeProgress } from '../../ports.js';
import * as sql from './duckdbProfileSql.js';
import { readableDoubles } from './parquetDoubles.js';
import { FooterCache, resumeFor, type ScanOutcome, type ScanTask } from './parquetScan.js';
import type { KeptPool } from './keptPool.js';
import { ThreadPool } from './threadPool.js';

type WithConnection = <T>(body: (c: DuckDBConnection) => Promise<T>) => Promise<T>;

/** Rows DuckDB decodes at a time per column: a parquet row group at most (DuckDB writes 122,880). */
const ROW_GROUP_ROWS = 122_880;

/**
 * Columns decoded per statement. The parquet reader holds a row group's pages per column, raw
 * and decoded, and the stream a few 2,048-row chunks: about 48 bytes per row per column
 * (measured: 4,000 columns at 10,000 rows took 1.9 GB), per row group being decoded (`decoding`:
 * one per DuckDB thread when the statement reads several files). Within an eighth of the memory
 * setting, so the profile stays a few hundred MB whatever the width. `rowGroupRows` is the largest
 * row group the files hold: a dataset of many small shards (days) has small row groups, so a batch
 * can be far wider and the statements far fewer (each one binds every file's 9,900-column schema).
 */
export function profileBatchColumns(memoryMb: number, rowGroupRows: number, decoding = 1): number {
  const perColumn = Math.max(2048, Math.min(rowGroupRows, ROW_GROUP_ROWS)) * 48 * decoding;
  return Math.max(MIN_BATCH_COLUMNS, Math.min(4000, Math.floor((memoryMb * 2 ** 20) / 8 / perColumn)));
}

/** The fewest columns a statement decodes: fewer would make statements, not memory, the cost. */
const MIN_BATCH_COLUMNS = 50;

/** Batches decoded at once: one per core of this machine's two (see profileDuckDb). */
export const PROFILE_STREAMS = 2;

/**
 * Batches decoded at once. DuckDB's statements share the memory one batch of profileBatchColumns
 * would take (`budget`): where that is already at its floor (long tables), one statement at a
 * time, so they never take more. bqx's own threads are PROFILE_STREAMS whatever the budget: a
 * thread decodes one column chunk at a time (parquetScan.ts), so its memory follows a row group,
 * not the batch's width times its rows. (At 177,748 rows with month shards the budget's floor had
 * left one thread as well: the profile on one core, 32 s where two take 19 s.)
 */
export function profileStreams(budget: number, ownBatches: number): { duckdb: number; threads: number } {
  return { duckdb: Math.max(1, Math.min(PROFILE_STREAMS, Math.floor(budget / MIN_BATCH_COLUMNS))), threads: Math.min(PROFILE_STREAMS, ownBatches) };
}

/** Profile jobs this process has sent its scan threads (ScanTask `job`). */
let profileJobs = 0;

const num = (v: DuckDBValue | undefined): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * `footers`: where the output files' layouts are kept; the warehouse hands the same cache to the
 * comparisons that follow (parquetCompare.ts). `kept`: the warehouse's scan threads, kept between
 * its profile jobs; without it the job starts its own and ends them.
 */
export async function profileDuckDb(
  withConnection: WithConnection,
  uri: (object: string) => string,
  job: ProfileJob,
  engine: { memoryMb: number; threads: number },
  progress: (p: MergeProgress) => void = () => {},
  footers = new FooterCache(),
  kept?: KeptPool<ScanTask, ScanOutcome>,
): Promise<ProfileData> {
  // The column pass reads the files holding rows from where it starts: all of them, or on a
  // carried-on scan only the rebuilt shards' (the second pass and the key read them all).
  const scanFiles = new Map((job.resume?.groups ?? job.groups).map((g) => [g.index, g.files]));
  const files = [...scanFiles.values()].flat().map(uri);
  // Each file's footer read once for the whole profile (a file serves every batch of its group).
  // The key is read from the first group's files, projected as their footers are read: DuckDB
  // parsed every 9,900-column footer again for each statement over them (2 s a profile at 20,000
  // rows for the gaps, the fold rows and the row-group bound).
  const keyFiles = job.groups[0]!.files.map(uri);
  const keyMetadata = keyFiles.map((f) => footers.project(f, [job.key]));
  const largest = files.length > 0 ? Math.max(...files.map((f) => footers.get(f).rows)) : job.rows;
  const perFile = Math.max(...[...scanFiles.values()].map((f) => f.length));
  // A statement over several files decodes one row group per DuckDB thread.
  const budget = profileBatchColumns(engine.memoryMb, Math.min(job.rows, largest), Math.min(perFile, engine.threads));
  // A batch takes its share of the budget among the statements DuckDB runs at once.
  const batch = Math.floor(budget / profileStreams(budget, 0).duckdb);
  const labels = new Set(job.labels);
  const layout = { warmupRows: job.warmupRows, blockFrom: job.blockFrom, blockRows: job.blockRows, spreadStep: job.spreadStep };
  const batches = job.groups.flatMap((group) => {
    const paths = (scanFiles.get(group.index) ?? []).map(uri);
    const allPaths = group.files.map(uri);
    const [files, all] = [listValue(paths), listValue(allPaths)];
    const names = group.columns.filter((n) => n !== job.key);
    // The columns decoded here (in bqx's own encodings in every file scanned) and the rest, batched
    // apart. Only the scanned files are asked: on a carried-on scan the others are the shared
    // shards, whose footers cost 0.9 s of a refresh's profile to read here for nothing; the thread
    // asks them itself for the few columns its second pass reads there (ScanOutcome `unmeasured`).
    const decodable = new Set(names.filter((n) => paths.every((f) => readableDoubles(footers.get(f), [n]))));
    const slices = (list: string[], own: boolean) =>
      Array.from({ length: Math.ceil(list.length / batch) }, (_, b) => ({ paths, allPaths, files, all, own, part: list.slice(b * batch, (b + 1) * batch) }));
    return [...slices(names.filter((n) => decodable.has(n)), true), ...slices(names.filter((n) => !decodable.has(n)), false)];
  });
  const streams = profileStreams(budget, batches.filter((b) => b.own).length);
  const threads = streams.threads === 0 ? undefined : kept ? kept.take() : new ThreadPool<ScanTask, ScanOutcome>('profileScanWorker', streams.threads, 'profile scan');
  const scanned: ScanOutcome[] = new Array(batches.length);
  const jobNumber = ++profileJobs;
  // Batches at once keep the cores busy: a thread each for bqx's own columns, and for DuckDB's a
  // statement each (a parquet file of one row group is decoded by one DuckDB thread per
  // statement; decoding was most of the profile's wall, one core). Workers from `streams.duckdb` on
  // take bqx's own batches only; all take them in the dataset's order (group 0 first: the merge
  // writes it last, so past the page cache it is the likeliest still there).
  const queue = batches.map((_, b) => b);
  const take = (anyKind: boolean): number | undefined => {
    const at = anyKind ? 0 : queue.findIndex((b) => batches[b]!.own);
    return at < 0 || at >= queue.length ? undefined : queue.splice(at, 1)[0];
  };
  let done = 0;
  progress({ step: 'columns', done, total: batches.length });
  const worker = (slot: number) =>
    withConnection(async (c) => {
      for (let b = take(slot < streams.duckdb); b !== undefined; b = take(slot < streams.duckdb)) {
        const { paths, allPaths, files, all, own, part } = batches[b]!;
        let outcome: ScanOutcome;
        if (own) {
          const tails = job.resume?.tails && Object.fromEntries(part.filter((c) => job.resume!.tails![c]).map((c) => [c, job.resume!.tails![c]!]));
          outcome = await threads!.run({ paths, all: allPaths, columns: part, layout, rows: job.rows, labels: job.labels, resume: resumeFor(job.resume?.from.state, part), snapshotAt: job.snapshotAt, job: jobNumber, ...(tails ? { tails } : {}) });
          // The sample rows before the resumed row, from the earlier sample (the thread was not sent it).
          if (job.resume) fillEarlierSample(outcome.columns, outcome.sampleRows, outcome.sample, job.resume.from.state.row, await job.resume.from.sample);
          const unmeasured = new Set(outcome.unmeasured);
          if (unmeasured.size > 0) await beyond10sd(c, all, outcome.stats.filter((s) => unmeasured.has(s.column)));
          if (outcome.beyond) outcome.beyond.reread += unmeasured.size;
        } else {
          const scan = new ColumnScan(part, layout, job.rows, job.resume && { state: job.resume.from.state, sample: await job.resume.from.sample }, job.snapshotAt);
          await scanBatch(c, files, part, scan);
          const snapshot = scan.snapshot();
          const end = scan.state();
          outcome = { stats: scan.stats(labels), columns: [...scan.columns], sample: scan.sample, sampleRows: scan.sampleRows, ...(snapshot ? { snapshot } : {}), end };
          // Columns whose rows before a resumed scan's row are told by its state and kept tails
          // are counted over the scanned files only (outlierTails.ts), the rest over every file.
          const before = job.resume?.from.state;
          const known = new Map<string, number>();
          for (const s of before ? beyondCandidates(outcome.stats) : []) {
            const n = beyondBefore(before!, s.column, s.mean!, s.sd!, job.resume?.tails?.[s.column]);
            if (n !== undefined) known.set(s.column, n);
          }
          await beyond10sd(c, files, outcome.stats.filter((s) => known.has(s.column)));
          for (const s of outcome.stats) if (known.has(s.column)) s.beyond10sd += known.get(s.column)!;
          const reread = outcome.stats.filter((s) => !known.has(s.column));
          await beyond10sd(c, all, reread);
          if (before) outcome.beyond = { carried: known.size, reread: beyondCandidates(reread).length };
          if (snapshot && job.snapshotAt !== undefined) outcome.tails = await tailsByDuckDb(c, job, allPaths, outcome.stats, snapshot, footers);
          outcome.endTails = await endTailsByDuckDb(c, job, allPaths, outcome.stats, end, outcome.tails, footers);
        }
        scanned[b] = outcome;
        progress({ step: 'columns', done: ++done, total: batches.length });
      }
    });
  try {
    await Promise.all(Array.from({ length: Math.min(Math.max(streams.duckdb, streams.threads), batches.length) }, (_, slot) => worker(slot)));
  } finally {
    if (threads && kept) kept.release(job.followed === true);
    else await threads?.close();
  }
  // In the dataset's column order (the batches of one group are cut by decoder first).
  const position = new Map(job.groups.flatMap((g) => g.columns).map((c, i) => [c, i]));
  const columns = scanned.flatMap((s) => s.stats).sort((a, b) => position.get(a.column)! - position.get(b.column)!);
  const values: Record<string, Float64Array> = {};
  for (const s of scanned) s.columns.forEach((column, i) => (values[column] = s.sample[i]!));
  const sampleRows = scanned.at(-1)?.sampleRows ?? [];
  const { keys } = groupKeys(await Promise.all(keyFiles.map(async (f, i) => readKeyColumn(await asyncBufferFromFile(f), keyMetadata[i]!, job.key))));
  const gaps = keyGaps(keys);
  const cutRows = rowsBefore(keys, job.cuts);
  // The kept state in the dataset's order too, whichever batches measured its columns.
  const inOrder = (joined: ScanState | undefined) => joined && pickStates([...joined.columns].sort((a, b) => position.get(a)! - position.get(b)!), new Set(), joined);
  const scanState = job.snapshotAt === undefined ? undefined : inOrder(joinStates(scanned.map((s) => s.snapshot)));
  // The state after the last row, with the tails there bqx's threads found (DuckDB's batches keep
  // none: a later dataset carrying on from it reads those columns' earlier rows again).
  const endState = inOrder(joinStates(scanned.map((s) => s.end)));
  const endTails = endState ? Object.assign({}, ...scanned.map((s) => s.endTails ?? {})) : undefined;
  // The tails go with the state, every batch's (bqx's threads' and DuckDB's).
  const scanTails = scanState ? Object.assign({}, ...scanned.map((s) => s.tails ?? {})) : undefined;
  const beyond = job.resume ? { carried: scanned.reduce((n, s) => n + (s.beyond?.carried ?? 0), 0), reread: scanned.reduce((n, s) => n + (s.beyond?.reread ?? 0), 0) } : undefined;
  return { columns, gaps, sample: { rows: sampleRows, values }, cutRows, ...(scanState ? { scanState, scanTails } : {}), ...(endState ? { endState, endTails } : {}), ...(beyond ? { beyond } : {}) };
}

/** Streams one batch of columns through `scan`, decoded by DuckDB. */
async function scanBatch(c: DuckDBConnection, files: DuckDBValue, part: readonly string[], scan: ColumnScan): Promise<void> {
  const result = await c.stream(sql.doublesSql(part), [files]);
  // One chunk ahead: DuckDB decodes the next chunk on its own thread while this one is
  // scanned here (each fetched chunk is the caller's own memory until collected), so the
  // decoding and the statistics overlap instead of taking turns.
  let next = result.fetchChunk();
  try {
    for (let chunk = await next; chunk !== null && chunk.rowCount > 0; chunk = await next) {
      next = result.fetchChunk();
      const rows = chunk.rowCount;
      scan.add(rows, (j) => doubleColumn(chunk, j, rows));
    }
  } finally {
    await next.catch(() => null);
  }
}

/**
 * Column j of a chunk of DOUBLEs as it lies in DuckDB's memory (the C API's vector data and
 * validity mask, no copy): the vector object's getItem tests validity with BigInt arithmetic per
 * value, far more work than the statistics themselves.
 */
function doubleColumn(chunk: DuckDBDataChunk, j: number, rows: number): ColumnChunk {
  const vector = bindings.data_chunk_get_vector(chunk.chunk, j);
  const data = bindings.vector_get_data(vector, rows * 8);
  const mask = bindings.vector_get_validity(vector, Math.ceil(rows / 64) * 8);
  return {
    values: new Float64Array(data.buffer, data.byteOffset, rows),
    valid: mask ? new Uint32Array(mask.buffer, mask.byteOffset, Math.ceil(rows / 64) * 2) : null,
  };
}

/** The tails at the snapshot row of a batch DuckDB decodes (outlierTails.ts `tailPlans`, by SQL). */
async function tailsByDuckDb(c: DuckDBConnection, job: ProfileJob, allPaths: string[], stats: readonly ColumnStats[], snapshot: ScanState, footers: FooterCache): Promise<Record<string, Tail>> {
  return collectTails(c, tailPlans(stats, snapshot, job.snapshotAt!, allPaths, (f) => footers.get(f).rows, resumedTails(job)));
}

/** The tails after the last row of a batch DuckDB decodes (outlierTails.ts `endTailPlans`, by SQL). */
async function endTailsByDuckDb(c: DuckDBConnection, job: ProfileJob, allPaths: string[], stats: readonly ColumnStats[], end: ScanState, atSnapshot: Record<string, Tail> | undefined, footers: FooterCache): Promise<Record<string, Tail>> {
  const snapshot = atSnapshot && job.snapshotAt !== undefined ? { row: job.snapshotAt, tails: atSnapshot } : undefined;
  return collectTails(c, endTailPlans(stats, end, allPaths, (f) => footers.get(f).rows, resumedTails(job), snapshot));
}

/** Each plan's kept values and its files' values outside its band; a column past MAX_TAIL_VALUES keeps none. */
async function collectTails(c: DuckDBConnection, plans: ReturnType<typeof tailPlans>): Promise<Record<string, Tail>> {
  const tails: Record<string, Tail> = {};
  for (const { column, plan, files } of plans) {
    const rows = files.length === 0 ? [] : (await c.runAndReadAll(sql.outsideSql(column, MAX_TAIL_VALUES + 1), [listValue(files), plan.lo, plan.hi])).getRows();
    if (rows.length > MAX_TAIL_VALUES - (plan.kept?.length ?? 0)) continue;
    tails[column] = { lo: plan.lo, hi: plan.hi, values: Float64Array.from([...(plan.kept ?? []), ...rows.map((r) => Number(r[0]))]) };
  }
  return tails;
}

/** Values further than 10 sd from the mean, for the few columns whose min or max lies that far. */
async function beyond10sd(c: DuckDBConnection, files: DuckDBValue, stats: ColumnStats[]): Promise<void> {
  const far = beyondCandidates(stats);
  for (let from = 0; from < far.length; from += 500) {
    const part = far.slice(from, from + 500);
    const [row] = (await c.runAndReadAll(sql.beyondSql(part.map((s) => s.column)), [files, ...part.flatMap((s) => [s.mean!, s.sd!])])).getRows();
    part.forEach((s, k) => (s.beyond10sd = Number(row![k])));
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
