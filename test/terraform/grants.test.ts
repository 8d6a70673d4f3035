// Every access a Cloud Function makes is granted to its account by terraform/iam.tf. The emulators
// enforce no IAM, so a missing grant would first show as a 403 in someone's project: here the
// chain runs on a sweep world (test/sweep/world.ts) through what the deployed functions do (bus
// deliveries to the handlers; the reconcile and pipelineApi entry points over HTTP), every access
// is recorded with the function that made it (functionAccess.ts), and each must be allowed by a
// role iam.tf gives that function on that resource. The paths taken: a first version, a refresh, a
// run with nothing changed (every checkpoint reused), a --no-reuse build whose extract and merge
// are each still running once (follow-ups), retention, the API's reruns, and a run failed by an
// extract still running past BQX_PENDING_LIMIT_HOURS.

import { parse } from '@cdktf/hcl2json';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import '../../functions/index.js';
import { setDeps } from '../../functions/deps.js';
import type { ExtractResult, MergeResult } from '../../shared/ports.js';
import { FIRST_END, REFRESH_SHAPE } from '../sweep/refreshScenario.js';
import { Simulation } from '../sweep/simulation.js';
import { openBase, openWorld, type Base, type World } from '../sweep/world.js';
import { AccessLog, recordingBus, recordingRunStore, recordingStore, recordingWarehouse, type Access } from './functionAccess.js';

const IAM = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'terraform', 'iam.tf');

/** What each role allows, in the ops functionAccess.ts records (Google's predefined roles). */
const ROLE_OPS: Record<string, string[]> = {
  'roles/storage.objectViewer': ['get', 'list'],
  // Create only: replacing an existing object also needs storage.objects.delete.
  'roles/storage.objectCreator': ['create'],
  'roles/storage.objectUser': ['get', 'list', 'create', 'delete'],
  'roles/pubsub.publisher': ['publish'],
  'roles/bigquery.metadataViewer': ['metadata'],
  'roles/bigquery.dataViewer': ['metadata', 'read'],
  'roles/bigquery.dataEditor': ['metadata', 'read', 'write'],
  'roles/bigquery.jobUser': ['jobs'],
  'roles/datastore.user': ['documents'],
};

interface Grant {
  fn: string;
  role: string;
  bucket?: string;
  topic?: string;
  dataset?: string;
}

async function grantsOfIam(): Promise<Grant[]> {
  const json = await parse('iam.tf', readFileSync(IAM, 'utf8'));
  const locals = Object.assign({}, ...(json.locals ?? [])) as Record<string, Grant[]>;
  return ['function_project_roles', 'function_bucket_roles', 'function_topic_roles', 'function_dataset_roles'].flatMap((table) => {
    assert.ok(Array.isArray(locals[table]), `iam.tf has no local.${table}`);
    return locals[table]!;
  });
}

/** The ops the function's grants allow on one resource (`bucket:staging`, `project`). */
function allowed(grants: Grant[], fn: string, resource: string): Set<string> {
  const [kind, name] = resource.split(':');
  const on = (g: Grant) => (kind === 'project' ? !g.bucket && !g.topic && !g.dataset : kind === 'bucket' ? g.bucket === name : kind === 'topic' ? g.topic === name : g.dataset === name);
  return new Set(grants.filter((g) => g.fn === fn && on(g)).flatMap((g) => ROLE_OPS[g.role] ?? []));
}

function missing(grants: Grant[], access: Access): string | undefined {
  const ops = allowed(grants, access.fn, access.resource);
  // Replacing an object is create + delete (storage.objects.delete), whichever roles give them.
  const needs = access.op === 'overwrite' ? ['create', 'delete'] : [access.op];
  if (needs.every((op) => ops.has(op))) return undefined;
  return `${access.fn}: ${access.op} on ${access.resource} (${access.example}) is not granted (iam.tf gives it ${[...ops].join(', ') || 'nothing'} there)`;
}

describe('terraform/iam.tf grants every access the functions make', function () {
  this.timeout(240_000);
  let base: Base;
  let world: World;
  let log: AccessLog;
  const pair = 'eurusd';

  before(async () => {
    base = await openBase({ ...REFRESH_SHAPE, env: { ...REFRESH_SHAPE.env, BQX_KEEP: '3', BQX_PENDING_LIMIT_HOURS: '1' } });
    world = await openWorld(base, new Simulation(1));
    log = new AccessLog(() => world.effects.currentLabel()?.split('#')[0]);
    const deps = world.embedded.deps;
    deps.staging = recordingStore(deps.staging, 'staging', log);
    deps.output = recordingStore(deps.output, 'output', log);
    deps.store = recordingRunStore(deps.store, log);
    deps.bus = recordingBus(deps.bus, world.config, log);
    deps.warehouse = recordingWarehouse(deps.warehouse, world.config, log);
    setDeps(deps);
  });

  after(async () => {
    setDeps(undefined);
    await world?.close();
    await base?.close();
  });

  /** A call to an HTTP function, as one handler instance of it. */
  const http = (fn: string, call: () => Promise<request.Response>) => world.effects.instance(`${fn}#${Date.now()}`, call);

  it('runs every path: first version, refresh, all reused, follow-ups, retention, API reruns, a failed run', async () => {
    const first = await world.runRequest({ pair, end: FIRST_END });
    assert.equal(first?.state, 'succeeded', first?.error);
    const refreshed = await world.runRequest({ pair, refresh: true });
    assert.equal(refreshed?.state, 'succeeded', refreshed?.error);
    assert.equal(refreshed?.refresh?.from, first!.runId);
    const again = await world.runRequest({ pair });
    assert.equal(again?.state, 'succeeded', again?.error);
    assert.equal(again?.reuse?.reused, again?.expected, 'every checkpoint reused: startRun claims the merge');

    // A --no-reuse build (its index entries replace the earlier ones) whose first extract and merge are still running once.
    const warehouse = world.embedded.deps.warehouse;
    const pendingOnce = new Set(['extract', 'merge']);
    const { extract, merge } = warehouse;
    warehouse.extract = async (job) => (pendingOnce.delete('extract') ? ({ state: 'pending', detail: 'still running' } satisfies ExtractResult) : extract(job));
    warehouse.merge = async (job, progress) => (pendingOnce.delete('merge') ? ({ state: 'pending', detail: 'still running' } satisfies MergeResult) : merge(job, progress));
    const full = await world.runRequest({ pair, reuse: false });
    assert.equal(full?.state, 'succeeded', full?.error);
    assert.equal(pendingOnce.size, 0, 'an extract and the merge were pending once');

    // Retention and the reconciler, through the deployed entry point.
    const reconciled = await http('reconcile', () => request(getTestServer('reconcile')).post('/').send({}));
    assert.equal(reconciled.status, 200, JSON.stringify(reconciled.body));

    // The API: a run's status, reruns of a named feature, of what is missing, and of the merge.
    const api = (method: 'get' | 'post', url: string, body?: unknown) =>
      http('pipelineApi', () => (method === 'get' ? request(getTestServer('pipelineApi')).get(url) : request(getTestServer('pipelineApi')).post(url).send(body as object)));
    assert.equal((await api('get', `/runs/${full!.runId}`)).status, 200);
    const feature = (await world.store.listCheckpoints(full!.runId))[0]!.feature;
    for (const body of [{ mode: 'features', features: [feature] }, { mode: 'missing' }, { mode: 'merge' }]) {
      const reply = await api('post', `/runs/${full!.runId}/rerun`, body);
      assert.equal(reply.status, 200, `${JSON.stringify(body)}: ${reply.status} ${JSON.stringify(reply.body)}`);
      await world.settle();
      assert.equal((await world.store.getRun(full!.runId))?.state, 'succeeded', JSON.stringify(body));
    }
    const posted = await api('post', '/runs', { pair });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    await world.settle();

    // An extract still running an hour on: the run fails, from extractFeature.
    warehouse.extract = async (job) => {
      world.sim.advance(40 * 60_000);
      return { state: 'pending', detail: 'still running' };
    };
    const failed = await world.runRequest({ pair, reuse: false });
    assert.equal(failed?.state, 'failed');
    assert.match(failed?.error ?? '', /still running after/);
    warehouse.extract = extract;
    // Retention by the deployed reconciler, down to one dataset from the three kept so far (as after
    // a lowered BQX_KEEP, or a merge that died before its own retention): it lists and deletes in
    // both buckets.
    const deps = world.embedded.deps;
    deps.config = { ...deps.config, keep: 1 };
    const after = await http('reconcile', () => request(getTestServer('reconcile')).post('/').send({}));
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.ok((after.body.retention as unknown[]).length > 0, `retention removed something: ${JSON.stringify(after.body)}`);
  });

  it('each function holds a role for every access it made', async () => {
    const grants = await grantsOfIam();
    const accesses = log.all();
    // The paths above reached every function.
    assert.deepEqual([...new Set(accesses.map((a) => a.fn))].sort(), ['checkpointLanded', 'extractFeature', 'mergeRun', 'pipelineApi', 'reconcile', 'startRun']);
    const problems = accesses.map((a) => missing(grants, a)).filter((p): p is string => p !== undefined);
    assert.deepEqual(problems, []);
  });
});
