// Time shards: a dataset's rows are cut into UTC calendar cells (months, ISO weeks starting
// Monday, or days), clipped to the run's window. Each (shard, column group) is written by its own
// bounded step, and a shard is named after its calendar cell, not its position, so the same cell
// has the same name in every run: a later version of the dataset can point at an unchanged
// shard's files instead of writing them again.

import type { ShardUnit } from './config.js';
import type { Window } from './ports.js';

/**
 * Files a shard's column group may hold, one a part, before a refresh builds the shard again whole
 * (shared/chain/shareShards.ts): daily refreshes of month shards add a part a day, and each part is
 * one more file for every reader to open. The embedded extract gathers a partial cell's checkpoint
 * files into one at the same count, so the two happen together.
 */
export const MAX_SHARD_PARTS = 4;

export interface Shard {
  /** Position in the run's grid, from 0. */
  index: number;
  /** The calendar cell's start as YYYYMMDD (UTC): the shard's name in paths. */
  id: string;
  /** The cell clipped to the window: [start, end), ISO-8601 UTC. */
  start: string;
  end: string;
}

/** The start of the calendar cell holding `t` (UTC). */
export function cellStart(t: Date, unit: ShardUnit): Date {
  const day = Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
  if (unit === 'day') return new Date(day);
  if (unit === 'week') return new Date(day - ((t.getUTCDay() + 6) % 7) * 86_400_000); // back to Monday
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

/** The start of the cell after the one starting at `start`. */
export function nextCell(start: Date, unit: ShardUnit): Date {
  if (unit === 'day') return new Date(start.getTime() + 86_400_000);
  if (unit === 'week') return new Date(start.getTime() + 7 * 86_400_000);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

export function shardId(cell: Date): string {
  return cell.toISOString().slice(0, 10).replace(/-/g, '');
}

/** The shards covering the window [start, end), in time order, each clipped to the window. */
export function shardGrid(window: Window, unit: ShardUnit): Shard[] {
  const start = new Date(window.start);
  const end = new Date(window.end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || !(start < end)) {
    throw new Error(`window [${window.start}, ${window.end}) is not a valid time window`);
  }
  const shards: Shard[] = [];
  for (let cell = cellStart(start, unit); cell < end; cell = nextCell(cell, unit)) {
    const next = nextCell(cell, unit);
    shards.push({
      index: shards.length,
      id: shardId(cell),
      start: (cell < start ? start : cell).toISOString(),
      end: (next > end ? end : next).toISOString(),
    });
  }
  return shards;
}
