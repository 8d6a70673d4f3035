// One batch of the profile's columns through a column scan, decoded from bqx's own parquet files
// (parquetDoubles.ts), in a worker thread of its own (profileScanWorker.ts): the decoding is
// JavaScript, so without threads it would use one of the machine's cores. The scan gives back
// what the profile keeps of it: statistics, the sample's values, the scan state at `snapshotAt`.

import { closeSync, openSync } from 'node:fs';
import { ColumnScan, beyondCandidates, type ScanLayout, type ScanStart } from '../../profile/columnScan.js';
import { beyond, beyondBefore, endTailPlans, MAX_TAIL_VALUES, tailPlans, type Tail } from '../../profile/outlierTails.js';
import { pickStates, stateColumns, type ScanState } from '../../profile/scanState.js';
import type { ColumnStats } from '../../profile/types.js';
import type { FileMetaData } from 'hyparquet';
import { readDoubleChunk, readableDoubles, type DecodeScratch } from './parquetDoubles.js';
import { projectMetadata } from './parquetFooter.js';
import { LruMap } from '../../lruMap.js';
import { layoutBytes, readLayout, type FileLayout, type FooterLayout } from './parquetLayout.js';

export interface ScanTask {
  /** The files holding the scanned rows, in row order. */
  paths: string[];
  /** Every file of the columns (the second pass, beyond 10 sd, reads the whole dataset). */
  all: string[];
  columns: string[];
  layout: ScanLayout;
  rows: number;
  labels: string[];
  /** Only `columns`' part of the earlier scan's state, without its sample: the caller fills those rows (columnScan.ts `fillEarlierSample`). */
  resume?: ScanStart;
  snapshotAt?: number;
  /** The kept tails of `columns` before the resumed row (outlierTails.ts). */
  tails?: Record<string, Tail>;
  /** The profile job the batch is of: a thread keeps the files' footers it read for that job only. */
  job?: number;
}

export interface ScanOutcome {
  stats: ColumnStats[];
  columns: string[];
  sample: Float64Array[];
  sampleRows: number[];
  snapshot?: ScanState;
  /** The state after the last row (ColumnScan `state`), and the tails there. */
  end: ScanState;
  endTails?: Record<string, Tail>;
  /**
   * Columns past the 10 sd screen whose second pass this thread could not decode (a file of theirs,
   * outside `paths`, not in bqx's own encodings): the caller counts them another way.
   */
  unmeasured?: string[];
  /** The tails at `snapshotAt`, for the columns whose values before it reach past the tail band. */
  tails?: Record<string, Tail>;
  /** On a resumed scan, candidates counted from the state and kept tails, and those whose earlier rows were read again. */
  beyond?: { carried: number; reread: number };
}

/**
 * Footers' layouts by file: every file bqx writes is new (written aside, then renamed), so one never
 * goes stale. The most recently used are kept, up to `maxBytes` of their column chunks' arrays:
 * kept all, they grew the profile's memory by the shard (about 1 MB a shard at 17,038 columns, in
 * each of its three threads).
 */
export class FooterCache {
  private readonly footers: LruMap<string, FileLayout>;

  constructor(maxBytes = DEFAULT_FOOTER_CACHE_BYTES) {
    this.footers = new LruMap(maxBytes);
  }

  get(file: string): FileLayout {
    // Without the footer's bytes (only the stitch copies from them).
    return this.footers.get(file) ?? this.keep(file, readLayout(file));
  }

  /**
   * `columns` of `file` as hyparquet metadata (parquetFooter.ts projectMetadata), from the footer
   * read once: the layout is kept as `get` keeps it.
   */
  project(file: string, columns: readonly string[]): FileMetaData {
    const read = readLayout(file);
    this.keep(file, read);
    return projectMetadata(read, columns);
  }

  private keep(file: string, { bytes: _bytes, ...layout }: FooterLayout): FileLayout {
    return this.footers.set(file, layout, layoutBytes(layout));
  }
}

/**
 * Layouts' bytes a cache keeps unless told: 128 MB, every output file of about 140 shards of 17,038
 * columns (six years of month shards at full size, or 18 day shards at 20,000 rows use half). The
 * profile's main thread reads every file's footer, then group after group: kept fewer than all,
 * each group's footers are read again (414 footers, about a second, at 20,000 rows on day shards
 * with 16 MB).
 */
const DEFAULT_FOOTER_CACHE_BYTES = 128 * 2 ** 20;

/** A profile thread's: its tasks read one column group's files at a time, 16 MB of which is 500 columns across about 500 shards. */
export const THREAD_FOOTER_CACHE_BYTES = 16 * 2 ** 20;

/** Scans `task`'s columns file after file, row group after row group: the order DuckDB reads them in. */
export function scanParquet(task: ScanTask, footers: FooterCache): ScanOutcome {
  const scan = new ColumnScan(task.columns, task.layout, task.rows, task.resume, task.snapshotAt);
  const scratch: DecodeScratch = {};
  eachRowGroup(task.paths, footers, (fd, layout, g) => {
    const rows = layout.rowGroups[g]!.rows;
    if (rows > 0) scan.add(rows, (j) => readDoubleChunk(fd, layout, g, task.columns[j]!, scratch));
  });
  const snapshot = scan.snapshot();
  const end = scan.state();
  const stats = scan.stats(new Set(task.labels));
  const unmeasured: string[] = [];
  const readable = (files: readonly string[], column: string) => files.every((file) => readableDoubles(footers.get(file), [column]));
  // The rows before a resumed scan's row are counted from its state and kept tails where they tell.
  const before = task.resume?.state;
  const beyond = { carried: 0, reread: 0 };
  for (const s of beyondCandidates(stats)) {
    const known = before && beyondBefore(before, s.column, s.mean!, s.sd!, task.tails?.[s.column]);
    if (known !== undefined && readable(task.paths, s.column)) {
      s.beyond10sd = known + countBeyond(task.paths, s.column, s.mean!, s.sd!, footers, scratch);
      beyond.carried++;
    } else if (readable(task.all, s.column)) {
      s.beyond10sd = countBeyond(task.all, s.column, s.mean!, s.sd!, footers, scratch);
      if (before) beyond.reread++;
    } else unmeasured.push(s.column);
  }
  const tails = snapshot && task.snapshotAt !== undefined ? snapshotTails(task, snapshot, stats, footers, scratch) : undefined;
  const atEnd = lastRowTails(task, end, stats, tails, footers, scratch);
  return {
    stats,
    columns: [...scan.columns],
    sample: scan.sample,
    sampleRows: scan.sampleRows,
    ...(snapshot ? { snapshot } : {}),
    end,
    ...(atEnd ? { endTails: atEnd } : {}),
    ...(unmeasured.length > 0 ? { unmeasured } : {}),
    ...(tails ? { tails } : {}),
    ...(before ? { beyond } : {}),
  };
}

/** A resumed scan's state and the tails kept with it, as the tail plans take them. */
const resumedTails = (task: ScanTask) => task.resume && { state: task.resume.state, ...(task.tails ? { tails: task.tails } : {}) };

/** The tails at the snapshot row (outlierTails.ts `tailPlans`) of this batch's columns that need one. */
function snapshotTails(task: ScanTask, snapshot: ScanState, stats: readonly ColumnStats[], footers: FooterCache, scratch: DecodeScratch): Record<string, Tail> {
  const tails: Record<string, Tail> = {};
  for (const { column, plan, files } of tailPlans(stats, snapshot, task.snapshotAt!, task.all, (f) => footers.get(f).rows, resumedTails(task))) {
    const tail = collectTail(files, column, plan, plan.kept, footers, scratch);
    if (tail) tails[column] = tail;
  }
  return tails;
}

/**
 * The tails after the last row, for a later dataset that grows the last shard by a part to carry
 * on from (profileReuse.ts `earlierScan`). A column's tail at the snapshot, in the same band,
 * already holds the rows before it: only the last shard's rows are read for it.
 */
function lastRowTails(task: ScanTask, end: ScanState, stats: readonly ColumnStats[], atSnapshot: Record<string, Tail> | undefined, footers: FooterCache, scratch: DecodeScratch): Record<string, Tail> | undefined {
  const tails: Record<string, Tail> = {};
  const snapshot = atSnapshot && task.snapshotAt !== undefined ? { row: task.snapshotAt, tails: atSnapshot } : undefined;
  for (const { column, plan, files } of endTailPlans(stats, end, task.all, (f) => footers.get(f).rows, resumedTails(task), snapshot)) {
    const tail = collectTail(files, column, plan, plan.kept, footers, scratch);
    if (tail) tails[column] = tail;
  }
  return Object.keys(tails).length > 0 ? tails : undefined;
}

/** `kept` and the values of `column` in `files` outside the band; undefined past MAX_TAIL_VALUES or where a file is not one decoded here. */
function collectTail(files: readonly string[], column: string, band: { lo: number; hi: number }, kept: Float64Array | undefined, footers: FooterCache, scratch: DecodeScratch): Tail | undefined {
  if (!files.every((file) => readableDoubles(footers.get(file), [column]))) return undefined;
  const values = kept ? [...kept] : [];
  let whole = true;
  eachRowGroup(files, footers, (fd, layout, g) => {
    if (!whole) return;
    const chunk = readDoubleChunk(fd, layout, g, column, scratch);
    for (let r = 0; r < layout.rowGroups[g]!.rows; r++) {
      if (chunk.valid && ((chunk.valid[r >>> 5]! >>> (r & 31)) & 1) === 0) continue;
      const v = chunk.values[r]!;
      if (v - v === 0 && (v < band.lo || v > band.hi)) values.push(v);
    }
    if (values.length > MAX_TAIL_VALUES) whole = false;
  });
  return whole ? { lo: band.lo, hi: band.hi, values: Float64Array.from(values) } : undefined;
}

/**
 * Finite values of `column` further than 10 sd from the mean, in every file: the second pass, for
 * the few columns whose min or max lies that far (duckdbProfileSql.ts `beyondSql`, the same test
 * in the same double arithmetic).
 */
function countBeyond(files: readonly string[], column: string, mean: number, sd: number, footers: FooterCache, scratch: DecodeScratch): number {
  const limit = 10 * sd;
  let n = 0;
  eachRowGroup(files, footers, (fd, layout, g) => {
    const { values, valid } = readDoubleChunk(fd, layout, g, column, scratch);
    for (let r = 0; r < values.length; r++) {
      if (valid && ((valid[r >>> 5]! >>> (r & 31)) & 1) === 0) continue;
      if (beyond(values[r]!, mean, limit)) n++;
    }
  });
  return n;
}

/** `visit` for each row group of each file in turn, the file open meanwhile; an error names the file. */
function eachRowGroup(files: readonly string[], footers: FooterCache, visit: (fd: number, layout: FileLayout, group: number) => void): void {
  for (const file of files) {
    const layout = footers.get(file);
    const fd = openSync(file, 'r');
    try {
      for (let g = 0; g < layout.rowGroups.length; g++) visit(fd, layout, g);
    } catch (e) {
      throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * `resume`'s state narrowed to `columns`, in arrays of its own (a task is sent to a thread by copy),
 * without the earlier sample: the caller fills those rows from it when the thread answers
 * (columnScan.ts `fillEarlierSample`).
 */
export function resumeFor(from: ScanState | undefined, columns: readonly string[]): ScanStart | undefined {
  if (!from) return undefined;
  const state = pickStates(columns, new Set(), from);
  if (!state) throw new Error(`the scan state has no column ${columns.find((c) => !stateColumns(from).has(c))}`);
  return { state };
}
