// The demo warehouse on first use: built when the embedded warehouse has no label table for the
// pair, rebuilt when the requested rows change, and grown by the tables of a pair it lacks. Its
// parameters live in demo.json.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { buildDemoWarehouse } from '../demo/generate.js';
import type { Embedded } from '../runtime/embedded.js';
import { ProgressBar } from './progress.js';
import { folderRoom } from '../adapters/local/folderRoom.js';
import { demoRunBytes, demoTableBytes } from '../demo/size.js';
import { demoTables } from '../demo/names.js';
import type { DemoDatasets } from '../demo/change.js';
import { InputError } from '../naming.js';
import { sizeText } from '../chain/diskRoom.js';

/** What demo.json holds. */
export interface DemoState {
  version: number;
  pairs: string[];
  rows: number;
  /** Minutes `bqx demo --append` added since the build (demoChange.ts). */
  appended?: number;
  /**
   * Written before a build starts, cleared when it ends: a build cut off (Ctrl-C, a killed
   * process) leaves the label tables without feature tables, which must be built again, not
   * taken for the user's own data.
   */
  building?: true;
  /**
   * Written before `bqx demo --append` starts, cleared when it ends: an append cut off leaves some
   * tables with the new minutes and others without, which no run may be built on: the next
   * `bqx demo` or `bqx run` builds the demo again.
   */
  appending?: true;
}

/** demo.json of a home, or undefined when there is none (or it does not parse: then the demo is built again). */
export async function readDemoState(home: string): Promise<DemoState | undefined> {
  return fs.readFile(path.join(home, 'demo.json'), 'utf8').then((t) => JSON.parse(t) as DemoState).catch(() => undefined);
}

/** Writes demo.json whole or not at all: a temp file renamed over it, so a crash never leaves half a record. */
export async function writeDemoState(home: string, state: DemoState): Promise<void> {
  const file = path.join(home, 'demo.json');
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify(state, null, 1));
  await fs.rename(temp, file);
}

/** 2: the demo plants what the profile must find (shared/demo/plants.ts), so a version 1 demo is rebuilt. */
export const DEMO_VERSION = 3;
const VERSION = DEMO_VERSION;

/**
 * `requestedRows` is what the user asked for with --rows; without it, an existing demo is used at
 * whatever size it was built, and a new one gets BQX_DEMO_ROWS. `runFollows`: a first run of
 * `pairs[0]` comes next, so the disk must hold its writes too.
 */
export async function ensureDemo(embedded: Embedded, config: Config, pairs: string[], requestedRows: number | undefined, quiet: boolean, runFollows = false): Promise<'built' | 'present' | 'own-data'> {
  const state = await readDemoState(embedded.home);
  const rows = requestedRows ?? state?.rows ?? config.embedded.demoRows;
  const whole = state && !state.building && !state.appending;
  if (whole && state.version === VERSION && state.rows === rows && pairs.every((p) => state.pairs.includes(p))) return 'present';
  if (!state) {
    // A warehouse that already has the label tables is the user's own data: leave it alone.
    const labels = await embedded.warehouse.listTables(config.labelsDataset);
    if (pairs.every((p) => labels.some((t) => t.table === `${config.labelTablePrefix}${p}`))) return 'own-data';
  }
  // The demo's pairs stay in it whatever its size: a rebuild at another --rows keeps them.
  const all = [...new Set([...(state?.pairs ?? []), ...pairs])].sort();
  const adding = addablePairs(state, rows, all);
  if (config.diskCheck) checkDemoRoom(embedded.home, all, rows, state, runFollows, adding !== undefined);
  const again = state?.building ? ' again: the last build was cut off' : state?.appending ? ' again: the last --append was cut off' : '';
  if (!quiet) {
    const grown = adding && state!.appended ? ` and the ${state!.appended} minute(s) appended since` : '';
    if (adding) process.stderr.write(`adding ${adding.join(', ')} to the demo warehouse, ${rows} rows per table${grown} (${state!.pairs.join(', ')}'s tables kept as they are)\n`);
    else if (whole && state.rows !== rows) {
      // Said, since it replaces what the user may have changed: touches, appends, and every checkpoint's reuse.
      const since = state.appended ? `, ${state.appended} minute(s) appended since` : '';
      process.stderr.write(`rebuilding the demo warehouse at ${rows} rows per table (it had ${state.rows}${since}): ${all.join(', ')}, every table with new values and a new data version, so the next run extracts every feature\n`);
    } else process.stderr.write(`building the demo warehouse${again}: ${all.join(', ')}, ${rows} rows per table (once; reused after)\n`);
  }
  await writeDemoState(embedded.home, { version: VERSION, pairs: all, rows, building: true });
  const bar = quiet ? undefined : new ProgressBar('demo', 1);
  const built = adding ? new Set(demoTables(state!.pairs).map((t) => t.table)) : undefined;
  const only = built && ((table: string) => !built.has(table));
  await buildDemoWarehouse(embedded.warehouse, {
    pairs: adding ?? all,
    rows,
    featuresDataset: config.featuresDataset,
    labelsDataset: config.labelsDataset,
    labelTablePrefix: config.labelTablePrefix,
    ...(only ? { only } : {}),
    ...(bar ? { onProgress: (done: number, total: number) => bar.update(done, total) } : {}),
  });
  // The others' tables were grown by `--append`: the new ones get the same minutes, in one append
  // (the same trading minutes after the build's last key, so the same keys).
  const appended = adding ? (state!.appended ?? 0) : 0;
  if (adding && appended > 0) {
    // Loaded here: change.ts brings DuckDB's bindings, which `bqx --help` and `bqx status` must not load.
    const { appendMinutes } = await import('../demo/change.js');
    await appendMinutes(embedded.warehouse, demoDatasets(config), { pairs: adding, built: rows, appended: 0, only }, appended);
  }
  await writeDemoState(embedded.home, { version: VERSION, pairs: all, rows, ...(appended > 0 ? { appended } : {}) });
  return 'built';
}

/** Where the demo's tables are, as its changes (demo/change.ts) take it. */
export function demoDatasets(config: Config): DemoDatasets {
  return { featuresDataset: config.featuresDataset, labelsDataset: config.labelsDataset, labelTablePrefix: config.labelTablePrefix, metadataColumns: config.metadataColumns };
}

/**
 * Why the demo in `state` would be built again whole for `rows` rows, or undefined when it stays
 * (pairs it lacks are added beside it: addablePairs).
 */
export function rebuildReason(state: DemoState, rows: number): string | undefined {
  if (state.building) return 'its last build was cut off';
  if (state.appending) return 'its last --append was cut off';
  if (state.version !== VERSION) return `it is of an older demo version (${state.version}, now ${VERSION})`;
  if (state.rows !== rows) return `it has ${state.rows} rows, not ${rows}`;
  return undefined;
}

/**
 * The pairs a whole demo of the same version and rows lacks, built alone: every demo table is the
 * same whichever pairs asked for it (names.ts `demoTables`), so the others' tables stay as they
 * are, with their data versions, their checkpoints reusable, their `--touch`ed values. Rebuilt,
 * every table got new values and a new version (a second pair cost the first every checkpoint).
 * After `--append`, the new tables are appended the same minutes. Undefined: build all.
 */
function addablePairs(state: DemoState | undefined, rows: number, all: readonly string[]): string[] | undefined {
  if (!state || rebuildReason(state, rows) !== undefined) return undefined;
  const adding = all.filter((p) => !state.pairs.includes(p));
  return adding.length > 0 ? adding : undefined;
}

/**
 * Refuses a demo build the disk cannot hold (with the first run after it, when one follows),
 * before anything is written: at 1,000,000 rows the tables alone are about 140 GB. The tables of
 * the demo being replaced count as free, since the build writes over them table by table.
 */
export function checkDemoRoom(home: string, pairs: string[], rows: number, state: DemoState | undefined, runFollows: boolean, adding = false): void {
  // Adding pairs writes only their tables; a build writes every table, over the old ones.
  const tables = adding && state ? demoTableBytes(pairs, rows) - demoTableBytes(state.pairs, rows) : demoTableBytes(pairs, rows);
  const run = runFollows ? demoRunBytes(rows) : 0;
  const room = folderRoom(home);
  const free = room.free + (state && !adding ? demoTableBytes(state.pairs, state.rows) : 0);
  if (tables + run <= free) return;
  const fits = Math.floor((rows * free) / (tables + run) / 1000) * 1000;
  throw new InputError(
    `not enough disk for the demo at ${rows} rows: its tables take about ${sizeText(tables)}${run > 0 ? ` and the first run writes about ${sizeText(run)} more` : ''}, ` +
      `and ${room.where} has ${sizeText(room.free)} free. ${fits >= 100 ? `About --rows ${fits} fits; ` : ''}free space or set BQX_HOME to a larger disk (BQX_DISK_CHECK=off builds anyway)`,
  );
}
