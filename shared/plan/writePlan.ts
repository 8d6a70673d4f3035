// Writes a plan to a folder (one .sql file per statement, numbered in run order, and plan.json)
// and renders its printed summary.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileInTheWay } from '../fileInTheWay.js';
import { InputError } from '../naming.js';
import type { PlanDocument, PlanEntry } from './planDocument.js';

const PLAN_FILE = /^(\d{4,}-[a-z_]+(-[A-Za-z0-9_]+)?\.sql|plan\.json)$/;

/**
 * Refuses a `--sql-out` the plan could not be written to: a file, a folder holding anything but an
 * earlier plan, or a path under a file. Asked before the plan is made (tens of seconds on a large
 * warehouse) as well as when it is written. The names of the earlier plan's files, if any.
 */
export async function checkSqlOut(dir: string): Promise<string[]> {
  const file = await fileInTheWay(dir);
  if (file) throw new InputError(file === dir ? `--sql-out ${dir} is a file, not a folder` : `--sql-out ${dir}: ${file} is a file, not a folder`);
  const names = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  const other = names.filter((n) => !PLAN_FILE.test(n));
  if (other.length > 0) throw new InputError(`--sql-out ${dir} holds other files (${other.slice(0, 3).join(', ')}); give an empty or new folder`);
  return names;
}

/** Writes the plan into `dir`, replacing an earlier plan's files there; refuses a folder holding anything else. */
export async function writePlan(dir: string, document: PlanDocument, entries: readonly PlanEntry[]): Promise<void> {
  const names = await checkSqlOut(dir);
  await Promise.all(names.map((n) => fs.rm(path.join(dir, n))));
  await fs.mkdir(dir, { recursive: true });
  for (const e of entries) await fs.writeFile(path.join(dir, e.statement.file), `${e.sql}\n`);
  await fs.writeFile(path.join(dir, 'plan.json'), `${JSON.stringify(document, null, 1)}\n`);
}

const n = (v: number) => v.toLocaleString('en-US');

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function planSummaryText(document: PlanDocument, dir: string): string {
  const s = document.summary;
  const kinds = Object.entries(s.byKind).map(([k, c]) => `${k} ${n(c)}`).join(', ');
  const bytes = Object.entries(s.bytesByKind).map(([k, b]) => `${k} ${formatBytes(b)}`).join(', ');
  const source = s.dryRuns === s.statements ? 'BigQuery dry runs' : s.dryRuns > 0 ? `${n(s.dryRuns)} from BigQuery dry runs, the rest from table sizes` : 'from table sizes';
  // The profile after the merge reads the whole dataset on every run: its share is said apart.
  const profile = document.statements.filter((x) => x.kind.startsWith('profile_'));
  const p = document.profile;
  const over = `${n(p.groups)} group(s), ${n(p.files)} file(s), ${n(p.rows)} rows${p.resumeEnd ? `, ${n(p.resumeEnd.groups)} group(s) carried on from the previous end at row ${n(p.resumeEnd.row)} over ${n(p.resumeEnd.files)} file(s)` : ''}${p.resume ? `, ${p.resumeEnd ? 'the others ' : ''}carried on from row ${n(p.resume.row)} over ${n(p.resume.files)} file(s)` : ''}`;
  return [
    `  plan             ${document.runId} (${document.target})`,
    `  window           [${document.window.start}, ${document.window.end})`,
    ...(document.snapshotAt ? [`  tables as of     ${document.snapshotAt} (each read FOR SYSTEM_TIME AS OF the run's start; a run sends its own)`] : []),
    `  statements       ${n(s.statements)}: ${kinds}`,
    `  widest result    ${n(s.widest.columns)} columns (${s.widest.file})`,
    `  longest text     ${n(s.longest.chars)} characters (${s.longest.file})`,
    `  most tables      ${n(s.mostTables.tables)} in one statement (${s.mostTables.file})`,
    `  bytes read       ${formatBytes(s.bytesTotal)} (${source}): ${bytes}`,
    `  bytes billed     ${formatBytes(s.billedTotal)} on demand (10 MB at least per table a statement references, and per statement)`,
    ...(s.costUsd !== undefined ? [`  on-demand cost   about $${s.costUsd.toFixed(2)} at $${s.costPerTbUsd} a TiB of bytes billed (BQX_COST_PER_TB_USD; LOAD DATA is not billed by bytes read)`] : []),
    p.takenFrom !== undefined
      ? `  profile          taken from ${p.takenFrom} (every shard is its), no statement`
      : `  profile          ${p.mode}, ${n(profile.length)} statements reading ${formatBytes(profile.reduce((b, x) => b + x.bytes, 0))}, over ${over}${p.mode === 'full' ? '; comparisons not listed (they depend on what the pass finds)' : ''}`,
    `  written to       ${dir}`,
  ].join('\n');
}
