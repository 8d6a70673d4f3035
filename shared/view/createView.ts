// `bqx view`: a narrower dataset from a finished one. The selection is made from the source's
// _manifest.json (its ledger) and report.json (its profile); the warehouse writes the files from
// the source's own files (Warehouse.view); this writes the view's _manifest.json (shards, groups,
// ledger, source and selection) and its folds.json (the same rows, so the source's folds).

import type { Config } from '../config.js';
import type { LedgerEntry } from '../ledger.js';
import { InputError, paths } from '../naming.js';
import type { ObjectStore, Pending, RunRecord, ViewJob, ViewShard, Warehouse } from '../ports.js';
import type { RunReport } from '../report.js';
import { selectColumns, type SelectedColumns, type ViewSelection } from './select.js';
import { CELL_BYTES, checkRoom } from '../chain/diskRoom.js';

export interface ViewDeps {
  config: Pick<Config, 'maxGroupColumns' | 'diskCheck'>;
  warehouse: Warehouse;
  output: ObjectStore;
  clock: { now(): Date };
}

/** The parts of a dataset's _manifest.json a view reads. */
interface SourceManifest {
  pair: string;
  runId: string;
  window: { start: string; end: string };
  key: string;
  rows: number;
  groups: { index: number; objects?: string[]; columns: string[] }[];
  shardUnit?: string;
  shards?: { index: number; id: string; start: string; end: string; rows: number; groups: { index: number; objects: string[] }[] }[];
  columnMapping: Record<string, { table: string; column: string }>;
  ledger?: LedgerEntry[];
}

export const viewPaths = {
  dir: (pair: string, runId: string, name: string) => `${paths.outputDir(pair, runId)}views/${name}/`,
  manifest: (pair: string, runId: string, name: string) => `${viewPaths.dir(pair, runId, name)}_manifest.json`,
  folds: (pair: string, runId: string, name: string) => `${viewPaths.dir(pair, runId, name)}folds.json`,
};

export interface ViewOutcome {
  name: string;
  runId: string;
  pair: string;
  manifest: string;
  rows: number;
  columns: number;
  files: number;
  bytes: number;
  labels: number;
  features: number;
  dropped: SelectedColumns['dropped'];
}

/** Splits key + columns into groups of at most `max` columns, each starting with the key (labels in group 0). */
export function planViewGroups(key: string, columns: readonly string[], max: number): { index: number; columns: string[] }[] {
  const groups: { index: number; columns: string[] }[] = [];
  for (let at = 0; at < columns.length; at += max - 1) groups.push({ index: groups.length, columns: [key, ...columns.slice(at, at + max - 1)] });
  return groups;
}

/** A dataset's JSON file; a damaged one is bad input naming the file (exit 2), not a parser's bare message. */
async function readJson<T>(output: ObjectStore, name: string): Promise<T> {
  const text = Buffer.from(await output.read(name)).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new InputError(`${output.uri(name)} is not readable JSON (${(error as Error).message.split('\n')[0]}): the dataset is damaged; \`bqx verify\` checks it, \`bqx rerun <runId> --merge\` writes it again`);
  }
}

export async function createView(deps: ViewDeps, run: RunRecord, selection: ViewSelection): Promise<ViewOutcome | Pending> {
  if (run.state !== 'succeeded' || !run.output) throw new InputError(`run ${run.runId} has no finished dataset (${run.state}); a view needs one`);
  const source = await readJson<SourceManifest>(deps.output, run.output.manifest);
  if (!source.ledger) throw new InputError(`the dataset of ${run.runId} has no column ledger (made before views existed)`);
  const report = await readJson<RunReport>(deps.output, run.output.report);
  const ledger = source.ledger;
  const selected = selectColumns(
    { key: source.key, pair: run.pair, labels: ledger.filter((e) => e.role === 'label').map((e) => e.column), features: ledger.filter((e) => e.role === 'feature').map((e) => e.column) },
    selection,
    report.profile,
  );
  const columns = [...selected.labels, ...selected.features];
  const groups = planViewGroups(source.key, columns, deps.config.maxGroupColumns);
  const sourceShards = source.shards ?? [{ index: 0, id: 'window', start: source.window.start, end: source.window.end, rows: source.rows, groups: source.groups.map((g) => ({ index: g.index, objects: g.objects ?? [] })) }];
  const prefix = viewPaths.dir(run.pair, run.runId, selection.name);
  const job: ViewJob = {
    runId: run.runId,
    pair: run.pair,
    name: selection.name,
    key: source.key,
    sourceGroups: source.groups.map((g) => ({ index: g.index, columns: g.columns })),
    shards: sourceShards.map((s) => ({ id: s.id, start: s.start, end: s.end, rows: s.rows, groups: s.groups.map((g) => ({ index: g.index, files: g.objects })) })),
    groups,
    outputPrefix: prefix,
  };
  // Refused before anything is written where the output's disk cannot hold the view's columns (8 bytes a cell).
  const viewBytes = source.rows * groups.reduce((n, g) => n + g.columns.length, 0) * CELL_BYTES;
  if (deps.config.diskCheck) await checkRoom({ staging: deps.output, output: deps.output }, { staging: 0, output: viewBytes }, { name: `view ${selection.name}`, advice: 'choose fewer columns (--include, --exclude, --drop)' });
  const result = await deps.warehouse.view(job);
  if (result.state === 'pending') return result;

  const keep = new Set([source.key, ...columns]);
  const byGroup = (index: number) => result.shards.flatMap((s) => s.groups.find((g) => g.index === index)?.files ?? []);
  const groupBytes = (index: number) => result.shards.reduce((n, s) => n + (s.groups.find((g) => g.index === index)?.bytes ?? 0), 0);
  const uris = (files: string[]) => files.map((f) => deps.output.uri(f));
  const bytes = result.shards.reduce((n, s) => n + s.groups.reduce((m, g) => m + g.bytes, 0), 0);
  const manifest = {
    pair: run.pair,
    runId: run.runId,
    view: {
      name: selection.name,
      source: { runId: run.runId, manifest: deps.output.uri(run.output.manifest), columns: source.groups.reduce((n, g) => n + g.columns.length - 1, 1) },
      selection: { include: selection.include ?? ['*'], exclude: selection.exclude ?? [], labels: selection.labels ?? ['*'], drop: selection.drop, maxNullShare: selection.maxNullShare ?? null },
      dropped: selected.dropped,
    },
    window: source.window,
    key: source.key,
    rows: source.rows,
    columns: 1 + columns.length,
    bytes,
    groups: groups.map((g) => ({ index: g.index, files: uris(byGroup(g.index)), objects: byGroup(g.index), rows: source.rows, columns: g.columns, bytes: groupBytes(g.index) })),
    ...(source.shardUnit ? { shardUnit: source.shardUnit } : {}),
    shards: result.shards.map((s: ViewShard, index) => ({
      index,
      id: s.id,
      start: s.start,
      end: s.end,
      rows: s.rows,
      groups: s.groups.map((g) => ({ index: g.index, files: uris(g.files), objects: g.files, rows: g.rows, bytes: g.bytes })),
    })),
    columnMapping: Object.fromEntries(Object.entries(source.columnMapping).filter(([c]) => keep.has(c))),
    ledger: ledger.filter((e) => keep.has(e.column)),
    createdAt: deps.clock.now().toISOString(),
  };
  // Same rows in the same shards as the source: its folds hold for the view as they are.
  const folds = paths.outputFolds(run.pair, run.runId);
  if ((await deps.output.size(folds)) !== undefined) {
    await deps.output.write(viewPaths.folds(run.pair, run.runId, selection.name), await deps.output.read(folds), { contentType: 'application/json' });
  }
  const manifestObject = viewPaths.manifest(run.pair, run.runId, selection.name);
  await deps.output.write(manifestObject, JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
  return {
    name: selection.name,
    runId: run.runId,
    pair: run.pair,
    manifest: deps.output.uri(manifestObject),
    rows: source.rows,
    columns: 1 + columns.length,
    files: result.shards.reduce((n, s) => n + s.groups.reduce((m, g) => m + g.files.length, 0), 0),
    bytes,
    labels: selected.labels.length,
    features: selected.features.length,
    dropped: selected.dropped,
  };
}
