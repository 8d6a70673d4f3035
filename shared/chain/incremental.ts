// Incremental refresh, the extract side (issue 9, item 3). A refresh's window keeps the previous
// version's start and ends later. A feature whose rows inside the previous window are unchanged
// (the warehouse's data version of that range, hashed as a fingerprint's data part, equals the
// data part the previous checkpoint was fingerprinted with; same schema and extract settings)
// extracts only [previous end, new end): its checkpoint is the previous run's files, pointed at
// (not copied), followed by the new files. Anything the version cannot vouch for (a write inside
// the old window, a whole-table change, a warehouse that cannot tell rows apart) extracts fully.
// The previous version's last shard is partial when its end fell inside a calendar cell: the files
// holding that cell's rows are offered to the extract to "carry" into the new first shard's file.
// The embedded runtime carries them where DuckDB copies the table, and for tables written from
// their pages once four files hold the cell (otherwise its merge joins the files' pages at the
// stitch); BigQuery ignores them. The warehouse reads only the new minutes either way.

import { checkpointFileKeys } from '../checkpoint.js';
import { mapLimit } from '../concurrency.js';
import type { ShardUnit } from '../config.js';
import { dataPart, differingParts, partOf } from '../fingerprint.js';
import { cellStart } from '../shards.js';
import type { RunManifest } from '../manifest.js';
import type { CheckpointRecord, RunRecord, Window } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { REASONS, featureVersions } from './reuse.js';

/**
 * Marks the features of a refresh's fresh manifest that can extract only the new range (in place:
 * `incremental` and the reason). Returns how many.
 */
export async function planIncremental(deps: Pick<ChainDeps, 'warehouse' | 'store' | 'staging' | 'config'>, base: { run: RunRecord; manifest: RunManifest }, manifest: RunManifest): Promise<number> {
  const unit = deps.config.shard;
  const previous = base.run.window;
  const window = manifest.window;
  if (previous.start !== window.start || !(previous.end < window.end)) return 0;
  const before = new Map(base.manifest.features.map((f) => [f.feature, f]));
  const candidates = manifest.features.filter((f) => !f.reuse && f.fingerprint && before.get(f.feature)?.fingerprint);
  if (candidates.length === 0) return 0;
  const records = new Map((await deps.store.listCheckpoints(base.run.runId)).map((r) => [r.feature, r]));
  // The version, now, of each table's rows inside the previous window.
  const versions = await featureVersions(deps.warehouse, candidates, previous);
  // Features a few at a time: each checks its files are there and reads a footer or two, round
  // trips to the object store (one feature after another took 1-2 s of a refresh here).
  const planned = await mapLimit(candidates, 16, async (f) => {
    const earlier = before.get(f.feature)!;
    const record = records.get(f.feature);
    const version = versions[f.feature];
    if (!record || !version || earlier.dataset !== f.dataset) return false;
    // Only the data and the window may differ; the data of the old window must not have. Where the
    // settings moved (embedded: BQX_SHARD), that is why it extracts whole, whatever else moved.
    const moved = differingParts(f.fingerprint!, earlier.fingerprint!);
    if (moved.includes('schema')) return false;
    if (moved.includes('settings')) {
      f.reason = REASONS.settings;
      return false;
    }
    if (dataPart(f.dataset, f.feature, version) !== partOf(earlier.fingerprint!, 'data')) {
      // Known here, where the window's move alone names it otherwise (planReuse: "window changed").
      f.reason = REASONS.data;
      return false;
    }
    // Its files as they landed: one gone, cut short or rewritten since (their bytes no longer the
    // record's) cannot carry its old rows; it is extracted whole.
    const sizes = await deps.staging.sizes(record.files);
    if (record.files.length === 0 || sizes.some((s) => s === undefined) || sizes.reduce((n: number, s) => n + s!, 0) !== record.bytes) {
      f.reason = REASONS.noEarlier;
      return false;
    }
    const carry = await carryFiles(deps, record, previous, unit);
    f.incremental = { from: base.run.runId, files: record.files, sizes: sizes as number[], rows: record.rows, sourceRows: record.sourceRows, duplicates: record.duplicates, range: { start: previous.end, end: window.end }, ...(carry.length > 0 ? { carry } : {}) };
    f.reason = REASONS.newRange;
    return true;
  });
  return planned.filter(Boolean).length;
}

/**
 * The trailing files of a checkpoint that hold exactly the rows of the previous window's partial
 * last cell (keys from the cell's start on): [] when the end is on a cell boundary, or when a file
 * straddles the cell's start (BigQuery's export splits files anywhere). A file's keys are
 * `checkpointFileKeys`: its record's, else its footer's.
 */
async function carryFiles(deps: Pick<ChainDeps, 'staging'>, record: Pick<CheckpointRecord, 'files' | 'fileKeys'>, previous: Window, unit: ShardUnit): Promise<string[]> {
  const cell = cellStart(new Date(previous.end), unit).toISOString();
  const from = cell < previous.start ? previous.start : cell;
  if (from === previous.end) return [];
  const { files } = record;
  const carry: string[] = [];
  for (let i = files.length - 1; i >= 0; i--) {
    const keys = await checkpointFileKeys(deps.staging, record, i).catch(() => undefined);
    if (!keys || keys.minKey === null || keys.maxKey === null) return []; // an empty or unreadable file: nothing carried
    if (keys.minKey >= from) carry.unshift(files[i]!);
    else return keys.maxKey < from ? carry : [];
  }
  return carry;
}
