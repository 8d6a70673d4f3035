// mergeRun: plan the column groups and staged joins, run them in the warehouse, verify the
// output (rows = label rows in the window, keys unique and in order, column count = manifest's),
// write _manifest.json and the report, and record and publish the outcome.

import { readFooterShape } from '../checkpoint.js';
import { columnLedger } from '../ledger.js';
import { columnMapping, outputColumns, type RunManifest } from '../manifest.js';
import { gateMessage } from '../profile/gates.js';
import { paths } from '../naming.js';
import { planMerge, type MergePlan } from '../planner.js';
import { WorkPending, type CheckpointRecord, type MergedGroup, type MergedShard, type MergeResult, type RunOutput, type RunRecord } from '../ports.js';
import { shardGrid, type Shard } from '../shards.js';
import { readGroupKeys, shardFileSizes } from '../outputShards.js';
import { buildReport, type RunReport } from '../report.js';
import type { ChainDeps } from './deps.js';
import type { MergeRequest } from './messages.js';
import { prepareDatasetExtras, writeDatasetExtras } from './datasetFiles.js';
import { followUp } from './pending.js';
import { checkQuality, type Quality, type RunCost } from './quality.js';
import { billedBytes } from '../cost.js';
import { allSettledOrThrow } from '../concurrency.js';
import { earlierProfile, filesMeeting, previousGroupFiles, previousOutput, relabelTargets, takenShards, withGrown, withShared, withSharedGroups, type PreviousOutput } from './shareShards.js';
import { failOnError, failRun, loadManifest, moved, publishOutcome, resendOutcome, workStart } from './runs.js';

export type MergeOutcome = 'succeeded' | 'failed' | 'ignored' | 'pending';

export async function mergeRun(deps: ChainDeps, request: MergeRequest): Promise<MergeOutcome> {
  const { runId } = request;
  const log = { runId, pair: request.pair, step: 'merge' };
  const run = await deps.store.getRun(runId);
  if (!run || run.state !== 'merging') {
    deps.logger.info(`merge not needed: ${run ? `run is ${run.state}` : 'no such run'}`, log);
    if (run) await resendOutcome(deps, run); // the request is back because the last attempt crashed before publishing
    return 'ignored';
  }
  const manifest = await loadManifest(deps, run);
  const checkpoints = await deps.store.listCheckpoints(runId);
  const files = Object.fromEntries(checkpoints.map((c) => [c.feature, c.files]));
  const missing = manifest.features.filter((f) => !files[f.feature]).map((f) => f.feature);
  if (missing.length > 0) {
    await failRun(deps, runId, `merge found ${missing.length} feature(s) without a checkpoint: ${missing.slice(0, 5).join(', ')}`);
    return 'failed';
  }

  const began = Date.now();
  prepareDatasetExtras();
  const plan = planMerge(manifest, deps.config);
  deps.logger.info(`merging ${manifest.features.length} features into ${plan.groups.length} column group(s)`, log);
  // A refresh (or an unchanged run) builds only the shards that changed; the rest are an earlier
  // dataset's files. A run whose changed features sit in some column groups builds only those
  // groups, every shard's others being the earlier dataset's (shareShards.ts).
  const sharing = run.sharing;
  const onlyGroups = sharing?.groups;
  const ids = (onlyGroups ? sharing?.rebuilt : sharing?.shared) ?? [];
  // A grown shard keeps the earlier dataset's files of its rows before `from` and gets a part from there on.
  const grown = new Map((sharing?.grown ?? []).map((g) => [g.id, g.from]));
  // Shards whose label rows alone changed: their label group is built, their other groups taken;
  // so is a grown shard's earlier part where its label rows changed (GrownShard `relabelled`).
  const relabelIds = sharing?.relabelled ?? [];
  const grid = shardGrid(run.window, deps.config.shard);
  const relabelShards = sharing ? relabelTargets(grid, sharing) : [];
  const relabelledParts = new Set((sharing?.grown ?? []).filter((g) => g.relabelled).map((g) => g.id));
  // The earlier dataset's manifest, read once: its shards shared, and its files of the groups built.
  const earlier = sharing && (ids.length > 0 || grown.size > 0 || relabelIds.length > 0) ? await failOnError(deps, runId, 'merge', () => previousOutput(deps, sharing.from)) : undefined;
  // Its whole shards (with some groups built, every shard's other groups), the grown shards' earlier parts, the relabelled shards' other groups.
  const { whole: shared, grownParts: earlierParts, relabelledOthers } = earlier
    ? await failOnError(deps, runId, 'merge', async () => takenShards(earlier, sharing!, plan.groups.map((g) => g.index)))
    : { whole: [], grownParts: [], relabelledOthers: [] };
  const build = grid.filter((s) => (!sharing || sharing.rebuilt.includes(s.id)) && !relabelIds.includes(s.id)).map((s) => (grown.has(s.id) ? { ...s, start: grown.get(s.id)! } : s));
  const tail = (shared.length > 0 || earlierParts.length > 0 || relabelIds.length > 0) && build.length > 0 && !onlyGroups;
  const window = tail ? { start: build[0]!.start, end: run.window.end } : run.window;
  const inputs = tail ? await failOnError(deps, runId, 'merge', () => filesMeeting(deps, checkpoints, window)) : files;
  const buildPlan = onlyGroups ? { ...plan, groups: plan.groups.filter((g) => onlyGroups.includes(g.index)) } : plan;
  // The unchanged features of the groups built: their columns are in the previous version's files of the same shards and groups.
  const previous = onlyGroups && sharing?.changed && earlier ? { files: previousGroupFiles(earlier, build.map((s) => s.id), onlyGroups), changed: sharing.changed } : undefined;
  const nothing: MergeResult = { state: 'done', groups: [], shards: [], rows: 0 };
  const built = build.length === 0 ? nothing : await failOnError(deps, runId, 'merge', () =>
    deps.warehouse.merge(
      { runId, pair: run.pair, window, manifest, plan: buildPlan, checkpoints: inputs, outputPrefix: paths.outputDir(run.pair, runId), shards: build, ...(previous ? { previous } : {}) },
      (progress) => deps.observe?.({ type: 'merge', runId, progress }),
    ),
  );
  // Still running after the warehouse's wait: a follow-up message polls again (never a retry).
  if (built.state === 'pending') return followUp(deps, { kind: 'merge', request }, built);
  if (previous && built.fromPrevious !== undefined) {
    const copied = built.fromPrevious;
    deps.logger.info(copied > 0 ? `${copied} unchanged feature(s) copied from ${sharing!.from}'s files, ${sharing!.changed!.length} changed one(s) aligned` : `every feature aligned: ${sharing!.from}'s files could not be used`, log);
  }
  const relabelled = relabelShards.length === 0 ? nothing : await failOnError(deps, runId, 'merge', () => mergeRelabelled(deps, run, manifest, plan, checkpoints, earlier!, relabelShards));
  if (relabelled.state === 'pending') return followUp(deps, { kind: 'merge', request }, relabelled);
  if (relabelled.shards.length > 0) deps.logger.info(`${relabelled.shards.length} shard(s) or part(s) whose label rows alone changed: their label group built, the other groups ${sharing!.from}'s`, log);
  // The relabelled shards and parts with their other groups; the parts then go before the grown shards' new rows.
  const relabelledAll = relabelShards.length === 0 ? [] : (await failOnError(deps, runId, 'merge', async () => withSharedGroups(plan, relabelled, [...relabelledOthers, ...earlierParts.filter((p) => relabelledParts.has(p.id))]))).shards;
  const relabelledWhole = relabelledAll.filter((s) => !relabelledParts.has(s.id));
  const partsBefore = [...earlierParts.filter((p) => !relabelledParts.has(p.id)), ...relabelledAll.filter((s) => relabelledParts.has(s.id))];
  const grownWhole = partsBefore.length === 0 ? built : withGrown(built, partsBefore, grid);
  const whole = relabelShards.length === 0 ? grownWhole : { ...grownWhole, shards: [...grownWhole.shards, ...relabelledWhole], ...summedCost(grownWhole, relabelled) };
  const result = shared.length === 0 && earlierParts.length === 0 && relabelShards.length === 0 ? built : await failOnError(deps, runId, 'merge', async () => (onlyGroups ? withSharedGroups(plan, whole, shared) : withShared(plan, whole, shared)));
  const rowsRead = { features: checkpoints.reduce((n, c) => n + (c.reusedFrom ? 0 : (c.readRows ?? 0)), 0), labels: built.rows + relabelled.rows };
  const mergeMs = Date.now() - began;

  const problems = await failOnError(deps, runId, 'verify', async () => [
    ...(await relabelledKeysMoved(deps, plan, relabelledAll, sharing?.from ?? '')),
    ...(await verifyOutput(deps, manifest, run, result.groups, result.shards, [...shared, ...earlierParts, ...relabelledOthers])),
  ]);
  if (problems.length > 0) {
    await failRun(deps, runId, `output verification failed: ${problems.join('; ')}`);
    return 'failed';
  }

  const report = buildReport(manifest, checkpoints, run.labelRows);
  if (run.refresh) Object.assign(report, { refresh: run.refresh, drift: run.refresh.drift });
  // Profile, folds and quality gates (issue 10); a failed `fail` gate fails the run, outputs kept.
  // Nothing built: the dataset is the earlier one's, file for file, and so is its profile.
  const measured = run.sharing && build.length === 0 && relabelShards.length === 0 ? await earlierProfile(deps, run.pair, run.sharing.from) : undefined;
  let quality: Quality;
  try {
    quality = await failOnError(deps, runId, 'profile', () => checkQuality(deps, manifest, run, result.groups, runCost(result, checkpoints), report, measured, checkpoints, result.shards));
  } catch (error) {
    // The profile's jobs still running (BigQuery at full size runs longer than one call): poll
    // again; the next call finds the merge finished and attaches to the profile's jobs.
    if (error instanceof WorkPending) return followUp(deps, { kind: 'merge', request }, error.pending);
    throw error;
  }
  const profiled = quality.profile ? { profile: quality.profile, cutRows: quality.cutRows, profiledWith: quality.profiledWith, ...(quality.profileReuse ? { profileReuse: quality.profileReuse } : {}) } : {};
  const failedGates = quality.failed.map(gateMessage).join('; ');
  // The files beside the data describe the run as it ends (report.html shows its status and
  // timings), not as it stood while merging: they are written before the record moves.
  const ending: RunRecord = { ...run, state: failedGates ? 'failed' : 'succeeded', timings: { ...run.timings, merge_ms: mergeMs, profile_ms: quality.profileMs } };
  const output = await writeOutputs(deps, manifest, ending, result.groups, result.shards, { ...report, ...profiled, gates: quality.gates }, quality);
  const now = deps.clock.now();
  const { run: done, changed } = await deps.store.updateRun(runId, (r) =>
    r.state === 'merging'
      ? {
          ...(failedGates ? { ...moved(r, 'failed', now, failedGates), error: failedGates } : moved(r, 'succeeded', now)),
          output,
          // The start's own warnings (a damaged earlier dataset not shared) stay first.
          warnings: [...r.warnings, ...report.warnings, ...quality.warnings],
          timings: { ...r.timings, merge_ms: mergeMs, profile_ms: quality.profileMs, total_ms: now.getTime() - workStart(r) },
          rowsRead,
          ...(result.bytesProcessed !== undefined ? { bytesProcessed: result.bytesProcessed } : {}),
          ...(quality.costUsd !== undefined ? { costUsd: quality.costUsd } : {}),
          ...(quality.bytesBilled !== undefined ? { bytesBilled: quality.bytesBilled } : {}),
        }
      : undefined,
  );
  if (changed) {
    if (failedGates) deps.logger.error(`run failed: ${failedGates}`, log);
    else deps.logger.info(`run succeeded: ${output.rows} rows x ${output.columns} columns in ${output.files.length} file(s)`, log);
    await publishOutcome(deps, done);
  }
  return changed ? (failedGates ? 'failed' : 'succeeded') : 'ignored';
}

/**
 * Checks what the merge wrote, from the adapter's counts and the output files' own footers. Files
 * of shards shared with an earlier dataset were read back when that dataset was written: here
 * they must still be there, at the bytes it recorded, with this group's columns (a refresh's
 * footers of the shared shards were a tenth of its wall time at 20,000 rows).
 */
async function verifyOutput(deps: ChainDeps, manifest: RunManifest, run: RunRecord, groups: MergedGroup[], shards: MergedShard[], shared: readonly MergedShard[]): Promise<string[]> {
  const problems: string[] = verifyShards(run, groups, shards);
  const expectedColumns = outputColumns(manifest);
  const written: string[] = [manifest.key];
  // The shared files' sizes asked for together, a listing per shard: a refresh at full size shares
  // about 1,600 files (70 month shards x 23 groups), each alone a round trip to Cloud Storage.
  const sharedSizes = await shardFileSizes(deps.output, [...new Set(shared.flatMap((s) => s.groups.flatMap((g) => g.files)))]);
  for (const g of groups) {
    if (g.rows !== run.labelRows) problems.push(`group ${g.index} has ${g.rows} rows, the window has ${run.labelRows} label rows`);
    if (g.distinctKeys !== g.rows) problems.push(`group ${g.index} has ${g.rows - g.distinctKeys} duplicate keys`);
    if (!g.keysInOrder) problems.push(`group ${g.index} keys are not in the same ascending order as group 0`);
    if (g.columns.length > deps.config.maxGroupColumns) problems.push(`group ${g.index} has ${g.columns.length} columns, over ${deps.config.maxGroupColumns}`);
    let footerRows = 0;
    for (const s of shared) {
      const sg = s.groups.find((x) => x.index === g.index);
      if (!sg) continue; // verifyShards reports the missing group
      footerRows += sg.rows;
      if (sg.columns.join(',') !== g.columns.join(',')) problems.push(`shared shard ${s.id} group ${g.index} does not have the group's columns`);
      let bytes = 0;
      for (const file of sg.files) {
        const size = sharedSizes.get(file);
        if (size === undefined) problems.push(`shared file ${file} no longer exists`);
        bytes += size ?? 0;
      }
      if (bytes !== sg.bytes) problems.push(`shared shard ${s.id} group ${g.index} files hold ${bytes} bytes, its dataset recorded ${sg.bytes}`);
    }
    for (const file of g.files) {
      if (sharedSizes.has(file)) continue;
      const { rows, columns } = await readFooterShape(deps.output, file);
      footerRows += rows;
      if (columns.join(',') !== g.columns.join(',')) problems.push(`file ${file} does not have the group's columns`);
    }
    if (footerRows !== g.rows) problems.push(`group ${g.index} files hold ${footerRows} rows, the merge reported ${g.rows}`);
    written.push(...g.columns.slice(1));
  }
  if (written.length !== manifest.columnCount) problems.push(`output has ${written.length} columns, the manifest ${manifest.columnCount}`);
  else if (written.join(',') !== expectedColumns.join(',')) problems.push('output columns differ from the manifest');
  return problems;
}

/**
 * Every shard on its own: its groups hold the shard's rows, unique keys inside [start, end), in
 * the same order as its group 0; the shards are in time order, apart, and add up to the groups.
 */
function verifyShards(run: RunRecord, groups: MergedGroup[], shards: MergedShard[]): string[] {
  const problems: string[] = [];
  let rows = 0;
  for (const [i, s] of shards.entries()) {
    const name = `shard ${s.id}`;
    if (s.index !== i) problems.push(`${name} is listed at ${i} with index ${s.index}`);
    if (i > 0 && s.start < shards[i - 1]!.end) problems.push(`${name} starts before shard ${shards[i - 1]!.id} ends`);
    if (!s.keysInRange) problems.push(`${name} has keys outside [${s.start}, ${s.end})`);
    if (s.groups.length !== groups.length) problems.push(`${name} has ${s.groups.length} groups, the dataset ${groups.length}`);
    for (const g of s.groups) {
      if (g.rows !== s.rows) problems.push(`${name} group ${g.index} has ${g.rows} rows, the shard ${s.rows}`);
      if (g.distinctKeys !== g.rows) problems.push(`${name} group ${g.index} has ${g.rows - g.distinctKeys} duplicate keys`);
      if (!g.keysInOrder) problems.push(`${name} group ${g.index} keys are not in the same ascending order as its group 0`);
    }
    rows += s.rows;
  }
  if (rows !== run.labelRows) problems.push(`the shards hold ${rows} rows, the window has ${run.labelRows} label rows`);
  for (const g of groups) {
    const files = shards.flatMap((s) => s.groups.find((x) => x.index === g.index)?.files ?? []);
    if (files.join('\n') !== g.files.join('\n')) problems.push(`group ${g.index} files are not its shards' files in shard order`);
  }
  return problems;
}

async function writeOutputs(deps: ChainDeps, manifest: RunManifest, run: RunRecord, groups: MergedGroup[], shards: MergedShard[], report: RunReport, quality: Quality): Promise<RunOutput> {
  const manifestObject = paths.outputManifest(run.pair, run.runId);
  const reportObject = paths.outputReport(run.pair, run.runId);
  const files = groups.flatMap((g) => g.files);
  const bytes = groups.reduce((s, g) => s + g.bytes, 0);
  const outputManifest = {
    pair: run.pair,
    runId: run.runId,
    window: run.window,
    key: manifest.key,
    rows: run.labelRows,
    columns: manifest.columnCount,
    bytes,
    groups: groups.map((g) => ({ index: g.index, files: g.files.map((f) => deps.output.uri(f)), objects: g.files, rows: g.rows, columns: g.columns, bytes: g.bytes })),
    shardUnit: deps.config.shard,
    shards: shards.map((s) => ({
      index: s.index,
      id: s.id,
      start: s.start,
      end: s.end,
      rows: s.rows,
      groups: s.groups.map((g) => ({ index: g.index, files: g.files.map((f) => deps.output.uri(f)), objects: g.files, rows: g.rows, bytes: g.bytes })),
    })),
    columnMapping: columnMapping(manifest),
    ledger: columnLedger(manifest, deps.config.currencies),
    features: report.features,
    warnings: [...run.warnings, ...report.warnings, ...quality.warnings],
    gates: quality.gates,
    passed: quality.failed.length === 0,
    createdAt: deps.clock.now().toISOString(),
  };
  // The extras' writes under way, the two JSON texts are made meanwhile; the manifest is written last.
  const extras = writeDatasetExtras(deps, run, outputManifest, report, quality);
  // Made at once (nothing awaited inside). Both settled before going on, nothing left writing; if
  // both failed, the texts' error is the one reported, not hidden behind the extras'.
  const texts = (async (): Promise<[string, string]> => [JSON.stringify(report, null, 1), JSON.stringify(outputManifest, null, 1)])();
  await allSettledOrThrow([texts, extras]);
  const [reportText, manifestText] = await texts;
  await deps.output.write(reportObject, reportText, { contentType: 'application/json' });
  await deps.output.write(manifestObject, manifestText, { contentType: 'application/json' });
  return { manifest: manifestObject, report: reportObject, rows: run.labelRows, columns: manifest.columnCount, files, bytes };
}

/**
 * The shards whose label rows alone changed (SharePlan `relabelled`, and a relabelled grown
 * shard's rows before its part): a second merge of the run building their label group only, its
 * features the earlier dataset's columns of the same shard (copied where the warehouse can,
 * aligned from the checkpoints elsewhere), its labels read again. It writes under the run's own
 * folder for it: a grown shard's part, built by the first merge, has the same shard and group.
 * Called again by a follow-up or a redelivery, it builds them again or (BigQuery) finds its jobs.
 */
async function mergeRelabelled(deps: ChainDeps, run: RunRecord, manifest: RunManifest, plan: MergePlan, checkpoints: readonly CheckpointRecord[], earlier: PreviousOutput, shards: readonly Shard[]): Promise<MergeResult> {
  const window = { start: shards[0]!.start, end: shards.at(-1)!.end };
  const labelGroups = plan.groups.filter((g) => g.labels);
  return deps.warehouse.merge(
    {
      runId: run.runId,
      pair: run.pair,
      window,
      manifest,
      plan: { ...plan, groups: labelGroups },
      checkpoints: await filesMeeting(deps, checkpoints, window),
      outputPrefix: paths.outputRelabelledDir(run.pair, run.runId),
      shards: [...shards],
      previous: { files: previousGroupFiles(earlier, shards.map((s) => s.id), labelGroups.map((g) => g.index)), changed: [] },
    },
    (progress) => deps.observe?.({ type: 'merge', runId: run.runId, progress }),
  );
}

/**
 * The relabelled shards and parts keep the earlier dataset's other groups, its label keys with
 * them: only the labels' values were to change (labels look ahead). Their label group's keys, read
 * back, must be those of another group's files, row for row: a label row removed there and another
 * added (the row counts still equal) would shift every other column by a row. Two key columns a
 * shard, from the files themselves.
 */
async function relabelledKeysMoved(deps: ChainDeps, plan: MergePlan, shards: readonly MergedShard[], from: string): Promise<string[]> {
  const labelGroup = plan.groups.find((g) => g.labels)?.index;
  const problems: string[] = [];
  for (const s of shards) {
    const label = s.groups.find((g) => g.index === labelGroup);
    const other = s.groups.find((g) => g.index !== labelGroup);
    if (!label || !other) continue;
    const [a, b] = await Promise.all([readGroupKeys(deps.output, label.files), readGroupKeys(deps.output, other.files)]);
    if (a.keys.length !== b.keys.length || !a.keys.every((k, i) => k === b.keys[i])) {
      problems.push(`shard ${s.id}: its label rows' keys are not those of the files it keeps from ${from} (label rows added or removed before the previous end, not only filled in); build it again with --no-reuse`);
    }
  }
  return problems;
}

/** The two merges' cost together (a run whose relabelled shards were merged apart). */
function summedCost(a: Extract<MergeResult, { state: 'done' }>, b: Extract<MergeResult, { state: 'done' }>): Pick<Extract<MergeResult, { state: 'done' }>, 'bytesProcessed' | 'costUsd' | 'bytesBilled'> {
  const sum = (x?: number, y?: number) => (x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0));
  const parts = { bytesProcessed: sum(a.bytesProcessed, b.bytesProcessed), costUsd: sum(a.costUsd, b.costUsd), bytesBilled: billedBytes([a.bytesBilled, b.bytesBilled]) };
  return Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined));
}

/** The run's spend up to its profile: the merge's estimate, and what its extracts (reused checkpoints cost nothing this run) and merge billed. */
function runCost(merged: Extract<MergeResult, { state: 'done' }>, checkpoints: readonly CheckpointRecord[]): RunCost {
  const billed = billedBytes([...checkpoints.filter((c) => !c.reusedFrom).map((c) => c.bytesBilled), merged.bytesBilled]);
  return { ...(merged.costUsd !== undefined ? { estimateUsd: merged.costUsd } : {}), ...(billed !== undefined ? { billedBytes: billed } : {}) };
}
