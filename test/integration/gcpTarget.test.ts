// `bqx run --target gcp` and `bqx status --target gcp` against the Pub/Sub and Firestore emulators
// (skipped, saying so, without gcloud/java). A stand-in for the deployed chain pulls the request the
// CLI published from a subscription on run-requests and drives a real run with the core (startRun,
// extracts, landings, merge) on the fixture's tiny DuckDB warehouse, recording it in Firestore
// through the Firestore run store; the CLI must find that run, follow it and summarise it.

import assert from 'node:assert/strict';
import { Firestore } from '@google-cloud/firestore';
import sinon from 'sinon';
import { FirestoreRunStore } from '../../shared/adapters/gcp/firestoreRunStore.js';
import { checkpointLanded } from '../../shared/chain/checkpointLanded.js';
import type { ChainDeps } from '../../shared/chain/deps.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import { decodeRunRequest } from '../../shared/chain/messages.js';
import { mergeRun } from '../../shared/chain/mergeRun.js';
import { startRun } from '../../shared/chain/startRun.js';
import { main } from '../../shared/cli/main.js';
import { paths } from '../../shared/naming.js';
import { PubSubEmulatorAdmin, until, type PulledMessage } from '../../shared/runtime/emulators.js';
import { FEATURES, STAGING_BUCKET, openFixture, type Fixture } from '../functions/fixtures.js';
import { startEmulator, useEmulatorEnv, type Emulator } from '../gcp/emulators.js';

const TOPIC = `bqx-run-requests-cli-${process.pid}`;
const PULL = `${TOPIC}-standin`;

/** Runs the CLI in this process, capturing what it writes. */
async function bqx(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = sinon.stub(process.stderr, 'write').callsFake((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(argv, env);
    return { code, stdout, stderr };
  } finally {
    out.restore();
    err.restore();
  }
}

describe('integration: bqx run/status --target gcp (Pub/Sub and Firestore emulators)', function () {
  this.timeout(240_000);
  const emulators: Emulator[] = [];
  const restores: (() => void)[] = [];
  let admin: PubSubEmulatorAdmin;
  let fx: Fixture;
  let deps: ChainDeps;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    const [pubsub, firestore] = await Promise.all([startEmulator('pubsub'), startEmulator('firestore')]);
    for (const e of [pubsub, firestore]) if (e) emulators.push(e);
    if (!pubsub || !firestore) return this.skip(); // startEmulator printed SKIPPED with the reason
    restores.push(useEmulatorEnv(pubsub), useEmulatorEnv(firestore));
    admin = new PubSubEmulatorAdmin(pubsub);
    await admin.createTopic(TOPIC);
    await admin.createSubscription(PULL, TOPIC);
    fx = await openFixture();
    const store = new FirestoreRunStore(new Firestore({ projectId: pubsub.project, ignoreUndefinedProperties: true }));
    deps = { ...fx.deps, store };
    env = { ...process.env, BQX_PROJECT: pubsub.project, BQX_TOPIC_RUN_REQUESTS: TOPIC, BQX_FOLLOW_POLL_MS: '100' };
    delete env.BQX_STAGING_BUCKET;
    delete env.BQX_OUTPUT_BUCKET;
  });

  // A stand-in that fails ends its test while the CLI it races still holds stdout and stderr
  // stubbed: given back here, so mocha's report of that failure is not swallowed by the stubs.
  afterEach(() => sinon.restore());

  after(async () => {
    await deps?.store.close();
    await fx?.close();
    for (const restore of restores.reverse()) restore();
    await Promise.all(emulators.map((e) => e.stop()));
  });

  /** The deployed chain's part: the request from run-requests, then a whole run, recorded in Firestore. */
  async function standIn(): Promise<{ message: PulledMessage; runId: string }> {
    let pulled: PulledMessage[] = [];
    await until(async () => (pulled = await admin.pull(PULL)).length > 0, 60_000, 100);
    assert.equal(pulled.length, 1);
    const message = pulled[0]!;
    const { run } = await startRun(deps, decodeRunRequest(message.data, deps.config.currencies));
    for (const feature of FEATURES) {
      await new Promise((resolve) => setTimeout(resolve, 150)); // slow enough for the CLI to see landings one by one
      await extractFeature(deps, { runId: run.runId, pair: run.pair, feature });
      await checkpointLanded(deps, { bucket: STAGING_BUCKET, name: paths.marker(run.runId, feature), size: 100 });
    }
    assert.equal(await mergeRun(deps, { runId: run.runId, pair: run.pair }), 'succeeded');
    return { message, runId: run.runId };
  }

  it('run publishes the request, follows the run in Firestore with progress bars, and prints its summary and --json', async () => {
    const [cli, chain] = await Promise.all([bqx(['run', 'eurusd', '--target', 'gcp', '--json'], env), standIn()]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(chain.message.data), { pair: 'eurusd' });
    assert.deepEqual(chain.message.attributes, { pair: 'eurusd' });

    const summary = JSON.parse(cli.stdout);
    assert.equal(summary.runId, chain.runId);
    assert.deepEqual(
      { status: summary.status, expected: summary.expected, landed: summary.landed, rows: summary.output.rows, columns: summary.output.columns },
      { status: 'succeeded', expected: FEATURES.length, landed: FEATURES.length, rows: 60, columns: 9 },
    );
    assert.equal(summary.output.manifest, `gs://demo-bqx-bqx-output/training/eurusd/${chain.runId}/_manifest.json`);
    assert.match(cli.stderr, new RegExp(`published the request to ${TOPIC} \\(message \\d+\\) in project demo-bqx`));
    assert.match(cli.stderr, new RegExp(`run ${chain.runId}`));
    assert.match(cli.stderr, /extract +\[#+\] +5\/5 100%/);
    assert.match(cli.stderr, /merge +\[#+\] +1\/1 100%/);
    assert.match(cli.stderr, /status +succeeded/);

    const one = await bqx(['status', 'eurusd', '--target', 'gcp', '--json'], env);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout), summary);
    const all = await bqx(['status', '--target', 'gcp', '--json'], env);
    assert.deepEqual(JSON.parse(all.stdout), [summary]);
    const byId = await bqx(['status', chain.runId, '--target', 'gcp'], env);
    assert.match(byId.stdout, /features landed +5 \/ 5/);
  });

  it('run --refresh publishes {pair, refresh: true}; the deployed startRun follows the last dataset, and the summary says so', async () => {
    const before = (await deps.store.listRuns('eurusd')).filter((r) => r.state === 'succeeded').map((r) => r.runId);
    assert.ok(before.length > 0, 'the first test left a succeeded run to refresh');
    // The fixture's tables record no data versions: the refresh extracts every feature again, as the stand-in drives it.
    const [cli, chain] = await Promise.all([bqx(['run', 'eurusd', '--target', 'gcp', '--refresh', '--json'], env), standIn()]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(chain.message.data), { pair: 'eurusd', refresh: true });
    const run = (await deps.store.getRun(chain.runId))!;
    assert.ok(run.refresh && before.includes(run.refresh.from), `it follows an earlier succeeded run (${run.refresh?.from})`);
    const summary = JSON.parse(cli.stdout);
    assert.deepEqual([summary.runId, summary.status, summary.refresh?.from, summary.extracted], [chain.runId, 'succeeded', run.refresh.from, FEATURES.length]);
  });

  it('run --no-reuse publishes {pair, reuse: false}: the deployed startRun extracts every feature', async () => {
    const [cli, chain] = await Promise.all([bqx(['run', 'eurusd', '--target', 'gcp', '--no-reuse', '--json'], env), standIn()]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(chain.message.data), { pair: 'eurusd', reuse: false });
    const summary = JSON.parse(cli.stdout);
    assert.deepEqual([summary.runId, summary.status, summary.extracted, summary.reused], [chain.runId, 'succeeded', FEATURES.length, 0]);
  });

  it('says at once why startRun refused the request it published (a pair without a label table), exit 2', async () => {
    // The deployed startRun's part: the request with its message id, refused, its reason recorded in Firestore.
    const refuse = async () => {
      let pulled: PulledMessage[] = [];
      await until(async () => (pulled = await admin.pull(PULL)).length > 0, 60_000, 100);
      const message = pulled[0]!;
      await assert.rejects(startRun(deps, { ...decodeRunRequest(message.data, deps.config.currencies), requestId: message.messageId }), /label table .* not found/);
      return message;
    };
    const began = Date.now();
    const [cli, message] = await Promise.all([bqx(['run', 'gbpjpy', '--target', 'gcp'], env), refuse()]);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /\nbqx: startRun refused the request: label table bqx_ml_v3_analytics_v2\.targets_gbpjpy not found\n$/);
    assert.match(cli.stderr, new RegExp(`\\(message ${message.messageId}\\)`));
    assert.ok(Date.now() - began < 60_000, 'not the wait for a run that never appears (300 s)');
  });

  it('refuses a bad target, an unknown pair and a missing run with one line and exit 2, publishing nothing', async () => {
    const bad = await bqx(['run', 'eurusd', '--target', 'aws'], env);
    assert.deepEqual([bad.code, bad.stderr], [2, 'bqx: --target must be "gcp", got "aws"\n']);
    const pair = await bqx(['run', 'usdeur', '--target', 'gcp'], env);
    assert.deepEqual([pair.code, pair.stderr], [2, 'bqx: unknown pair "usdeur" (did you mean eurusd?)\n']);
    const missing = await bqx(['status', 'eurusd-20990101t000000-zzzzzz', '--target', 'gcp'], env);
    assert.deepEqual([missing.code, missing.stderr], [2, 'bqx: run eurusd-20990101t000000-zzzzzz not found in project demo-bqx\n']);
    assert.deepEqual(await admin.pull(PULL), []);
  });
});
