// `bqx run <pair> --target gcp` and `bqx status --target gcp`: the same commands against a deployed
// chain. `run` publishes the request to the run-requests topic (as `gcloud pubsub topics publish`
// would), finds the run startRun made or joined in Firestore, follows it with the same progress
// bars, and prints the same summary and --json. The run belongs to the cloud: Ctrl-C stops only the
// following. `status` reads the same runs from Firestore.

import type { ChainEvent } from '../chain/deps.js';
import { attributes, decodeRunRequest } from '../chain/messages.js';
import { errorMessage, jsonLogger } from '../log.js';
import { InputError, NotFoundError, allPairs, assertRunId, validatePair } from '../naming.js';
import type { RunRecord } from '../ports.js';
import { followRun, snapshotPair } from '../runtime/followRun.js';
import { assertCredentials } from '../runtime/gcpCredentials.js';
import { gcpTargetConfig, openGcpTarget, type GcpTarget } from '../runtime/gcpTarget.js';
import { checkFlags, stringFlag, type Args } from './args.js';
import { ProgressBar } from './progress.js';
import { quietFailure, summarise, summaryTable, type RunSummary } from './summary.js';

/** How often the run store is read while following (ms); BQX_FOLLOW_POLL_MS for tests. */
const pollMs = (env: NodeJS.ProcessEnv) => (env.BQX_FOLLOW_POLL_MS && /^\d+$/.test(env.BQX_FOLLOW_POLL_MS) ? Number(env.BQX_FOLLOW_POLL_MS) : 2000);

async function target(args: Args, env: NodeJS.ProcessEnv): Promise<GcpTarget> {
  const name = stringFlag(args, 'target');
  if (name !== 'gcp') throw new InputError(`--target must be "gcp", got ${JSON.stringify(name)}`);
  const config = gcpTargetConfig(env, stringFlag(args, 'project'));
  // The clients read process.env (the emulators' hosts, the credentials), whatever env the command was given.
  await assertCredentials(['pubsub', 'firestore']);
  // Client warnings go to stderr as JSON lines only when asked for; the summary is the output.
  return openGcpTarget(config, jsonLogger(env.BQX_VERBOSE ? 'debug' : 'error', (line) => process.stderr.write(`${line}\n`)));
}

const summaryOf = (t: GcpTarget, run: RunRecord, landed: number): RunSummary => summarise(run, landed, run.output ? t.output.uri(run.output.manifest) : null);

export async function gcpRunCommand(args: Args, env: NodeJS.ProcessEnv): Promise<number> {
  checkFlags(args, ['target', 'project', 'start', 'end', 'force', 'json', 'quiet', 'refresh', 'no-reuse']);
  if (args.positional.length > 1) throw new InputError(`run takes one pair, got ${args.positional.join(' ')}`);
  const t = await target(args, env);
  const quiet = args.flags.has('quiet');
  let interrupted: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => (interrupted = signal);
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const request = decodeRunRequest(
      {
        pair: args.positional[0] ?? 'eurusd',
        ...(stringFlag(args, 'start') ? { start: stringFlag(args, 'start') } : {}),
        ...(stringFlag(args, 'end') ? { end: stringFlag(args, 'end') } : {}),
        ...(args.flags.has('force') ? { force: true } : {}),
        ...(args.flags.has('refresh') ? { refresh: true } : {}),
        // The request's own field (run-requests topic, POST /runs): every feature extracted.
        ...(args.flags.has('no-reuse') ? { reuse: false } : {}),
      },
      t.config.currencies,
    );
    const before = await snapshotPair(t.store, request.pair);
    const messageId = await t.bus.publish(t.config.topics.runRequests, request, attributes({ pair: request.pair }));
    if (!quiet) process.stderr.write(`published the request to ${t.config.topics.runRequests} (message ${messageId}) in project ${t.config.gcp.project}; following the run in Firestore...\n`);
    const bars = { extract: undefined as ProgressBar | undefined, merge: undefined as ProgressBar | undefined };
    const observe = (e: ChainEvent) => {
      if (quiet) return;
      if (e.type === 'started') process.stderr.write(`run ${e.runId}\n`);
      if (e.type === 'landed') (bars.extract ??= new ProgressBar('extract', e.expected)).update(e.landed, e.expected);
      if (e.type === 'merge') (bars.merge ??= new ProgressBar('merge', e.progress.total)).update(e.progress.done, e.progress.total);
    };
    const { run, landed } = await followRun({
      store: t.store,
      pair: request.pair,
      before,
      force: request.force ?? false,
      observe,
      pollMs: pollMs(env),
      requestId: messageId,
      check: () => {
        if (interrupted) throw new Error(`interrupted by ${interrupted}: stopped following; the run goes on in Google Cloud (bqx status ${request.pair} --target gcp)`);
      },
    });
    const summary = summaryOf(t, run, landed);
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.stderr.write(quiet ? quietFailure(summary) : `\n${summaryTable(summary, [['project', t.config.gcp.project]])}\n`);
    return run.state === 'succeeded' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await t.close().catch((error) => process.stderr.write(`bqx: closing the Google Cloud clients: ${errorMessage(error)}\n`));
  }
}

export async function gcpStatusCommand(args: Args, env: NodeJS.ProcessEnv): Promise<number> {
  checkFlags(args, ['target', 'project', 'json']);
  const t = await target(args, env);
  try {
    const which = args.positional[0];
    let runs: RunRecord[];
    if (which === undefined) {
      // Every pair's active run, else its last one: one query each for the configured pairs.
      const found = await Promise.all(allPairs(t.config.currencies).map(async (p) => (await t.store.activeRun(p)) ?? (await t.store.lastRun(p))));
      runs = found.filter((r) => r !== undefined);
    } else if (/^[a-z]{6}$/.test(which)) {
      const pair = validatePair(which, t.config.currencies);
      const run = (await t.store.activeRun(pair)) ?? (await t.store.lastRun(pair));
      if (!run) throw new NotFoundError(`no runs for pair ${pair} in project ${t.config.gcp.project}`);
      runs = [run];
    } else {
      const run = await t.store.getRun(assertRunId(which));
      if (!run) throw new NotFoundError(`run ${which} not found in project ${t.config.gcp.project}`);
      runs = [run];
    }
    const summaries = await Promise.all(runs.map(async (r) => summaryOf(t, r, await t.store.countCheckpoints(r.runId))));
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(which === undefined ? summaries : summaries[0])}\n`);
    else if (summaries.length === 0) process.stdout.write(`no runs yet in project ${t.config.gcp.project}: try \`bqx run eurusd --target gcp\`\n`);
    else process.stdout.write(`${summaries.map((s) => summaryTable(s)).join('\n\n')}\n`);
    return 0;
  } finally {
    await t.close();
  }
}
