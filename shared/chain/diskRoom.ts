// Room on disk for a run, checked before it writes anything. A run that outgrows its disk fails in
// its merge, minutes or hours in (at 60,000 rows a `--no-reuse` run writes 15 GB; 1,000,000 rows
// about 270 GB), and leaves a failed run to clear and resume (`bqx gc`, `bqx rerun --merge`).
// Where the stores say how much they can hold (a folder; a bucket cannot run out), the run's
// writes are estimated from its frozen plan and the run is refused, with what it needs and
// what is free, when they do not fit. BQX_DISK_CHECK=off runs it anyway.
//
// The estimate counts 8 bytes a cell, the width of the FLOAT64 values nearly every column holds:
// zstd barely shrinks them (the default demo: 10,000 rows x 17,038 columns, 1.36 GB by this count;
// its checkpoints took 1.3 GB and its output 1.4 GB).

import { planMerge } from '../planner.js';
import type { RunManifest } from '../manifest.js';
import { InputError } from '../naming.js';
import type { ObjectStore, Room, Window } from '../ports.js';
import type { GrownShard } from './shareShards.js';
import { shardGrid } from '../shards.js';
import type { Config } from '../config.js';

/** Bytes a cell is counted at, in every estimate of what bqx writes (the demo's too: shared/demo/size.ts). */
export const CELL_BYTES = 8;
/** Sampled rows a column keeps in the stored profile (565 at 20,000 rows: shared/profile/profile.ts sampleLayout), rounded up. */
const PROFILE_SAMPLE_ROWS = 600;

/** What the run will write: its checkpoints to staging, its dataset (and profile) to output. */
export interface RunWrites {
  staging: number;
  output: number;
}

/** The part of a run's shards it builds (the rest shared from the previous version), as the start plans them. */
export interface BuildPlan {
  rebuilt: readonly string[];
  /** Only these column groups of the rebuilt shards. */
  groups?: readonly number[];
  grown?: readonly GrownShard[];
}

const span = (w: Window) => Math.max(0, Date.parse(w.end) - Date.parse(w.start));

/** Rows of `part`, spread evenly over the time of `segment`, which holds `rows`. */
const share = (segment: Window, rows: number, part: Window) => {
  const overlap = span({ start: part.start > segment.start ? part.start : segment.start, end: part.end < segment.end ? part.end : segment.end });
  return span(segment) === 0 ? 0 : (rows * overlap) / span(segment);
};

/**
 * Bytes a run writes, from its manifest: each feature it extracts, for the rows it extracts (the
 * new range of an incremental one), and each shard and column group it builds, for the rows built
 * (from `from` in a grown shard). Rows are spread evenly over the window's time, or, for a refresh
 * (`before`: the earlier version's end and label rows), over the earlier window and the new minutes
 * apart: a day appended after a weekend holds a day's rows in a fifth of the time.
 */
export function estimateWrites(
  manifest: RunManifest,
  build: BuildPlan | undefined,
  config: Pick<Config, 'shard' | 'maxGroupColumns' | 'groupColumns' | 'joinBatchTables'>,
  before?: { end: string; rows: number },
): RunWrites {
  const window = manifest.window;
  const segments: [Window, number][] = before && before.end > window.start && before.end < window.end && before.rows <= manifest.labels.rows
    ? [[{ start: window.start, end: before.end }, before.rows], [{ start: before.end, end: window.end }, manifest.labels.rows - before.rows]]
    : [[window, manifest.labels.rows]];
  const rowsIn = (w: Window) => segments.reduce((n, [segment, rows]) => n + share(segment, rows, w), 0);
  let staging = 0;
  for (const f of manifest.features) {
    if (f.reuse) continue;
    const rows = f.incremental ? rowsIn(f.incremental.range) : manifest.labels.rows;
    staging += rows * (f.columns.length + 1) * CELL_BYTES;
  }
  let columns = manifest.columnCount;
  let rows = manifest.labels.rows;
  if (build) {
    if (build.groups) {
      const built = new Set(build.groups);
      columns = planMerge(manifest, config).groups.filter((g) => built.has(g.index)).reduce((n, g) => n + g.columns.length, 0);
    }
    const rebuilt = new Set(build.rebuilt);
    const grown = new Map((build.grown ?? []).map((g) => [g.id, g.from]));
    rows = shardGrid(window, config.shard)
      .filter((s) => rebuilt.has(s.id))
      .reduce((n, s) => n + rowsIn({ start: grown.get(s.id) ?? s.start, end: s.end }), 0);
  }
  const output = rows * columns * CELL_BYTES + Math.min(PROFILE_SAMPLE_ROWS, manifest.labels.rows) * manifest.columnCount * CELL_BYTES;
  return { staging: Math.round(staging), output: Math.round(output) };
}

/** Bytes as people read them: 60 KB, 203 MB, 1.41 GB, 142.7 GB. */
export const sizeText = (bytes: number) =>
  bytes < 1e6 ? `${Math.ceil(bytes / 1e3)} KB` : bytes < 1e9 ? `${Math.round(bytes / 1e6)} MB` : `${(bytes / 1e9).toFixed(bytes < 1e10 ? 2 : 1)} GB`;

/**
 * Throws an InputError when a bounded store's file system cannot hold what the run writes to
 * it (staging and output on one file system count together). Returns the rooms it checked.
 */
export async function checkRoom(
  stores: { staging: ObjectStore; output: ObjectStore },
  writes: RunWrites,
  what: { name: string; advice: string } = { name: 'this run', advice: 'run a shorter window (--start, --end)' },
): Promise<Room[]> {
  const [staging, output] = await Promise.all([stores.staging.room(), stores.output.room()]);
  const volumes = new Map<string, { room: Room; need: number }>();
  for (const [room, need] of [[staging, writes.staging], [output, writes.output]] as const) {
    if (!room) continue;
    const entry = volumes.get(room.volume) ?? { room, need: 0 };
    entry.need += need;
    volumes.set(room.volume, entry);
  }
  for (const { room, need } of volumes.values()) {
    if (need <= room.free) continue;
    // Which writes make up the need, where two do.
    const parts = [
      writes.staging > 0 && staging?.volume === room.volume ? `checkpoints ${sizeText(writes.staging)}` : '',
      writes.output > 0 && output?.volume === room.volume ? `dataset ${sizeText(writes.output)}` : '',
    ].filter(Boolean);
    throw new InputError(
      `not enough disk for ${what.name}: it writes about ${sizeText(need)}${parts.length > 1 ? ` (${parts.join(', ')})` : ''} and ${room.where} has ${sizeText(room.free)} free. ` +
        `Free space (\`bqx gc --keep 1\` removes older datasets; with --dry-run it says how much first), ${what.advice}, or set BQX_DISK_CHECK=off to run anyway`,
    );
  }
  return [...volumes.values()].map((v) => v.room);
}
