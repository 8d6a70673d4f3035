// bqx: the command line of the embedded pipeline. `run` builds a pair's training dataset on this
// machine; `status`, `rerun`, `verify` and `demo` look after runs and data. Errors are one line
// on stderr with a non-zero exit; progress goes to stderr; --json prints one object to stdout.
// Heavy modules (DuckDB, the emulator stack's Google Cloud clients, the Functions Framework) are
// imported inside the commands that need them, so help, status and bad input answer at once.

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { CheckpointError } from '../checkpoint.js';
import type { ChainEvent } from '../chain/deps.js';
import { decodeRunRequest, type RunRequest } from '../chain/messages.js';
import { decodeRerunRequest, rerun } from '../chain/rerun.js';
import { reconcile } from '../chain/reconcile.js';
import { refreshBase } from '../chain/refresh.js';
import { startRun } from '../chain/startRun.js';
import { errorMessage } from '../log.js';
import { fileInTheWay } from '../fileInTheWay.js';
import { ConflictError, InputError, NotFoundError, assertRunId, isRunId, paths, validatePair } from '../naming.js';
import type { Embedded } from '../runtime/embedded.js';
import { KeptFirestore } from '../runtime/keptFirestore.js';
import { embeddedPaths } from '../runtime/paths.js';
import { openRecords } from '../runtime/records.js';
import { checkFlags, intFlag, parseArgs, stringFlag, type Args } from './args.js';
import { openLogFile, type LogFile } from './logFile.js';
import { ensureDemo, readDemoState, rebuildReason } from './demo.js';
import { checkRoom } from '../chain/diskRoom.js';
import { gcCommand } from './gc.js';
import { ProgressBar } from './progress.js';
import { finishedRun, namedRun, reportCommand, withGateFlags } from './report.js';
import { nextStep, quietFailure, summarise, summaryTable } from './summary.js';

const USAGE = `bqx: builds one ML training dataset per FX pair (embedded: DuckDB, a folder, no cloud)

usage:
  bqx run [pair]            build the pair's dataset (default eurusd); resumes the pair's active run
      --start T --end T     window [start, end) (default: the label table's whole range)
      --rows N              rows per demo table (default BQX_DEMO_ROWS)
      --consolidate         also write one training_<pair>.parquet
      --force               fail the pair's active run and start a new one
      --gate 'rows >= 150000:fail'   a quality gate (repeatable; added to BQX_GATES)
      --no-reuse            extract every feature (reuse no earlier checkpoint)
      --refresh             next version of the pair's last succeeded dataset: its start, the labels' new end
      --json                print one JSON summary to stdout
      --verbose             logs to stderr as well as to BQX_HOME/logs/bqx.log
      --quiet               no progress and no summary table (a failed run still says why, in one line)
      --stack emulators     run it through the deployed entry points on the Pub/Sub and Firestore
                            emulators (needs gcloud and java), DuckDB and folders for the rest
  bqx status [runId|pair]   runs: active and last per pair, or one run  (--json)
  bqx run [pair] --target gcp [--project P]   publish the request to a deployed chain's
                            run-requests topic and follow the run in Firestore (same bars, summary, --json)
  bqx status [runId|pair] --target gcp [--project P]   the same, from a deployed chain's Firestore
  bqx rerun <runId|pair> --missing | --merge | --features a,b   reopen a run (a pair: its last) for part of its work
  bqx report <runId|pair>   the dataset profile and quality gates of a finished run  (--json)
  bqx view <runId|pair> --name NAME [--include 'agg_*,mom_*'] [--exclude 'corr_etf_*']
      [--drop constant,duplicates,stale,leakage] [--max-null-share 0.5] [--labels 'target_bqx45_*'] [--json]
                            a narrower dataset of a finished one (views/NAME/ beside it), no extract
  bqx verify <_manifest.json|folder|runId|pair>   check a training dataset against its manifest (a pair: its last run's)
  bqx demo [--pairs eurusd,gbpusd] [--rows N]   build the demo warehouse
  bqx gc [pair] [--keep N] [--dry-run] [--json]   keep the last N datasets per pair (default BQX_KEEP),
                            remove older runs (--dry-run: say what would go, remove nothing)
  bqx demo --touch t1,t2    rewrite tables in place (same rows, new values, new data version)
  bqx demo --append 1d      append minutes (1d = 1440, 2h, 90m) to the label and feature tables
  bqx plan <pair> --target bigquery|gcp [--project P] --sql-out DIR [--json] [--start T --end T] [--refresh | --since T]
                            write every statement a run would send to BigQuery, and what it would read

data lives under BQX_HOME (default ./.bqx). Exit code: 0 success, 1 run failed, 2 bad input or the home in use (nothing started).`;

const BOOLEAN_FLAGS = new Set(['json', 'consolidate', 'force', 'verbose', 'help', 'missing', 'merge', 'quiet', 'no-reuse', 'refresh', 'dry-run']);
const VALUE_FLAGS = new Set(['start', 'end', 'rows', 'features', 'pairs', 'stack', 'target', 'project', 'keep', 'gate', 'sql-out', 'touch', 'append', 'name', 'include', 'exclude', 'drop', 'max-null-share', 'labels', 'since']);

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv, BOOLEAN_FLAGS, VALUE_FLAGS);
    // A pair in capitals (EURUSD) is the pair, for every command as for run (status, report, gc
    // and the rest refused it, each in its own words).
    args.positional = args.positional.map((p) => (/^[A-Za-z]{6}$/.test(p) ? p.toLowerCase() : p));
    // One target at most, said rather than the rest ignored (`bqx status eurusd gbpusd` showed eurusd alone).
    const targets: Record<string, [most: number, what: string]> = { status: [1, 'one run id or pair'], report: [1, 'one run id or pair'], rerun: [1, 'one run id or pair'], verify: [1, 'one manifest, folder, run id or pair'], demo: [0, 'no word but its options'] };
    const [most, what] = targets[args.command] ?? [Infinity, ''];
    if (args.positional.length > most) throw new InputError(`${args.command} takes ${what}, got ${args.positional.join(' ')}`);
    if (args.flags.has('help') || args.command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    // --target gcp: a deployed chain, configured from the environment as the functions are (shared/cli/gcp.ts).
    // Loaded only with --target: it brings the Google Cloud clients.
    if (args.flags.has('target') && args.command === 'run') return await (await import('./gcp.js')).gcpRunCommand(args, env);
    if (args.flags.has('target') && args.command === 'status') return await (await import('./gcp.js')).gcpStatusCommand(args, env);
    if (args.flags.has('project') && (args.command === 'run' || args.command === 'status')) throw new InputError(`--project is for --target gcp (bqx ${args.command} ... --target gcp --project P)`);
    // plan --target gcp takes --project as run and status do.
    const project = args.command === 'plan' ? stringFlag(args, 'project') : undefined;
    const config = loadConfig(project === undefined ? env : { ...env, BQX_PROJECT: project });
    // Every command below reads or writes the home, but a plan of a deployed chain.
    const homeFile = project === undefined && stringFlag(args, 'target') !== 'gcp' ? await fileInTheWay(config.embedded.home) : undefined;
    if (homeFile) throw new ConfigError('BQX_HOME', config.embedded.home, homeFile === config.embedded.home ? 'a file, not a folder' : `${homeFile} is a file, not a folder`);
    switch (args.command) {
      case 'run':
        return await runCommand(args, config);
      case 'status':
        return await statusCommand(args, config);
      case 'rerun':
        return await rerunCommand(args, config);
      case 'verify':
        return await verifyCommand(args, config);
      case 'report':
        return await reportCmd(args, config);
      case 'demo':
        return await demoCommand(args, config);
      case 'gc':
        return await gcCommand(args, config, () => open(config, false));
      case 'plan':
        return await (await import('./plan.js')).planCommand(args, config);
      case 'view':
        return await (await import('./view.js')).viewCommand(args, config, () => open(config, false));
      default:
        throw new InputError(`unknown command "${args.command}" (run, status, rerun, report, view, verify, demo, gc, plan, help)`);
    }
  } catch (error) {
    // By name as well: under a test loader (mocha + tsx) a lazily imported command module can get
    // its own copy of naming.ts, and then instanceof misses its InputError.
    const known = [ConfigError, InputError, NotFoundError, ConflictError, CheckpointError].some((k) => error instanceof k || (error instanceof Error && error.name === k.name));
    process.stderr.write(`bqx: ${errorMessage(error)}\n`);
    if (!known && env.BQX_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return known ? 2 : 1;
  }
}

/** The JSON logger of a command: BQX_HOME/logs/bqx.log, and stderr too when verbose. */
async function logTo(config: Config, verbose: boolean): Promise<LogFile> {
  const where = embeddedPaths(config.embedded.home);
  await fs.mkdir(where.logs, { recursive: true });
  return openLogFile(path.join(where.logs, 'bqx.log'), config.logLevel, verbose ? (line) => process.stderr.write(`${line}\n`) : undefined);
}

async function open(config: Config, verbose: boolean, observe?: (e: ChainEvent) => void): Promise<Embedded> {
  const log = await logTo(config, verbose);
  const { openEmbedded } = await import('../runtime/embedded.js');
  const embedded = await openEmbedded(config, { logger: log.logger, ...(observe ? { observe } : {}) });
  const close = embedded.close.bind(embedded);
  embedded.close = async () => {
    await close();
    await log.end();
  };
  return embedded;
}

async function reportCmd(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['json']);
  // The run store and the output folder only, as status and verify: no DuckDB to load, and it
  // answers while a run in another process holds the warehouse.
  const records = openRecords(config);
  try {
    return await reportCommand(records, config, args.positional[0], args.flags.has('json'));
  } finally {
    await records.close();
  }
}

async function runCommand(args: Args, configured: Config): Promise<number> {
  checkFlags(args, ['start', 'end', 'rows', 'consolidate', 'force', 'json', 'verbose', 'quiet', 'stack', 'gate', 'no-reuse', 'refresh']);
  const config = withGateFlags(args, configured);
  if (args.positional.length > 1) throw new InputError(`run takes one pair, got ${args.positional.join(' ')}`);
  // Everything is validated before anything is opened or written.
  const request = decodeRunRequest(
    {
      pair: args.positional[0] ?? 'eurusd',
      ...(stringFlag(args, 'start') ? { start: stringFlag(args, 'start') } : {}),
      ...(stringFlag(args, 'end') ? { end: stringFlag(args, 'end') } : {}),
      ...(args.flags.has('force') ? { force: true } : {}),
      ...(args.flags.has('no-reuse') ? { reuse: false } : {}),
      ...(args.flags.has('refresh') ? { refresh: true } : {}),
    },
    config.currencies,
  );
  const rows = intFlag(args, 'rows', 100, 10_000_000);
  const json = args.flags.has('json');
  const quiet = args.flags.has('quiet');
  const bars = { extract: undefined as ProgressBar | undefined, merge: undefined as ProgressBar | undefined, profile: undefined as ProgressBar | undefined };
  /** How the run ended, once it has (said on Ctrl-C: its record is written by then). */
  let finished: 'succeeded' | 'failed' | undefined;
  /** Set while the demo may be building (said on Ctrl-C). */
  let demoBuilding = false;
  const observe = (e: ChainEvent) => {
    if (e.type === 'finished') finished = e.state;
    if (quiet) return;
    if (e.type === 'started') bars.extract = new ProgressBar('extract', e.expected);
    if (e.type === 'landed') (bars.extract ??= new ProgressBar('extract', e.expected)).update(e.landed, e.expected);
    if (e.type === 'merge') (bars.merge ??= new ProgressBar('merge', e.progress.total)).update(e.progress.done, e.progress.total);
    if (e.type === 'profile') (bars.profile ??= new ProgressBar('profile', e.progress.total)).update(e.progress.done, e.progress.total);
  };
  if (args.flags.has('stack')) return stackRun(args, config, request, rows, observe);
  const embedded = await open(config, args.flags.has('verbose'), observe);
  let runId: string | undefined;
  const release = onInterrupt(() =>
    finished === 'succeeded'
      ? `run ${runId} succeeded: its dataset is written (bqx status ${request.pair}); what follows a run (retention, this summary) was cut short, and the next run or \`bqx gc\` finishes it`
      : finished === 'failed'
        ? `run ${runId} failed (bqx status ${request.pair} says why)`
        : runId
          ? `run ${runId} stays unfinished, with the checkpoints that landed: \`bqx run ${request.pair}\` resumes it`
          : `no run was started${demoBuilding ? '; the demo build under way starts again with the next command' : ''}`,
  );
  try {
    // A refresh with nothing to follow is refused before a first demo build, not after it; and
    // where the demo would be built again (a build or an append cut off, another --rows), since
    // that replaces the tables the version it follows was read from.
    if (request.refresh) {
      await refreshBase(embedded.deps, request.pair);
      await refuseDemoRebuild(embedded.home, rows);
    }
    const began = Date.now();
    demoBuilding = true;
    await ensureDemo(embedded, config, [request.pair], rows, quiet, true);
    demoBuilding = false;
    const demoMs = Date.now() - began;
    // --force fails the pair's active run, and so does a change of its tables since it began: said,
    // with its id (its status says why too).
    const superseded = await embedded.store.activeRun(request.pair);
    const started = await startRun(embedded.deps, request);
    let run = started.run;
    runId = run.runId;
    if (superseded && started.created && !quiet) {
      const why = (await embedded.store.getRun(superseded.runId))?.error ?? 'superseded';
      process.stderr.write(`pair ${run.pair}'s active run ${superseded.runId} (${superseded.state}) is failed (${why}), superseded by run ${run.runId}\n`);
    }
    if (!started.created && !quiet) process.stderr.write(`pair ${run.pair} has an active run ${run.runId} (${run.state}): resuming it\n`);
    if (!started.created) await reconcile(embedded.deps, { force: true, runIds: [run.runId] });
    // Drive the run to an end: wait for the bus to drain, and re-send what is missing if it stalls.
    for (;;) {
      await embedded.bus.idle();
      run = (await embedded.store.getRun(run.runId))!;
      if (run.state === 'succeeded' || run.state === 'failed') break;
      await reconcile(embedded.deps, { force: true, runIds: [run.runId] });
    }
    const extra: [string, string][] = demoMs > 1000 ? [['demo build', `${(demoMs / 1000).toFixed(1)} s`]] : [];
    let consolidated: string | undefined;
    if (run.state === 'succeeded' && args.flags.has('consolidate')) {
      // The one file is about the dataset's size: checked like the run, before it is written.
      if (config.diskCheck) await checkRoom(embedded.deps, { staging: 0, output: run.output!.bytes }, { name: 'the consolidated file', advice: 'leave out --consolidate (the dataset is written and verified)' });
      const object = paths.consolidated(run.pair, run.runId);
      const shards: { groups: { objects: string[] }[] }[] = JSON.parse(Buffer.from(await embedded.output.read(run.output!.manifest)).toString('utf8')).shards;
      await embedded.warehouse.consolidate(shards.map((s) => ({ groups: s.groups.map((g) => ({ files: g.objects })) })), object);
      consolidated = embedded.output.uri(object);
      extra.push(['consolidated', consolidated]);
    }
    const landed = await embedded.store.countCheckpoints(run.runId);
    const summary = summarise(run, landed, run.output ? embedded.output.uri(run.output.manifest) : null);
    // In the JSON too: a script reading it finds the one file as the table shows it.
    if (consolidated) summary.output.consolidated = consolidated;
    if (embedded.bus.deadLetters.length > 0) summary.warnings.push(`${embedded.bus.deadLetters.length} message(s) dead-lettered; see BQX_HOME/logs/bqx.log`);
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.stderr.write(quiet ? quietFailure(summary, nextStep(summary)) : `\n${summaryTable(summary, extra, nextStep(summary))}\n`);
    return run.state === 'succeeded' ? 0 : 1;
  } finally {
    release();
    await embedded.close();
  }
}

/**
 * Refuses a refresh that would first build the demo again: its appends and touches would go, and
 * the refresh be refused after all (a window ending before the version it follows).
 */
async function refuseDemoRebuild(home: string, rows: number | undefined): Promise<void> {
  const state = await readDemoState(home);
  // ensureDemo's rows: the ones asked for, else the demo's own.
  const why = state && rebuildReason(state, rows ?? state.rows);
  if (why) throw new InputError(`a refresh follows the tables the last version read, and this run would build the demo again (${why}): \`bqx demo\` builds it (its appends and touches go), then run without --refresh`);
}

/**
 * Ctrl-C (or a TERM) during a run stops it at once, as the signal would, after saying what stays
 * and how to go on: a run's state is in the run store and its checkpoints in staging after every
 * step, so nothing needs to be closed first (the next command removes the scratch, embedded.ts).
 * Returns what takes the handler away again.
 */
function onInterrupt(what: () => string): () => void {
  const handler = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbqx: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: ${what()}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler).once('SIGTERM', handler);
  return () => void process.off('SIGINT', handler).off('SIGTERM', handler);
}

/** `bqx run --stack emulators`: the same run and summary, through the emulator stack. */
async function stackRun(args: Args, config: Config, request: RunRequest, rows: number | undefined, observe: (e: ChainEvent) => void): Promise<number> {
  if (stringFlag(args, 'stack') !== 'emulators') throw new InputError(`--stack must be "emulators", got ${JSON.stringify(stringFlag(args, 'stack'))}`);
  if (args.flags.has('consolidate')) throw new InputError('--consolidate is not available with --stack emulators');
  // The stack's run records are its Firestore emulator's, kept between stacks as an export: with
  // none kept, the stack starts with no run, so a refresh is refused here, before a first demo
  // build and the emulators' start (about 20 s on a new home), not by startRun after them.
  if (request.refresh && !(await new KeptFirestore(embeddedPaths(config.embedded.home).emulatorData).importFile())) {
    throw new InputError(`pair ${request.pair} has no succeeded run of the emulator stack to refresh from: run it with --stack emulators, without --refresh, first`);
  }
  const { emulatorsMissing } = await import('../runtime/emulators.js');
  const missing = await emulatorsMissing();
  if (missing) throw new Error(`the emulator stack needs the Google Cloud CLI and java: ${missing}`);
  const quiet = args.flags.has('quiet');
  const embedded = await open(config, false);
  const began = Date.now();
  try {
    await ensureDemo(embedded, config, [request.pair], rows, quiet, true);
  } finally {
    await embedded.close(); // lets go of the DuckDB file for the stack
  }
  const demoMs = Date.now() - began;
  if (!quiet) process.stderr.write('starting the Pub/Sub and Firestore emulators and serving the functions...\n');
  const log = await logTo(config, args.flags.has('verbose'));
  try {
    const { runOnEmulators } = await import('../runtime/emulatorStack.js');
    const { run, landed, manifestPath, startupMs } = await runOnEmulators(config, request, { logger: log.logger, observe });
    const summary = summarise(run, landed, manifestPath);
    const extra: [string, string][] = [['emulator stack', `${(startupMs / 1000).toFixed(1)} s to start`], ...(demoMs > 1000 ? [['demo build', `${(demoMs / 1000).toFixed(1)} s`] as [string, string]] : [])];
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.stderr.write(quiet ? quietFailure(summary) : `\n${summaryTable(summary, extra)}\n`);
    return run.state === 'succeeded' ? 0 : 1;
  } finally {
    await log.end();
  }
}

async function statusCommand(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['json']);
  const embedded = openRecords(config);
  try {
    const target = args.positional[0];
    let runs;
    if (target === undefined) {
      const pairs = await fs.readdir(path.join(embeddedPaths(config.embedded.home).store, 'pairs')).catch(() => [] as string[]);
      const last = await Promise.all(pairs.map((p) => embedded.store.lastRun(p.replace(/\.json$/, ''))));
      runs = last.filter((r) => r !== undefined);
    } else if (/^[a-z]{6}$/.test(target)) {
      const pair = validatePair(target, config.currencies);
      runs = [(await embedded.store.activeRun(pair)) ?? (await embedded.store.lastRun(pair))].filter((r) => r !== undefined);
      if (runs.length === 0) throw new NotFoundError(`no runs for pair ${pair}${await stackRunsNote(config)}`);
    } else {
      const run = await embedded.store.getRun(assertRunId(target));
      if (!run) throw new NotFoundError(`run ${target} not found`);
      runs = [run];
    }
    const summaries = await Promise.all(runs.map(async (r) => summarise(r, await embedded.store.countCheckpoints(r.runId), r.output ? embedded.output.uri(r.output.manifest) : null)));
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(target === undefined ? summaries : summaries[0])}\n`);
    else if (summaries.length === 0) process.stdout.write(`no runs yet in BQX_HOME=${config.embedded.home}: try \`bqx run eurusd\`${await stackRunsNote(config)}\n`);
    else process.stdout.write(`${summaries.map((s) => summaryTable(s, [], nextStep(s))).join('\n\n')}\n`);
    return 0;
  } finally {
    await embedded.close();
  }
}

/**
 * Where the home holds runs of `--stack emulators` (their records are the stack's Firestore data,
 * which this command cannot read without starting an emulator): said, so that none looks lost.
 */
async function stackRunsNote(config: Config): Promise<string> {
  const kept = embeddedPaths(config.embedded.home).emulatorData;
  return (await new KeptFirestore(kept).pointed()) ? ` (the runs of \`bqx run --stack emulators\` are the stack's own, kept in ${kept}: each stack's summary shows its run)` : '';
}

async function rerunCommand(args: Args, configured: Config): Promise<number> {
  checkFlags(args, ['missing', 'merge', 'features', 'json', 'verbose', 'gate']);
  const config = withGateFlags(args, configured);
  // A run id, or a pair: its last run (as report, view and verify take them).
  const target = args.positional[0];
  if (!target) throw new InputError('rerun needs a run id or a pair');
  const pair = /^[a-z]{6}$/.test(target) ? validatePair(target, config.currencies) : undefined;
  if (!pair) assertRunId(target);
  const modes = ['missing', 'merge', 'features'].filter((m) => args.flags.has(m));
  if (modes.length !== 1) throw new InputError('rerun needs exactly one of --missing, --merge, --features a,b');
  const features = stringFlag(args, 'features')?.split(',').map((f) => f.trim());
  const request = decodeRerunRequest({ mode: modes[0], ...(features ? { features } : {}) });
  const bars = { extract: undefined as ProgressBar | undefined, merge: undefined as ProgressBar | undefined };
  const embedded = await open(config, args.flags.has('verbose'), (e) => {
    if (e.type === 'landed') (bars.extract ??= new ProgressBar('extract', e.expected)).update(e.landed, e.expected);
    if (e.type === 'merge') (bars.merge ??= new ProgressBar('merge', e.progress.total)).update(e.progress.done, e.progress.total);
  });
  try {
    // A run id goes to the chain's rerun as given: it says itself when there is no such run.
    const runId = pair ? (await namedRun(embedded, config, pair)).runId : target;
    const { features: sent } = await rerun(embedded.deps, runId, request);
    process.stderr.write(`run ${runId} reopened (${request.mode}${sent.length ? `, ${sent.length} feature(s)` : ''})\n`);
    let run;
    for (;;) {
      await embedded.bus.idle();
      run = (await embedded.store.getRun(runId))!;
      if (run.state === 'succeeded' || run.state === 'failed') break;
      await reconcile(embedded.deps, { force: true, runIds: [runId] });
    }
    const summary = summarise(run, await embedded.store.countCheckpoints(runId), run.output ? embedded.output.uri(run.output.manifest) : null);
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.stderr.write(`\n${summaryTable(summary, [], nextStep(summary))}\n`);
    return run.state === 'succeeded' ? 0 : 1;
  } finally {
    await embedded.close();
  }
}

async function verifyCommand(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['json']);
  const target = args.positional[0];
  if (!target) throw new InputError('verify needs the path of a _manifest.json, a run id or a pair');
  const file = await manifestOf(target, config);
  const { verifyManifest } = await import('./verify.js');
  const result = await verifyManifest(file);
  if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  else if (result.ok) process.stdout.write(`ok: ${result.rows} rows x ${result.columns} columns in ${result.files} file(s); keys unique, ascending and aligned\n`);
  else process.stdout.write(`FAILED:\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  // The files can be sound while the run failed its quality gates: said, the exit code is the files'.
  if (result.failedGates && !args.flags.has('json')) process.stdout.write(`note: its run failed the quality gate(s) ${result.failedGates.join(', ')}: not a dataset to train on (bqx report ${target})\n`);
  return result.ok ? 0 : 1;
}

/**
 * The manifest `target` names: a file path as given; a run id or a pair (its last run) looked up
 * in the embedded run store, as `bqx report` does, when no such file exists. The records only, as
 * `bqx status` reads them: no warehouse is opened, so it works while a run holds it.
 */
async function manifestOf(target: string, config: Config): Promise<string> {
  // A dataset's folder stands for its manifest.
  if ((await fs.stat(target).catch(() => undefined))?.isDirectory()) return path.join(target, '_manifest.json');
  if (!/^[a-z]{6}$/.test(target) && !isRunId(target)) return target;
  if (await fs.stat(target).then(() => true, () => false)) return target;
  const records = openRecords(config);
  try {
    return records.output.uri((await finishedRun(records, config, target)).output.manifest);
  } finally {
    await records.close();
  }
}

async function demoCommand(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['pairs', 'rows', 'touch', 'append']);
  // Loaded here: demo/change.ts brings the DuckDB bindings, which help and status must not wait for.
  const { changeDemo, demoChange, demoToChange } = await import('./demoChange.js');
  const change = demoChange(args);
  if (change) {
    const state = await demoToChange(config.embedded.home, change);
    const embedded = await open(config, false);
    // Each table's data version is marked before and after its rows change, so a cut-off change leaves no stale checkpoint reusable.
    const release = onInterrupt(() =>
      change.touch
        ? 'the touch stops partway: the tables rewritten so far have new values and data versions; run it again to touch them all'
        : `the append stops partway: some tables may have the new minutes and others not; \`bqx demo --rows ${state.rows}\` builds the demo again`,
    );
    try {
      process.stderr.write(`${await changeDemo(embedded, config, change, state)}\n`);
      return 0;
    } finally {
      release();
      await embedded.close();
    }
  }
  const pairs = (stringFlag(args, 'pairs') ?? 'eurusd').split(',').map((p) => validatePair(p.trim(), config.currencies));
  const rows = intFlag(args, 'rows', 100, 10_000_000);
  const embedded = await open(config, false);
  // demo.json records a build only once it is whole: a cut-off build is built again by the next command.
  const release = onInterrupt(() => 'the demo build stops unfinished: the next `bqx demo` or `bqx run` builds it again');
  try {
    const result = await ensureDemo(embedded, config, pairs, rows, false);
    const warehouse = embeddedPaths(config.embedded.home).warehouse;
    if (result === 'own-data') {
      process.stderr.write(`bqx: ${warehouse} already has the label tables of ${pairs.join(', ')} and was not built by bqx demo: left alone (move it away to build the demo)\n`);
      return 1;
    }
    process.stderr.write(result === 'present' ? 'the demo warehouse is already built with these pairs and rows\n' : `demo warehouse ready: ${warehouse}\n`);
    return 0;
  } finally {
    release();
    await embedded.close();
  }
}
