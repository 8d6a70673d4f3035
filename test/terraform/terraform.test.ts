// Offline checks of terraform/: the .tf files are parsed with @cdktf/hcl2json and checked against
// what the code needs (functions/index.ts exports, shared/config.ts). `terraform validate` needs
// providers, which cannot be downloaded here, so where Terraform itself can answer without them
// (fmt, built-in function names, variable validations, the .gcloudignore translation) the tests
// run the terraform binary; without it those tests say so and skip.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { CONFIG_DEFAULTS, GCP_REQUIRED } from '../../shared/config.js';
import { managedEnv } from '../helpers/terraformEnv.js';

// hcl2json gives plain JSON: blocks are arrays, expressions are "${...}" strings.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = any;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TF_DIR = path.join(ROOT, 'terraform');
const INDEX = path.join(ROOT, 'functions', 'index.ts');

/** The trigger each entry point needs (DESIGN.md, issue 4). A new export must be added here. */
const EXPECTED: Record<string, { trigger: 'pubsub' | 'storage' | 'http'; topic?: string }> = {
  startRun: { trigger: 'pubsub', topic: 'run_requests' },
  extractFeature: { trigger: 'pubsub', topic: 'extract_requests' },
  checkpointLanded: { trigger: 'storage' },
  mergeRun: { trigger: 'pubsub', topic: 'merge_requests' },
  pipelineApi: { trigger: 'http' },
  reconcile: { trigger: 'http' },
};

/** Topic key in local.topic_names -> the variable that names it -> its CONFIG_DEFAULTS entry. */
const TOPICS: Record<string, { variable: string; config: keyof typeof CONFIG_DEFAULTS }> = {
  run_requests: { variable: 'topic_run_requests', config: 'BQX_TOPIC_RUN_REQUESTS' },
  extract_requests: { variable: 'topic_extract_requests', config: 'BQX_TOPIC_EXTRACT_REQUESTS' },
  merge_requests: { variable: 'topic_merge_requests', config: 'BQX_TOPIC_MERGE_REQUESTS' },
  run_events: { variable: 'topic_run_events', config: 'BQX_TOPIC_RUN_EVENTS' },
};

/** Terraform variable -> the loader variable whose default it must repeat. */
const DEFAULTS_MIRRORED: Record<string, keyof typeof CONFIG_DEFAULTS> = {
  topic_run_requests: 'BQX_TOPIC_RUN_REQUESTS',
  topic_extract_requests: 'BQX_TOPIC_EXTRACT_REQUESTS',
  topic_merge_requests: 'BQX_TOPIC_MERGE_REQUESTS',
  topic_run_events: 'BQX_TOPIC_RUN_EVENTS',
  features_dataset: 'BQX_FEATURES_DATASET',
  labels_dataset: 'BQX_LABELS_DATASET',
  scratch_dataset: 'BQX_SCRATCH_DATASET',
  bigquery_location: 'BQX_LOCATION',
  scratch_ttl_hours: 'BQX_SCRATCH_TTL_HOURS',
  max_bytes_billed: 'BQX_MAX_BYTES_BILLED',
  cost_per_tb_usd: 'BQX_COST_PER_TB_USD',
  job_wait_seconds: 'BQX_JOB_WAIT_SECONDS',
  max_attempts: 'BQX_MAX_ATTEMPTS',
  stall_seconds: 'BQX_STALL_SECONDS',
  log_level: 'BQX_LOG_LEVEL',
  currencies: 'BQX_CURRENCIES',
  shard: 'BQX_SHARD',
  group_columns: 'BQX_GROUP_COLUMNS',
  keep: 'BQX_KEEP',
};

const PUBLIC_MEMBERS = ['allusers', 'allauthenticatedusers'];

interface Terraform {
  files: Record<string, string>;
  resources: Map<string, Node>; // "type.name" -> body
  data: Map<string, Node>; // "type.name" -> body
  variables: Record<string, Node>;
  locals: Record<string, Node>;
  outputs: Record<string, Node>;
}

async function loadTerraform(): Promise<Terraform> {
  const tf: Terraform = { files: {}, resources: new Map(), data: new Map(), variables: {}, locals: {}, outputs: {} };
  const names = readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort();
  assert.ok(names.length > 0, `no .tf files in ${TF_DIR}`);
  for (const name of names) {
    const text = readFileSync(path.join(TF_DIR, name), 'utf8');
    tf.files[name] = text;
    const json: Node = await parse(name, text);
    for (const [type, byName] of Object.entries<Node>(json.resource ?? {})) {
      for (const [n, bodies] of Object.entries<Node>(byName)) {
        assert.ok(!tf.resources.has(`${type}.${n}`), `resource ${type}.${n} is declared twice`);
        tf.resources.set(`${type}.${n}`, bodies[0]);
      }
    }
    for (const [type, byName] of Object.entries<Node>(json.data ?? {})) {
      for (const [n, bodies] of Object.entries<Node>(byName)) tf.data.set(`${type}.${n}`, bodies[0]);
    }
    for (const [n, bodies] of Object.entries<Node>(json.variable ?? {})) tf.variables[n] = bodies[0];
    for (const block of json.locals ?? []) {
      for (const [n, v] of Object.entries<Node>(block)) {
        assert.ok(!(n in tf.locals), `local.${n} is declared twice`);
        tf.locals[n] = v;
      }
    }
    for (const [n, bodies] of Object.entries<Node>(json.output ?? {})) tf.outputs[n] = bodies[0];
  }
  return tf;
}

function resource(tf: Terraform, address: string): Node {
  const body = tf.resources.get(address);
  assert.ok(body, `terraform/ declares no resource ${address}`);
  return body;
}

function resourcesOfType(tf: Terraform, type: string): [string, Node][] {
  return [...tf.resources].filter(([address]) => address.startsWith(`${type}.`));
}

/** The single nested block `name` of `body` (hcl2json makes every block a list). */
function block(body: Node, name: string, where: string): Node {
  const list = body?.[name];
  assert.ok(Array.isArray(list) && list.length === 1, `${where} must have exactly one ${name} block`);
  return list[0];
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Every string anywhere in a parsed value. */
function strings(value: Node): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** Names exported by functions/index.ts: `export { a } from`, `export { a as b }`, `export function a`. */
function exportedNames(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(',')) {
      const item = part.trim();
      if (item === '' || item.startsWith('type ')) continue;
      const [local, alias] = item.split(/\s+as\s+/);
      names.add((alias ?? local)!.trim());
    }
  }
  for (const m of source.matchAll(/export\s+(?:async\s+)?(?:function\*?|const|let|var)\s+([A-Za-z_$][\w$]*)/g)) names.add(m[1]!);
  return [...names].sort();
}

function readExports(): string[] {
  assert.ok(existsSync(INDEX), `functions/index.ts does not exist yet: the deployment cannot be checked against the entry points (expected ${Object.keys(EXPECTED).join(', ')})`);
  const names = exportedNames(readFileSync(INDEX, 'utf8'));
  assert.ok(names.length > 0, 'functions/index.ts exports nothing');
  return names;
}

// --- the terraform binary -------------------------------------------------------------------

function terraformAvailable(): boolean {
  const probe = spawnSync('terraform', ['version'], { encoding: 'utf8' });
  return !probe.error;
}

function skipWithoutTerraform(ctx: Mocha.Context, what: string): void {
  if (terraformAvailable()) return;
  console.log(`      SKIPPED (${what}): the terraform binary is not on PATH, so this check did not run. Install Terraform >= 1.9 to run it.`);
  ctx.skip();
}

/** Runs `terraform console` in `dir` on one expression; returns the output and any errors it printed. */
function terraformConsole(dir: string, expression: string, vars: string[] = []): { value: string; errors: string } {
  const run = spawnSync('terraform', ['console', '-no-color', ...vars.flatMap((v) => ['-var', v])], {
    cwd: dir,
    input: `${expression}\n`,
    encoding: 'utf8',
    env: { ...process.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' },
  });
  assert.ok(!run.error, `terraform console failed to start: ${run.error?.message}`);
  // console exits 0 even when a variable fails validation: the errors are in its output.
  const output = `${run.stdout}\n${run.stderr}`;
  const errors = output.split('\n').filter((l) => /Error:|Invalid value for variable|on variables\.tf line/.test(l)).join('\n');
  const value = run.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('"')).pop() ?? '';
  return { value, errors };
}

/** archive_file's matching: doublestar globs over paths relative to the source dir. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files archive_file would zip from ROOT with these excludes (a matching directory is skipped whole). */
function zippedFiles(excludes: string[]): string[] {
  const patterns = excludes.map(globToRegExp);
  const matches = (rel: string): boolean => patterns.some((p) => p.test(rel));
  const out: string[] = [];
  const walk = (relDir: string): void => {
    for (const entry of readdirSync(path.join(ROOT, relDir), { withFileTypes: true })) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`;
      if (matches(rel)) continue;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

// ---------------------------------------------------------------------------------------------

describe('terraform/ (offline)', function () {
  let tf: Terraform;
  let fnBody: Node;
  let env: Record<string, string>;

  before(async function () {
    tf = await loadTerraform();
    const fns = resourcesOfType(tf, 'google_cloudfunctions2_function');
    assert.deepEqual(fns.map(([a]) => a), ['google_cloudfunctions2_function.fn'], 'all functions come from the one for_each resource google_cloudfunctions2_function.fn');
    fnBody = fns[0]![1];
    env = managedEnv(block(fnBody, 'service_config', 'google_cloudfunctions2_function.fn').environment_variables);
  });

  describe('entry points', function () {
    it('deploys every function exported from functions/index.ts, and nothing else', function () {
      const exported = readExports();
      const deployed = Object.keys(tf.locals.functions ?? {}).sort();
      assert.deepEqual(deployed, exported, 'local.functions must list exactly the exports of functions/index.ts');
      assert.equal(fnBody.for_each, '${local.functions}');
    });

    it('gives each function the trigger the chain needs: its topic, the staging bucket, or HTTP', function () {
      for (const name of readExports()) {
        const expected = EXPECTED[name];
        assert.ok(expected, `${name} is exported but this test does not know which trigger it needs: add it to EXPECTED`);
        const fn = tf.locals.functions[name];
        assert.ok(fn, `${name} is not in local.functions`);
        assert.equal(fn.trigger, expected.trigger, `${name}: trigger`);
        if (expected.topic) {
          assert.equal(fn.topic, expected.topic, `${name}: topic key`);
          const t = TOPICS[expected.topic]!;
          assert.equal(tf.locals.topic_names[expected.topic], `\${var.${t.variable}}`, `${name}: topic ${expected.topic} is named by var.${t.variable}`);
          assert.equal(tf.variables[t.variable].default, CONFIG_DEFAULTS[t.config], `${name} listens on ${CONFIG_DEFAULTS[t.config]}`);
        } else {
          assert.equal(fn.topic, null, `${name} has no topic (topic = null keeps every entry the same shape)`);
        }
      }
    });

    it('deploys them as nodejs22 2nd-gen functions whose entry_point is the export name', function () {
      const build = block(fnBody, 'build_config', 'fn');
      assert.equal(build.runtime, 'nodejs22');
      assert.equal(build.entry_point, '${each.key}', 'entry_point must be the local.functions key, which is the export name');
      const storage = block(block(build, 'source', 'build_config'), 'storage_source', 'build_config.source');
      assert.equal(storage.object, '${google_storage_bucket_object.source.name}');
      for (const [name, fn] of Object.entries<Node>(tf.locals.functions)) {
        assert.match(fn.name, /^\$\{var\.name_prefix\}-[a-z][a-z0-9-]*$/, `${name}: function name is lower-case and prefixed`);
      }
    });

    it('triggers checkpointLanded by object finalize on the staging bucket, with retries', function () {
      const triggers = fnBody.dynamic?.event_trigger;
      assert.ok(Array.isArray(triggers) && triggers.length === 1, 'fn must have one dynamic event_trigger');
      const trigger = triggers[0];
      assert.match(squash(trigger.for_each), /each\.value\.trigger == "storage"/, 'only storage functions get an Eventarc trigger');
      const content = block(trigger, 'content', 'event_trigger');
      assert.equal(content.event_type, 'google.cloud.storage.object.v1.finalized');
      assert.equal(content.retry_policy, 'RETRY_POLICY_RETRY');
      assert.equal(content.service_account_email, '${google_service_account.trigger.email}');
      assert.deepEqual(content.event_filters, [{ attribute: 'bucket', value: '${google_storage_bucket.staging.name}' }]);
    });

    it('pushes each Pub/Sub function its own topic, at its own URL, with an OIDC token', function () {
      assert.match(squash(tf.locals.pubsub_functions), /for k, f in local\.functions : k => f if f\.trigger == "pubsub"/);
      const push = resource(tf, 'google_pubsub_subscription.push');
      assert.equal(push.for_each, '${local.pubsub_functions}');
      assert.equal(push.topic, '${google_pubsub_topic.main[each.value.topic].id}');
      const config = block(push, 'push_config', 'push subscription');
      assert.ok(config.push_endpoint.startsWith('${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}/'), 'push endpoint is the function\'s own run.app URL');
      const oidc = block(config, 'oidc_token', 'push_config');
      assert.equal(oidc.service_account_email, '${google_service_account.trigger.email}');
      assert.equal(oidc.audience, '${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}');
      assert.equal(push.ack_deadline_seconds, '${each.value.timeout + 30}', 'ack deadline outlasts the function timeout');
    });

    it('sets no signature-type build variable: each pushed function registers itself with cloudEvent()', function () {
      // The Functions Framework takes a function's signature from its declarative registration
      // (cloudEvent('<name>', ...)) over any flag or variable, and in cloudevent mode turns a Pub/Sub
      // push body into a messagePublished CloudEvent (test/functions push such bodies through
      // getTestServer, which sets no variable). So the build variable was redundant: it must not come back.
      const build = block(fnBody, 'build_config', 'fn');
      assert.equal(build.environment_variables, undefined, 'build_config sets no build environment variables');
      for (const [file, text] of Object.entries(tf.files)) {
        assert.ok(!/SIGNATURE_TYPE/.test(text.replace(/#.*$/gm, '')), `${file} sets a signature-type variable`);
      }
      for (const [name, fn] of Object.entries<Node>(tf.locals.functions)) {
        if (fn.trigger !== 'pubsub') continue;
        const source = readFileSync(path.join(ROOT, 'functions', `${name}.ts`), 'utf8');
        assert.match(source, new RegExp(`\\bcloudEvent\\(\\s*'${name}'`), `functions/${name}.ts must register ${name} with cloudEvent(), or the push body would reach an HTTP handler`);
      }
    });

    it('calls reconcile from Cloud Scheduler with an OIDC token, and exposes pipelineApi to nobody by default', function () {
      const job = resource(tf, 'google_cloud_scheduler_job.reconcile');
      const target = block(job, 'http_target', 'scheduler job');
      assert.equal(target.uri, '${google_cloudfunctions2_function.fn["reconcile"].service_config[0].uri}');
      const oidc = block(target, 'oidc_token', 'http_target');
      assert.equal(oidc.service_account_email, '${google_service_account.trigger.email}');
      assert.equal(oidc.audience, target.uri);
      assert.equal(job.schedule, '${var.reconcile_schedule}');
      assert.deepEqual(tf.variables.api_invokers.default, [], 'nobody may call pipelineApi unless named in api_invokers');
      const invokers = resource(tf, 'google_cloud_run_v2_service_iam_member.api_invokers');
      assert.equal(invokers.name, '${google_cloudfunctions2_function.fn["pipelineApi"].name}');
    });
  });

  describe('retries and dead letters', function () {
    it('every event function is retried and, where Terraform can reach its subscription, dead-lettered', function () {
      const push = resource(tf, 'google_pubsub_subscription.push');
      const eventFunctions = readExports().filter((n) => EXPECTED[n]?.trigger !== 'http');
      assert.ok(eventFunctions.length > 0);
      for (const name of eventFunctions) {
        const fn = tf.locals.functions[name];
        if (fn.trigger === 'pubsub') {
          // Pub/Sub push redelivers on any non-2xx (the RETRY_POLICY_RETRY contract) with backoff ...
          const retry = block(push, 'retry_policy', `${name}'s push subscription`);
          assert.match(retry.minimum_backoff, /^\d+s$/);
          assert.match(retry.maximum_backoff, /^\d+s$/);
          // ... and parks the message on the function's own dead-letter topic after N attempts.
          const dl = block(push, 'dead_letter_policy', `${name}'s push subscription`);
          assert.equal(dl.dead_letter_topic, '${google_pubsub_topic.dead_letter[each.key].id}');
          assert.equal(dl.max_delivery_attempts, '${var.max_delivery_attempts}');
        } else {
          // Eventarc owns the storage trigger's subscription: no dead-letter policy can be set on it
          // (provider issue #25069), so it must at least retry, and main.tf must say why.
          const content = block(fnBody.dynamic.event_trigger[0], 'content', 'event_trigger');
          assert.equal(content.retry_policy, 'RETRY_POLICY_RETRY', `${name}: retry policy`);
          assert.match(tf.files['main.tf']!, /terraform-provider-google#25069/, 'main.tf documents why the storage trigger has no dead-letter topic');
        }
      }
      const dlTopics = resource(tf, 'google_pubsub_topic.dead_letter');
      assert.equal(dlTopics.for_each, '${local.pubsub_functions}', 'one dead-letter topic per Pub/Sub function');
    });

    it('bounds deliveries: max_delivery_attempts defaults within Pub/Sub\'s 5-100 and is validated', function () {
      const v = tf.variables.max_delivery_attempts;
      assert.equal(typeof v.default, 'number');
      assert.ok(v.default >= 5 && v.default <= 100, `default ${v.default} outside 5-100`);
      const condition = squash(v.validation[0].condition);
      assert.match(condition, /var\.max_delivery_attempts >= 5/);
      assert.match(condition, /var\.max_delivery_attempts <= 100/);
    });

    it('keeps dead-lettered messages and lets the Pub/Sub service agent move them', function () {
      const hold = resource(tf, 'google_pubsub_subscription.dead_letter_hold');
      assert.equal(hold.for_each, '${local.pubsub_functions}');
      assert.equal(hold.topic, '${google_pubsub_topic.dead_letter[each.key].id}');
      const publisher = resource(tf, 'google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters');
      assert.equal(publisher.for_each, '${google_pubsub_topic.dead_letter}');
      assert.equal(publisher.role, 'roles/pubsub.publisher');
      assert.equal(publisher.member, '${google_project_service_identity.pubsub.member}');
      const subscriber = resource(tf, 'google_pubsub_subscription_iam_member.pubsub_agent_forwards_dead_letters');
      assert.equal(subscriber.for_each, '${google_pubsub_subscription.push}');
      assert.equal(subscriber.role, 'roles/pubsub.subscriber');
      assert.equal(subscriber.member, '${google_project_service_identity.pubsub.member}');
      const tokens = resource(tf, 'google_service_account_iam_member.pubsub_agent_mints_trigger_tokens');
      assert.equal(tokens.service_account_id, '${google_service_account.trigger.name}', 'token creator on the trigger account only');
    });
  });

  describe('function configuration', function () {
    it('sets every variable the loader requires on GCP (GCP_REQUIRED) on every function', function () {
      assert.ok(GCP_REQUIRED.length > 0);
      for (const name of GCP_REQUIRED) {
        assert.ok(typeof env[name] === 'string' && env[name] !== '', `${name} is not set on the functions`);
      }
      assert.equal(env.BQX_STAGING_BUCKET, '${google_storage_bucket.staging.name}');
      assert.equal(env.BQX_OUTPUT_BUCKET, '${google_storage_bucket.output.name}');
      assert.equal(env.BQX_PROJECT, '${var.project}');
    });

    it('takes every other cloud setting through var.settings, refusing the names it sets itself and the embedded ones', function () {
      const validation = tf.variables.settings.validation[0];
      const allowed = [...validation.condition.matchAll(/"(BQX_[A-Z0-9_]+)"/g)].map((m: RegExpMatchArray) => m[1]!).sort();
      const embeddedOnly = ['BQX_HOME', 'BQX_EXTRACT_CONCURRENCY', 'BQX_MERGE_MEMORY_MB', 'BQX_DEMO_ROWS'];
      assert.deepEqual(allowed, Object.keys(CONFIG_DEFAULTS).filter((name) => !(name in env) && !embeddedOnly.includes(name)).sort(), 'var.settings takes exactly the settings main.tf does not set');
      assert.equal(tf.variables.settings.default && Object.keys(tf.variables.settings.default).length, 0);
    });

    it('sets only variables the loader knows, with BQX_RUNTIME=gcp', function () {
      assert.equal(env.BQX_RUNTIME, 'gcp');
      for (const name of Object.keys(env)) {
        assert.ok(name in CONFIG_DEFAULTS, `${name} is set on the functions but shared/config.ts does not read it`);
      }
      for (const key of Object.keys(TOPICS)) {
        const t = TOPICS[key]!;
        assert.equal(env[t.config], `\${google_pubsub_topic.main["${key}"].name}`, `${t.config} names the ${key} topic`);
      }
    });

    it('keeps BQX_JOB_WAIT_SECONDS below every function\'s timeout', function () {
      assert.equal(squash(env.BQX_JOB_WAIT_SECONDS!), '${format("%d", min(var.job_wait_seconds, each.value.timeout - local.job_wait_margin_seconds))}');
      const margin = tf.locals.job_wait_margin_seconds;
      assert.ok(typeof margin === 'number' && margin > 0, 'job wait margin must be positive');
      const wait = tf.variables.job_wait_seconds.default;
      const timeouts = tf.variables.timeouts.default;
      for (const [name, fn] of Object.entries<Node>(tf.locals.functions)) {
        assert.equal(fn.timeout, `\${var.timeouts["${name}"]}`, `${name}: timeout comes from var.timeouts`);
        const timeout = timeouts[name];
        const effective = Math.min(wait, timeout - margin);
        assert.ok(effective < timeout, `${name}: job wait ${effective} s is not below its ${timeout} s timeout`);
        assert.ok(effective >= 10, `${name}: job wait ${effective} s is below the loader's minimum of 10`);
      }
      // The functions that wait on long BigQuery jobs get the full configured wait.
      for (const name of ['extractFeature', 'mergeRun']) {
        assert.ok(wait + margin <= timeouts[name], `${name}: ${timeouts[name]} s timeout leaves no room after a ${wait} s job wait`);
      }
    });

    it('sizes each function on purpose: memory, CPU, concurrency, timeout and max instances', function () {
      const maxInstances = tf.variables.max_instances.default;
      for (const [name, fn] of Object.entries<Node>(tf.locals.functions)) {
        for (const key of ['memory', 'cpu', 'concurrency', 'timeout', 'max_instances', 'ingress']) {
          assert.ok(fn[key] !== undefined, `${name}: ${key} is not set`);
        }
        assert.equal(fn.max_instances, `\${var.max_instances["${name}"]}`);
        assert.ok(Number.isInteger(fn.concurrency) && fn.concurrency >= 1, `${name}: concurrency`);
      }
      assert.ok(maxInstances.extractFeature > maxInstances.mergeRun, 'extractFeature fans out: more instances than mergeRun');
      assert.ok(maxInstances.checkpointLanded > maxInstances.mergeRun, 'checkpointLanded takes a burst: more instances than mergeRun');
      const service = block(fnBody, 'service_config', 'fn');
      assert.equal(service.max_instance_request_concurrency, '${each.value.concurrency}');
      assert.equal(service.max_instance_count, '${each.value.max_instances}');
      assert.equal(service.timeout_seconds, '${each.value.timeout}');
      assert.equal(service.service_account_email, '${google_service_account.fn[each.key].email}', 'each function runs as its own account');
    });

    it('uses the loader\'s defaults as Terraform defaults, and passes those variables to the functions', function () {
      for (const [variable, key] of Object.entries(DEFAULTS_MIRRORED)) {
        const v = tf.variables[variable];
        assert.ok(v, `variable ${variable} is missing`);
        const value = Array.isArray(v.default) ? v.default.join(',') : String(v.default);
        assert.equal(value, CONFIG_DEFAULTS[key], `var.${variable} default must equal ${key}'s default`);
        assert.ok(env[key], `${key} is not passed to the functions`);
        const passes = env[key]!.includes(`var.${variable}`)
          || (variable.startsWith('topic_') && tf.locals.topic_names[Object.keys(TOPICS).find((k) => TOPICS[k]!.variable === variable)!] === `\${var.${variable}}`)
          || (variable === 'scratch_dataset' && resource(tf, 'google_bigquery_dataset.scratch').dataset_id === '${var.scratch_dataset}');
        assert.ok(passes, `${key} on the functions does not come from var.${variable}: ${env[key]}`);
      }
      const scratch = resource(tf, 'google_bigquery_dataset.scratch');
      assert.equal(squash(scratch.default_table_expiration_ms), '${var.scratch_ttl_hours * 3600 * 1000}');
      for (const bucket of ['staging_bucket', 'output_bucket', 'source_bucket']) {
        assert.equal(tf.variables[bucket].default, null, `${bucket} has no default: it derives from the project`);
      }
      assert.equal(tf.locals.staging_bucket, '${coalesce(var.staging_bucket, "${var.project}-bqx-staging")}');
    });
  });

  describe('security', function () {
    it('grants no basic role, no project-level admin role, and nothing to allUsers/allAuthenticatedUsers', function () {
      const grants: { where: string; role: string; member: string; projectLevel: boolean }[] = [];
      const tables: Record<string, string> = {
        'google_project_iam_member.functions': 'function_project_roles',
        'google_storage_bucket_iam_member.functions': 'function_bucket_roles',
        'google_pubsub_topic_iam_member.functions': 'function_topic_roles',
        'google_bigquery_dataset_iam_member.functions': 'function_dataset_roles',
      };
      for (const [address, body] of tf.resources) {
        const type = address.split('.')[0]!;
        if (!/_iam_(member|binding|policy)$/.test(type)) continue;
        assert.ok(!/_iam_(binding|policy)$/.test(type), `${address}: authoritative IAM (binding/policy) would remove grants others rely on; use _iam_member`);
        const projectLevel = type === 'google_project_iam_member';
        const roles: string[] = body.role === '${each.value.role}'
          ? (tf.locals[tables[address] ?? ''] ?? assert.fail(`${address}: role comes from a table this test does not know`)).map((g: Node) => g.role)
          : [body.role];
        for (const role of roles) grants.push({ where: address, role, member: body.member, projectLevel });
      }
      assert.ok(grants.length > 10, 'expected the IAM grants to be found');
      for (const g of grants) {
        assert.match(g.role, /^roles\/[A-Za-z.]+$/, `${g.where}: role ${g.role} is not a literal predefined role`);
        assert.ok(!['roles/owner', 'roles/editor', 'roles/viewer'].includes(g.role), `${g.where}: basic role ${g.role}`);
        if (g.projectLevel) assert.ok(!/admin/i.test(g.role), `${g.where}: project-level admin role ${g.role}`);
        assert.ok(!PUBLIC_MEMBERS.includes(String(g.member).toLowerCase()), `${g.where}: public member ${g.member}`);
      }
      // Nowhere in any resource, data source, local or output (variables only mention them to refuse them).
      const everything = [...tf.resources.values(), ...tf.data.values(), tf.locals, tf.outputs];
      for (const s of strings(everything)) {
        for (const bad of ['allUsers', 'allAuthenticatedUsers', 'roles/owner', 'roles/editor']) {
          assert.ok(!s.includes(bad), `"${bad}" appears in terraform/: ${s}`);
        }
      }
    });

    it('allows only the project-level grants that have no narrower resource', function () {
      const allowed: Record<string, string[]> = {
        'google_project_iam_member.functions': ['roles/bigquery.jobUser', 'roles/datastore.user'],
        'google_project_iam_member.trigger_receives_events': ['roles/eventarc.eventReceiver'],
        'google_project_iam_member.gcs_agent_publishes': ['roles/pubsub.publisher'],
        'google_project_iam_member.build': ['roles/logging.logWriter'],
        'google_project_iam_member.build_uses_gcf_sources': ['roles/storage.objectUser'],
      };
      const found = resourcesOfType(tf, 'google_project_iam_member');
      assert.deepEqual(found.map(([a]) => a).sort(), Object.keys(allowed).sort(), 'unexpected project-level grant');
      for (const g of tf.locals.function_project_roles) {
        assert.ok(allowed['google_project_iam_member.functions']!.includes(g.role), `project-level ${g.role} for ${g.fn}`);
      }
      for (const [address, body] of found) {
        if (body.role !== '${each.value.role}') assert.ok(allowed[address]!.includes(body.role), `${address}: ${body.role}`);
      }
      assert.equal(resource(tf, 'google_project_iam_member.gcs_agent_publishes').member, '${data.google_storage_project_service_account.gcs.member}');
      const sources = block(resource(tf, 'google_project_iam_member.build_uses_gcf_sources'), 'condition', 'build_uses_gcf_sources');
      assert.match(sources.expression, /gcf-v2-sources-/, 'the build\'s storage grant is limited to the GCF sources bucket');
    });

    it('explains every grant with a comment', function () {
      const lines = tf.files['iam.tf']!.split('\n');
      // The comment block directly above line i (no blank line between), without separator lines.
      const reasonAbove = (i: number): string => {
        const words: string[] = [];
        for (let j = i - 1; j >= 0 && lines[j]!.trim().startsWith('#'); j--) {
          const text = lines[j]!.trim().replace(/^#+/, '').trim();
          if (!/^[=\-]*$/.test(text)) words.push(text);
        }
        return words.join(' ');
      };
      lines.forEach((line, i) => {
        if (/^resource "google_[a-z0-9_]+_iam_member"/.test(line)) {
          assert.ok(reasonAbove(i).length > 20, `iam.tf:${i + 1} ${line.trim()} has no comment directly above saying why`);
        }
        if (/^\s*\{ fn = /.test(line)) {
          // Consecutive grants may share one reason: walk up to the comment that opens the group.
          let j = i;
          while (j > 0 && /^\s*\{ fn = /.test(lines[j - 1]!)) j--;
          assert.ok(reasonAbove(j).length > 20, `iam.tf:${i + 1} grant ${line.trim()} has no comment saying why`);
        }
      });
    });

    it('lets pipelineApi publish run requests (POST /runs) without any BigQuery role', function () {
      // POST /runs publishes the request to run-requests and startRun does the work, so the API's
      // account needs publisher on that topic only; it still reads and writes run records.
      const grants = (table: string) => (tf.locals[table] as Node[]).filter((g) => g.fn === 'pipelineApi');
      assert.ok(grants('function_topic_roles').some((g) => g.topic === 'run_requests' && g.role === 'roles/pubsub.publisher'), 'pipelineApi: roles/pubsub.publisher on run_requests');
      assert.deepEqual(grants('function_dataset_roles'), [], 'pipelineApi needs no dataset role');
      assert.deepEqual(grants('function_project_roles').map((g) => g.role), ['roles/datastore.user'], 'pipelineApi: only datastore.user at project level');
      const topics = resource(tf, 'google_pubsub_topic_iam_member.functions');
      assert.equal(topics.topic, '${google_pubsub_topic.main[each.value.topic].name}', 'the grant is on the topic itself');
    });

    it('gives each function its own service account and the triggers one more', function () {
      const fnAccounts = resource(tf, 'google_service_account.fn');
      assert.equal(fnAccounts.for_each, '${local.functions}');
      assert.equal(fnAccounts.account_id, '${each.value.name}');
      resource(tf, 'google_service_account.trigger');
      const invokes = resource(tf, 'google_cloud_run_v2_service_iam_member.trigger_invokes');
      assert.equal(invokes.member, '${google_service_account.trigger.member}');
      assert.equal(invokes.role, 'roles/run.invoker');
      assert.equal(invokes.name, '${google_cloudfunctions2_function.fn[each.key].name}', 'invoker on each function\'s own service');
      for (const table of ['function_project_roles', 'function_bucket_roles', 'function_topic_roles', 'function_dataset_roles']) {
        for (const g of tf.locals[table]) assert.ok(g.fn in tf.locals.functions, `${table}: ${g.fn} is not a function`);
      }
    });

    it('locks every bucket down: uniform access, public access prevention enforced', function () {
      const buckets = resourcesOfType(tf, 'google_storage_bucket');
      assert.deepEqual(buckets.map(([a]) => a).sort(), ['google_storage_bucket.output', 'google_storage_bucket.source', 'google_storage_bucket.staging']);
      for (const [address, body] of buckets) {
        assert.equal(body.uniform_bucket_level_access, true, `${address}: uniform bucket-level access`);
        assert.equal(body.public_access_prevention, 'enforced', `${address}: public access prevention`);
      }
    });

    it('keeps no old checkpoint: staging has versioning off and deletes runs/ after N days', function () {
      const staging = resource(tf, 'google_storage_bucket.staging');
      assert.equal(block(staging, 'versioning', 'staging').enabled, false);
      const deletes = staging.lifecycle_rule.filter((r: Node) => r.action[0].type === 'Delete');
      assert.equal(deletes.length, 1, 'one delete rule');
      const condition = deletes[0].condition[0];
      assert.equal(condition.age, '${var.staging_retention_days}');
      assert.deepEqual(condition.matches_prefix, ['runs/']);
      assert.equal(tf.variables.staging_retention_days.default, 30, 'a month: weekly runs can still reuse checkpoints');
    });

    it('never deletes datasets by age: the output bucket only aborts unfinished uploads', function () {
      const output = resource(tf, 'google_storage_bucket.output');
      assert.deepEqual(output.lifecycle_rule.map((r: Node) => r.action[0].type), ['AbortIncompleteMultipartUpload']);
    });

    it('turns soft delete off on the buckets BigQuery exports into (staging, output)', function () {
      // Soft delete is on by default (7 days); Google advises it off where BigQuery exports, since
      // every replaced or deleted export file would otherwise be kept and billed.
      for (const name of ['staging', 'output']) {
        const policy = block(resource(tf, `google_storage_bucket.${name}`), 'soft_delete_policy', `google_storage_bucket.${name}`);
        assert.equal(policy.retention_duration_seconds, 0, `google_storage_bucket.${name}: soft delete retention must be 0`);
      }
    });

    it('avoids what weaker modules do: time_sleep, roles/editor, a fixed zip name', function () {
      for (const [file, text] of Object.entries(tf.files)) {
        assert.ok(!/time_sleep/.test(text.replace(/#.*$/gm, '')), `${file} uses time_sleep`);
        assert.ok(!/roles\/editor/.test(text), `${file} mentions roles/editor`);
      }
      assert.ok(![...tf.resources.keys()].some((a) => a.startsWith('time_')), 'no time_* resources');
      assert.equal(resource(tf, 'google_storage_bucket_object.source').name, '${data.archive_file.source.output_md5}.zip');
    });
  });

  describe('function source', function () {
    it('zips the repository root minus .gcloudignore', function () {
      const archive = tf.data.get('archive_file.source');
      assert.ok(archive, 'data.archive_file.source');
      assert.equal(archive.source_dir, '${local.repo_root}');
      assert.equal(archive.excludes, '${local.source_excludes}');
      assert.match(tf.files['gcloudignore.tf']!, /file\("\$\{local\.repo_root\}\/\.gcloudignore"\)/, 'excludes are read from .gcloudignore');
      assert.match(archive.output_path, /^\$\{path\.module\}\//, 'the zip is written inside terraform/, which is never zipped');
      const precondition = archive.lifecycle[0].precondition[0];
      assert.equal(precondition.condition, '${length(local.gcloudignore_unsupported) == 0}');
    });

    it('leaves out what .gcloudignore lists and keeps the code (evaluated by terraform console)', function () {
      skipWithoutTerraform(this, 'the .gcloudignore translation');
      const dir = mkdtempSync(path.join(tmpdir(), 'bqx-tf-'));
      try {
        mkdirSync(path.join(dir, 'terraform'));
        copyFileSync(path.join(TF_DIR, 'gcloudignore.tf'), path.join(dir, 'terraform', 'gcloudignore.tf'));
        copyFileSync(path.join(ROOT, '.gcloudignore'), path.join(dir, '.gcloudignore'));
        const { value, errors } = terraformConsole(path.join(dir, 'terraform'), 'jsonencode({ excludes = local.source_excludes, unsupported = local.gcloudignore_unsupported })');
        assert.equal(errors, '', `terraform console reported errors:\n${errors}`);
        const result = JSON.parse(JSON.parse(value)) as { excludes: string[]; unsupported: string[] };
        assert.deepEqual(result.unsupported, [], '.gcloudignore has lines archive_file cannot honour');

        // terraform/ holds state and the zip itself: it stays out even if .gcloudignore forgets it.
        const ignoreText = readFileSync(path.join(ROOT, '.gcloudignore'), 'utf8');
        writeFileSync(path.join(dir, '.gcloudignore'), ignoreText.split('\n').filter((l) => !/^\/?terraform\/?$/.test(l.trim())).join('\n'));
        const forgetful = terraformConsole(path.join(dir, 'terraform'), 'jsonencode(local.source_excludes)');
        assert.equal(forgetful.errors, '', forgetful.errors);
        const withoutRule = zippedFiles(JSON.parse(JSON.parse(forgetful.value)) as string[]);
        assert.ok(withoutRule.length > 0 && !withoutRule.some((f) => f.startsWith('terraform/')), 'terraform/ is zipped when .gcloudignore does not list it');

        const files = zippedFiles(result.excludes);
        assert.ok(files.includes('package.json'), 'package.json is zipped');
        assert.ok(files.includes('shared/config.ts'), 'shared/ is zipped');
        if (existsSync(INDEX)) assert.ok(files.includes('functions/index.ts'), 'functions/ is zipped');
        const ignored = readFileSync(path.join(ROOT, '.gcloudignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
        for (const f of files) {
          for (const dirRule of ignored.filter((l) => l.endsWith('/'))) {
            const d = dirRule.slice(0, -1);
            assert.ok(!(f.startsWith(`${d}/`) || f.includes(`/${d}/`)), `${f} is zipped although .gcloudignore lists ${dirRule}`);
          }
          if (ignored.includes('*.md')) assert.ok(!f.endsWith('.md'), `${f} is zipped although .gcloudignore lists *.md`);
          assert.ok(!f.startsWith('terraform/'), `${f}: terraform/ (state, the zip itself) is never zipped`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('Terraform itself', function () {
    it('passes terraform fmt -check -recursive terraform', function () {
      skipWithoutTerraform(this, 'terraform fmt -check');
      const run = spawnSync('terraform', ['fmt', '-check', '-recursive', 'terraform'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(run.status, 0, `terraform fmt -check failed; files to format:\n${run.stdout}${run.stderr}`);
    });

    it('calls only functions Terraform has (terraform metadata functions)', function () {
      skipWithoutTerraform(this, 'the function names');
      const run = spawnSync('terraform', ['metadata', 'functions', '-json'], { encoding: 'utf8' });
      assert.equal(run.status, 0, `terraform metadata functions failed: ${run.stderr}`);
      const known = new Set(Object.keys(JSON.parse(run.stdout).function_signatures));
      const typeWords = new Set(['list', 'map', 'set', 'object', 'tuple', 'optional']);
      for (const [file, text] of Object.entries(tf.files)) {
        const code = text.replace(/#.*$/gm, '').replace(/^\s*type\s*=.*$/gm, '');
        for (const m of code.matchAll(/(?<![.\w])([a-z_][a-z0-9_]*)\(/g)) {
          const name = m[1]!;
          if (typeWords.has(name)) continue;
          assert.ok(known.has(name), `${file}: ${name}() is not a Terraform function`);
        }
      }
    });

    it('resolves every reference and uses every variable', function () {
      const declared = new Set([...tf.resources.keys()]);
      const declaredData = new Set([...tf.data.keys()]);
      const used = new Set<string>();
      const all = strings([...tf.resources.values(), ...tf.data.values(), tf.locals, tf.outputs, Object.values(tf.variables).map((v) => v.validation ?? [])]);
      for (const s of all.filter((x) => x.includes('${'))) {
        for (const m of s.matchAll(/\bvar\.([a-z0-9_]+)/g)) {
          assert.ok(m[1]! in tf.variables, `var.${m[1]} is not declared`);
          used.add(m[1]!);
        }
        for (const m of s.matchAll(/\blocal\.([a-z0-9_]+)/g)) assert.ok(m[1]! in tf.locals, `local.${m[1]} is not declared`);
        for (const m of s.matchAll(/\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)/g)) assert.ok(declaredData.has(`${m[1]}.${m[2]}`), `data.${m[1]}.${m[2]} is not declared`);
        for (const m of s.matchAll(/(?<![.\w])((?:google|archive|random)_[a-z0-9_]+)\.([a-z0-9_]+)/g)) {
          assert.ok(declared.has(`${m[1]}.${m[2]}`), `${m[1]}.${m[2]} is not declared`);
        }
      }
      // Provider blocks use var.project and var.region too.
      for (const m of tf.files['versions.tf']!.matchAll(/\bvar\.([a-z0-9_]+)/g)) used.add(m[1]!);
      for (const name of Object.keys(tf.variables)) assert.ok(used.has(name), `var.${name} is declared but never used`);
    });

    it('evaluates the function table as Terraform sees it (main.tf locals, by terraform console)', function () {
      skipWithoutTerraform(this, 'the evaluated function table');
      const main = tf.files['main.tf']!;
      const start = main.search(/^locals \{$/m);
      assert.ok(start >= 0, 'main.tf has a top-level locals block');
      const end = main.indexOf('\n}\n', start);
      const dir = mkdtempSync(path.join(tmpdir(), 'bqx-tflocals-'));
      try {
        copyFileSync(path.join(TF_DIR, 'variables.tf'), path.join(dir, 'variables.tf'));
        writeFileSync(path.join(dir, 'locals.tf'), main.slice(start, end + 3));
        const expression = `jsonencode({
          functions = local.functions, pubsub = keys(local.pubsub_functions), topics = local.topic_names,
          waits = { for k, f in local.functions : k => min(var.job_wait_seconds, f.timeout - local.job_wait_margin_seconds) }
        })`.replace(/\s+/g, ' ');
        const { value, errors } = terraformConsole(dir, expression, ['project=bqx-test-project']);
        assert.equal(errors, '', `terraform console reported errors:\n${errors}`);
        const got = JSON.parse(JSON.parse(value)) as {
          functions: Record<string, { trigger: string; topic: string | null; timeout: number; concurrency: number; max_instances: number }>;
          pubsub: string[]; topics: Record<string, string>; waits: Record<string, number>;
        };
        assert.deepEqual(Object.keys(got.functions).sort(), Object.keys(EXPECTED).sort());
        assert.deepEqual(got.pubsub.sort(), Object.keys(EXPECTED).filter((k) => EXPECTED[k]!.trigger === 'pubsub').sort());
        for (const [key, t] of Object.entries(TOPICS)) assert.equal(got.topics[key], CONFIG_DEFAULTS[t.config]);
        for (const [name, fn] of Object.entries(got.functions)) {
          assert.equal(fn.trigger, EXPECTED[name]!.trigger, `${name}: trigger`);
          assert.equal(fn.topic, EXPECTED[name]!.topic ?? null, `${name}: topic`);
          assert.equal(typeof fn.timeout, 'number', `${name}: timeout is a number`);
          assert.ok(Number.isInteger(fn.concurrency) && fn.concurrency >= 1, `${name}: concurrency`);
          if (fn.trigger !== 'http') assert.ok(fn.timeout <= 540, `${name}: event function timeout ${fn.timeout} > 540`);
          assert.ok(got.waits[name]! < fn.timeout && got.waits[name]! >= 10, `${name}: BQX_JOB_WAIT_SECONDS ${got.waits[name]} vs timeout ${fn.timeout}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses bad inputs at plan time (variable validations, run by terraform console)', function () {
      skipWithoutTerraform(this, 'the variable validations');
      const dir = mkdtempSync(path.join(tmpdir(), 'bqx-tfvars-'));
      try {
        copyFileSync(path.join(TF_DIR, 'variables.tf'), path.join(dir, 'variables.tf'));
        const project = 'project=bqx-test-project';
        const ok = terraformConsole(dir, 'jsonencode(var.pairs)', [project]);
        assert.equal(ok.errors, '', `defaults should be valid:\n${ok.errors}`);
        const gates = terraformConsole(dir, 'jsonencode(var.settings)', [project, 'settings={BQX_GATES="rows >= 150000:fail",BQX_FOLD_PURGE_MINUTES="2985"}']);
        assert.equal(gates.errors, '', `settings the functions read are taken:\n${gates.errors}`);
        const refused: [string, string][] = [
          ['api_invokers=["allUsers"]', 'api_invokers'],
          ['api_invokers=["allAuthenticatedUsers"]', 'api_invokers'],
          ['pairs=["usdeur"]', 'pairs (quote before base)'],
          ['pairs=["eurxyz"]', 'pairs (unknown currency)'],
          ['max_delivery_attempts=101', 'max_delivery_attempts'],
          ['max_delivery_attempts=4', 'max_delivery_attempts'],
          ['job_wait_seconds=520', 'job_wait_seconds (too close to the 540 s timeouts)'],
          ['timeouts={startRun=300,extractFeature=600,checkpointLanded=120,mergeRun=540,pipelineApi=60,reconcile=300}', 'timeouts (over 540 for a pushed function)'],
          ['max_instances={startRun=5}', 'max_instances (functions missing)'],
          ['bigquery_location=US', 'bigquery_location (the loader rejects upper case)'],
          ['features_dataset=bad-name', 'features_dataset'],
          ['staging_bucket=Bad_Bucket', 'staging_bucket'],
          ['settings={BQX_PROJECT="other"}', 'settings (a name another variable sets)'],
          ['settings={BQX_HOME="/tmp"}', 'settings (an embedded-only name)'],
          ['settings={BQX_GATE="rows >= 1"}', 'settings (not a setting)'],
        ];
        for (const [input, what] of refused) {
          const { errors } = terraformConsole(dir, '1', [project, input]);
          assert.match(errors, /Invalid value for variable/, `${what}: ${input} was accepted`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('BigQuery location and bucket region', function () {
    it('accepts only combinations BigQuery loads from and exports to (validation run by terraform console)', function () {
      skipWithoutTerraform(this, 'the location validation');
      const dir = mkdtempSync(path.join(tmpdir(), 'bqx-tfloc-'));
      try {
        copyFileSync(path.join(TF_DIR, 'variables.tf'), path.join(dir, 'variables.tf'));
        const check = (location: string, region: string) =>
          terraformConsole(dir, '1', ['project=bqx-test-project', `bigquery_location=${location}`, `region=${region}`]).errors;
        const accepted: [string, string][] = [['us-central1', 'us-central1'], ['europe-west2', 'europe-west2'], ['us', 'us-east4'], ['eu', 'europe-west4'], ['eu', 'europe-west1']];
        const refused: [string, string][] = [['us-central1', 'us-east1'], ['eu', 'us-central1'], ['eu', 'europe-west2'], ['us', 'europe-west4'], ['asia-northeast1', 'asia-northeast2']];
        for (const [location, region] of accepted) assert.equal(check(location, region), '', `bigquery_location=${location} with region=${region} should be accepted`);
        for (const [location, region] of refused) assert.match(check(location, region), /Invalid value for variable/, `bigquery_location=${location} with region=${region} was accepted`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('outputs', function () {
    it('gives topic names, bucket names, the API URL and the exact command that starts a run', function () {
      for (const name of ['topics', 'buckets', 'api_url', 'start_run_command']) assert.ok(tf.outputs[name], `output ${name}`);
      // Publishing the bare pair to the run-requests topic is what startRun accepts.
      assert.equal(
        tf.outputs.start_run_command.value,
        'gcloud pubsub topics publish ${google_pubsub_topic.main["run_requests"].name} --project=${var.project} --message=${var.pairs[0]}',
      );
      assert.equal(tf.outputs.api_url.value, '${google_cloudfunctions2_function.fn["pipelineApi"].service_config[0].uri}');
    });
  });
});
