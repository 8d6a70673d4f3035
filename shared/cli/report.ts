// `bqx report <runId|pair>`: the dataset profile and quality gates of a finished run, from its
// report.json, readably (or the report's `profile` and `gates` as JSON with --json). Also the
// `--gate` option of `run` and `rerun`: gates added to the configured ones for this command.

import type { Config } from '../config.js';
import { InputError, NotFoundError, assertRunId, paths, validatePair } from '../naming.js';
import { GateError, parseGate } from '../profile/gates.js';
import { carriedOnText } from '../profile/resumeByGroup.js';
import type { RunOutput, RunRecord, RunStore } from '../ports.js';
import type { RunReport } from '../report.js';
import type { Embedded } from '../runtime/embedded.js';
import type { Args } from './args.js';
import { segmentText, type FoldsFile } from '../folds.js';

/** The configuration with the command's `--gate` options added to BQX_GATES (or the defaults). */
export function withGateFlags(args: Args, config: Config): Config {
  const flags = args.repeated.get('gate') ?? [];
  if (flags.length === 0) return config;
  try {
    return { ...config, profile: { ...config.profile, gates: [...config.profile.gates, ...flags.map(parseGate)] } };
  } catch (error) {
    if (error instanceof GateError) throw new InputError(`--gate: ${error.message}`);
    throw error;
  }
}

/** The run `target` names: a run id, or a pair (its last run); a clear error where there is none. */
export async function namedRun(embedded: { store: RunStore }, config: Config, target: string): Promise<RunRecord> {
  const run = /^[a-z]{6}$/.test(target)
    ? await embedded.store.lastRun(validatePair(target, config.currencies))
    : await embedded.store.getRun(assertRunId(target));
  if (!run) throw new NotFoundError(`no run found for ${target}`);
  return run;
}

/** The run `target` names (namedRun), with its output; a clear error where there is none. */
export async function finishedRun(embedded: { store: RunStore }, config: Config, target: string): Promise<RunRecord & { output: RunOutput }> {
  const run = await namedRun(embedded, config, target);
  assertNotRemoved(run);
  if (!run.output) {
    // The pair's last run is still going (or failed before its output): its last dataset is named.
    const earlier = run.runId === target ? undefined : (await embedded.store.listRuns(run.pair)).filter((r) => r.output && r.collected?.scope !== 'all').at(-1);
    const instead = earlier ? `; the pair's last dataset is run ${earlier.runId}'s (${earlier.state}): name it` : '';
    throw new NotFoundError(`run ${run.runId} has no output yet (${run.state}${run.error ? `: ${run.error}` : ''})${instead}`);
  }
  return run as RunRecord & { output: RunOutput };
}

/** Refuses a run whose dataset retention removed (its record stays, with `collected`), saying when. */
export function assertNotRemoved(run: RunRecord): void {
  if (run.collected?.scope === 'all') throw new NotFoundError(`run ${run.runId}'s dataset was removed by retention at ${run.collected.at} (bqx gc, or after a later run's success)`);
}

export async function reportCommand(embedded: Pick<Embedded, 'store' | 'output'>, config: Config, target: string | undefined, json: boolean): Promise<number> {
  if (!target) throw new InputError('report needs a run id or a pair');
  const run = await finishedRun(embedded, config, target);
  const report = JSON.parse(Buffer.from(await embedded.output.read(run.output.report)).toString('utf8')) as RunReport;
  // Beside it (a dataset from before folds were written has none).
  const folds = await embedded.output.read(paths.outputFolds(run.pair, run.runId)).then((b) => JSON.parse(Buffer.from(b).toString('utf8')) as FoldsFile, () => undefined);
  if (json) {
    process.stdout.write(`${JSON.stringify({ runId: run.runId, pair: run.pair, status: run.state, profile: report.profile ?? null, gates: report.gates ?? [] })}\n`);
  } else {
    process.stdout.write(`${formatReport(run.runId, run.state, report, embedded.output.uri(paths.outputPage(run.pair, run.runId)), folds)}\n`);
  }
  return 0;
}

export function formatReport(runId: string, state: string, report: RunReport, html: string, folds?: FoldsFile): string {
  const p = report.profile;
  const lines = [`run ${runId} (${state}): ${report.labelRows.toLocaleString('en-US')} rows x ${report.totals.columns.toLocaleString('en-US')} columns`, `page: ${html}`, ''];
  lines.push('quality gates:');
  for (const g of report.gates ?? []) lines.push(`  ${g.passed ? 'ok  ' : g.level === 'fail' ? 'FAIL' : 'warn'}  ${g.gate.padEnd(32)} measured ${g.value}`);
  if (!p) {
    // With gates but no profile, the run was made with BQX_PROFILE=keys; without gates, before profiling existed.
    lines.push('', report.gates ? 'columns not profiled (BQX_PROFILE=keys): only the key gaps (the unexpected_gaps gate) and the fold rows were measured; the gates that need the column profile were not checked' : 'no profile in this report (made before profiling existed)');
    foldLines(lines, folds);
    return lines.join('\n');
  }
  const r = report.profileReuse;
  const n = (x: number) => x.toLocaleString('en-US');
  if (r && (r.carriedOnFrom !== undefined || r.carriedOnFromEnd)) lines.push('', `columns profiled: ${n(r.profiled)}, ${carriedOnText(r)} (the rows before shared, not read again)`);
  else if (r) lines.push('', `columns profiled: ${n(r.profiled)} measured${r.from ? `, ${n(r.reused)} taken from ${r.from} (same rows, same checkpoints)` : ''}${r.why ? ` (${r.why})` : ''}`);
  if (r?.screened) lines.push(`leakage screen: ${n(r.screened.screened)} column(s) screened, ${n(r.screened.taken)} taken from ${r.from}'s screen of the same sample`);
  const section = (title: string, items: string[]) => {
    lines.push('', `${title}: ${items.length}`);
    for (const i of items.slice(0, 20)) lines.push(`  - ${i}`);
    if (items.length > 20) lines.push(`  ... and ${items.length - 20} more (--json for all)`);
  };
  const byColumn = new Map(p.columns.map((c) => [c.column, c]));
  if (p.labelsSampled === 0) lines.push('', 'leakage: not measured (no label has a value in the sample the screen compares)');
  else section('leakage', p.leakage.map((l) => `${l.feature} ~ ${l.label}: correlation ${l.correlation}${l.shiftRows !== 0 ? `, equals the label ${l.shiftRows} row(s) earlier` : ''}`));
  section('duplicate column groups', p.duplicates.map((g) => g.join(' = ')));
  section('constant columns', p.constant);
  section(`stale columns (repeat share >= ${p.settings.staleShare})`, p.stale.map((c) => `${c}: ${(byColumn.get(c)!.repeatShare * 100).toFixed(1)}% repeats, longest run ${byColumn.get(c)!.longestRun ?? '-'} rows`));
  section(`warm-up nulls (first ${p.settings.warmupRows} rows)`, p.warmup.map((c) => `${c}: ${(byColumn.get(c)!.warmupNullShare * 100).toFixed(1)}% null in the warm-up`));
  section('unexpected gaps in the key', p.gaps.unexpected.map((g) => `${g.from} to ${g.to}: ${g.minutes} minutes`));
  lines.push(`weekend closures: ${p.gaps.weekend}`);
  section('inf, NaN or beyond 10 sd', p.outliers.map((o) => `${o.column}: ${o.inf} inf, ${o.nan} NaN, ${o.beyond10sd} beyond 10 sd`));
  // Labels with the same tail on one line: a label table's unknown last minutes are the same for
  // every label (49 lines that said the same thing before).
  const tails = new Map<number, typeof p.labels>();
  for (const l of p.labels.filter((t) => t.tailNulls > t.expected)) tails.set(l.tailNulls, [...(tails.get(l.tailNulls) ?? []), l]);
  const tailLine = (rows: number, labels: typeof p.labels) => {
    if (labels.length === 1) return `${labels[0]!.label}: ${n(rows)} null rows at the end, horizon ${labels[0]!.horizonMinutes} min`;
    const horizons = labels.map((l) => l.horizonMinutes);
    const named = labels.length > 3 ? `${labels.slice(0, 3).map((l) => l.label).join(', ')} and ${labels.length - 3} more` : labels.map((l) => l.label).join(', ');
    return `${labels.length} labels (${named}): ${n(rows)} null rows at the end, horizons ${Math.min(...horizons)} to ${Math.max(...horizons)} min`;
  };
  // Counted in labels, listed in groups.
  lines.push('', `labels with more null rows at the end than their horizon: ${[...tails.values()].reduce((k, l) => k + l.length, 0)}`);
  for (const [rows, labels] of tails) lines.push(`  - ${tailLine(rows, labels)}`);
  foldLines(lines, folds);
  return lines.join('\n');
}

/** Where a modeller trains and scores: each fold's three segments, and what the plan left out. */
function foldLines(lines: string[], folds: FoldsFile | undefined): void {
  if (!folds) return;
  const n = (x: number) => x.toLocaleString('en-US');
  lines.push('', `time folds (folds.json: purge ${folds.purgeMinutes} + embargo ${folds.embargoMinutes} minutes${folds.labelTailMinutes ? `, none in the labels' last ${n(folds.labelTailMinutes)} minutes` : ''}): ${folds.folds.length}`);
  for (const f of folds.folds.slice(0, 20)) lines.push(`  - ${f.index}: train ${segmentText(f.train)}, validation ${segmentText(f.validation)}, test ${segmentText(f.test)}`);
  if (folds.folds.length > 20) lines.push(`  ... and ${folds.folds.length - 20} more (folds.json has all)`);
  lines.push(`  ${folds.note}`);
}
