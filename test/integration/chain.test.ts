// The deployed entry points on the real Pub/Sub and Firestore emulators (skipped, saying so, without
// gcloud/java): runs of the full-width demo warehouse (667 features, 17,038 columns) driven by push
// subscriptions and Firestore transactions, with an extract instance killed mid-request, and with
// every landing delivered twice, concurrently.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { loadConfig } from '../../shared/config.js';
import { jsonLogger } from '../../shared/log.js';
import { paths } from '../../shared/naming.js';
import type { ExtractJob, RunRecord } from '../../shared/ports.js';
import { RUN_EVENTS_SUBSCRIPTION, startEmulatorStack, type EmulatorStack } from '../../shared/runtime/emulatorStack.js';
import { runOfRequest, snapshotPair } from '../../shared/runtime/followRun.js';
import { emulatorsMissing, until } from '../../shared/runtime/emulators.js';
import { ceHeaders, FINALIZED, storageData, storageSource } from '../functions/fixtures.js';
import { freshHome } from '../helpers/embedded.js';

const ROWS = 600;
const FEATURES = 667;

interface Line {
  severity: string;
  message: string;
  step?: string;
}

describe('integration: the functions on the Pub/Sub and Firestore emulators', function () {
  // Generous: about 65 s a test on a quiet 2-core machine, several times that when it is shared.
  this.timeout(600_000);
  const sandbox = sinon.createSandbox();
  let stack: EmulatorStack | undefined;
  const logs: Line[] = [];

  before(async function () {
    const missing = await emulatorsMissing();
    if (missing) {
      console.log(`SKIPPED: emulator integration tests because ${missing}`);
      return this.skip();
    }
    const home = await freshHome(ROWS);
    const config = loadConfig({ BQX_HOME: home });
    stack = await startEmulatorStack(config, { logger: jsonLogger('info', (line) => logs.push(JSON.parse(line) as Line)) });
  });

  afterEach(() => {
    sandbox.restore();
    stack?.holdNotifications(false);
  });

  after(async () => {
    await stack?.stop();
  });

  /** Polls the run store until the run ends. */
  async function finished(runId: string): Promise<RunRecord> {
    let run: RunRecord | undefined;
    const ended = await until(async () => {
      run = await stack!.store.getRun(runId);
      return run?.state === 'succeeded' || run?.state === 'failed';
    }, 480_000, 250);
    assert.ok(ended, `run ${runId} ended (state ${run?.state})`);
    return run!;
  }

  it('runs a pair published to the run-requests topic to a verified dataset, redelivering an extract whose instance died', async () => {
    const s = stack!;
    const { warehouse } = s.deps;
    const extract = warehouse.extract.bind(warehouse);
    const attempts = new Map<string, number>();
    let victim: string | undefined;
    // The first extract dies with its instance: the connection drops mid-request, nothing is
    // written, and a new instance takes the port. Pub/Sub sees a failed push and delivers it again.
    sandbox.replace(warehouse, 'extract', async (job: ExtractJob) => {
      attempts.set(job.feature, (attempts.get(job.feature) ?? 0) + 1);
      if (victim === undefined) {
        victim = job.feature;
        await s.restart('extractFeature');
        throw new Error(`instance running ${job.feature} was killed`);
      }
      return extract(job);
    });
    const crashes = sandbox.stub(console, 'error');
    const before = { ...s.requests };

    await s.pubsub.publish(s.deps.config.topics.runRequests, 'eurusd', { pair: 'eurusd' });
    let started: RunRecord | undefined;
    assert.ok(await until(async () => (started = await s.store.activeRun('eurusd')) !== undefined, 30_000, 100), 'startRun claimed the pair');
    const run = await finished(started!.runId);

    assert.equal(run.state, 'succeeded', run.error);
    assert.deepEqual(run.transitions.map((t) => t.state), ['extracting', 'merging', 'succeeded']);
    assert.equal(run.expected, FEATURES);
    assert.equal(await s.store.countCheckpoints(run.runId), FEATURES);
    assert.deepEqual([run.output?.rows, run.output?.columns, run.output?.files.length], [ROWS, 17_038, 23]); // one month shard x 23 column groups

    assert.equal(attempts.get(victim!), 2, `${victim} was extracted again after its instance died`);
    assert.ok((await s.staging.size(paths.marker(run.runId, victim!))) !== undefined, 'and its checkpoint landed');
    assert.ok(s.requests.extractFeature - before.extractFeature > FEATURES, 'Pub/Sub pushed the lost request again');
    assert.ok(crashes.calledWithMatch(sinon.match(/was killed/)));
    assert.equal(s.requests.startRun - before.startRun, 1);
    assert.equal(s.requests.mergeRun - before.mergeRun, 1);

    // The outcome is published on the run-events topic.
    let events: { type: string; runId: string; status: string; landed: number }[] = [];
    await until(async () => (events = (await s.pubsub.pull(RUN_EVENTS_SUBSCRIPTION)).map((m) => JSON.parse(m.data))).length > 0, 10_000, 100);
    assert.deepEqual(events.map((e) => [e.type, e.runId, e.status, e.landed]), [['run.succeeded', run.runId, 'succeeded', FEATURES]]);
    assert.deepEqual(logs.filter((l) => l.severity === 'ERROR'), []);
  });

  it('counts 667 landings delivered twice each, 400 at a time, as 667, and merges exactly once', async () => {
    const s = stack!;
    const mergeAudit = 'merge-requests-audit';
    await s.pubsub.createSubscription(mergeAudit, s.deps.config.topics.mergeRequests);
    s.holdNotifications(true);
    logs.length = 0;

    // reuse: false, or this second run would reuse the first run's checkpoints and extract nothing.
    // The API publishes the request for startRun (202); the run it makes is found by its pair.
    const before = await snapshotPair(s.store, 'eurusd');
    const response = await fetch(`${s.urls.pipelineApi}/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pair: 'eurusd', reuse: false }) });
    assert.equal(response.status, 202);
    let found: RunRecord | undefined;
    assert.ok(await until(async () => (found = await runOfRequest(s.store, 'eurusd', before, false)) !== undefined, 60_000, 200), 'startRun made the run');
    const started = found!;
    const markers = async () => (await s.staging.list(`runs/${started.runId}/features/`)).filter((o) => o.name.endsWith('/_SUCCESS.json'));
    assert.ok(await until(async () => (await markers()).length === FEATURES, 480_000, 500), 'every feature extracted');
    assert.equal(await s.store.countCheckpoints(started.runId), 0, 'nothing landed while notifications were held');

    // Every marker twice, shuffled so the copies of one feature race each other, 400 in flight:
    // the deployed maximum (50 checkpointLanded instances at their concurrency of 8). The merge
    // claim is a create-once record, so the burst that sees "all landed" does not contend.
    const objects = await markers();
    const deliveries = [...objects, ...objects].map((o, i) => ({ ...o, i })).sort((a, b) => ((a.i * 7919) % 1334) - ((b.i * 7919) % 1334));
    const statuses: number[] = [];
    const deliver = async () => {
      for (let o = deliveries.shift(); o; o = deliveries.shift()) {
        const r = await fetch(s.urls.checkpointLanded, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...ceHeaders(FINALIZED, storageSource(s.staging.bucket), `objects/${o.name}`) },
          body: JSON.stringify(storageData({ bucket: s.staging.bucket, name: o.name, size: o.size }, String(1_700_000_000_000_000 + o.i))),
        });
        await r.arrayBuffer();
        statuses.push(r.status);
      }
    };
    await Promise.all(Array.from({ length: 400 }, deliver));
    assert.equal(statuses.length, 2 * FEATURES);
    assert.deepEqual([...new Set(statuses)], [204], 'every delivery acknowledged: no transaction failed');
    assert.equal(await s.store.countCheckpoints(started.runId), FEATURES);

    const run = await finished(started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    assert.equal(run.mergeAttempts, 1);
    assert.deepEqual(run.transitions.map((t) => t.state), ['extracting', 'merging', 'succeeded']);
    const merges = (await s.pubsub.pull(mergeAudit)).map((m) => JSON.parse(m.data) as { runId: string });
    assert.deepEqual(merges, [{ runId: started.runId, pair: 'eurusd' }], 'exactly one merge request published');
    // Each second copy was either counted as already recorded or, once the run had moved on to
    // merging, ignored as belonging to no run that is extracting.
    const count = (pattern: RegExp) => logs.filter((l) => pattern.test(l.message)).length;
    assert.equal(count(/^checkpoint recorded/), FEATURES);
    assert.equal(count(/^checkpoint already recorded/) + count(/belongs to no run that is extracting \(run is (merging|succeeded)\): ignored$/), FEATURES);
    assert.deepEqual(logs.filter((l) => l.severity === 'ERROR' || l.severity === 'WARNING'), []);
  });
});
