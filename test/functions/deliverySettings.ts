// The delivery settings of the deployed chain, read from terraform/ (parsed with @cdktf/hcl2json,
// as test/terraform does) rather than copied: the push subscriptions' retry and dead-letter policy
// and ack deadline, the functions' timeouts and BQX_JOB_WAIT_SECONDS, the reconciler's schedule and
// stall threshold. An expression of a shape this reader does not know fails the test, so a change
// in terraform/ cannot leave the simulation on stale numbers.

import { parse } from '@cdktf/hcl2json';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { managedEnv } from '../helpers/terraformEnv.js';

export interface DeliverySettings {
  maxDeliveryAttempts: number;
  minBackoffSeconds: number;
  maxBackoffSeconds: number;
  /** Per Pub/Sub-driven function: its timeout, its subscription's ack deadline, its BQX_JOB_WAIT_SECONDS. */
  functions: Record<'extractFeature' | 'mergeRun', { timeoutSeconds: number; ackDeadlineSeconds: number; jobWaitSeconds: number }>;
  /** Reconcile runs every this many minutes (`*\/N * * * *`). */
  reconcileEveryMinutes: number;
  stallSeconds: number;
  maxAttempts: number;
}

type Node = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TERRAFORM = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'terraform');

async function load(file: string): Promise<Node> {
  return (await parse(file, await fs.readFile(path.join(TERRAFORM, file), 'utf8'))) as Node;
}

const variableDefault = (vars: Node, name: string): unknown => {
  const v = vars.variable?.[name]?.[0];
  if (!v || !('default' in v)) throw new Error(`terraform/variables.tf has no default for ${name}`);
  return v.default;
};

function seconds(duration: unknown, what: string): number {
  const m = typeof duration === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(duration) : null;
  if (!m) throw new Error(`${what} ${JSON.stringify(duration)} is not a duration in seconds`);
  return Number(m[1]);
}

export async function readDeliverySettings(): Promise<DeliverySettings> {
  const [main, vars] = await Promise.all([load('main.tf'), load('variables.tf')]);
  const push = main.resource?.google_pubsub_subscription?.push?.[0];
  if (!push) throw new Error('terraform/main.tf has no google_pubsub_subscription.push');
  const retry = push.retry_policy[0];
  const deadLetter = push.dead_letter_policy[0];
  if (deadLetter.max_delivery_attempts !== '${var.max_delivery_attempts}') throw new Error(`unexpected max_delivery_attempts ${deadLetter.max_delivery_attempts}`);
  const ack = /^\$\{each\.value\.timeout \+ (\d+)\}$/.exec(String(push.ack_deadline_seconds));
  if (!ack) throw new Error(`unexpected ack_deadline_seconds ${push.ack_deadline_seconds}`);

  const locals = Object.assign({}, ...(main.locals as Node[])) as Node;
  const margin = Number(locals.job_wait_margin_seconds);
  const fn = main.resource.google_cloudfunctions2_function.fn[0];
  const waitExpression = managedEnv(fn.service_config[0].environment_variables).BQX_JOB_WAIT_SECONDS;
  if (waitExpression !== '${format("%d", min(var.job_wait_seconds, each.value.timeout - local.job_wait_margin_seconds))}') {
    throw new Error(`unexpected BQX_JOB_WAIT_SECONDS ${waitExpression}`);
  }
  for (const name of ['extractFeature', 'mergeRun']) {
    const timeout = locals.functions[name].timeout;
    if (timeout !== `\${var.timeouts["${name}"]}`) throw new Error(`unexpected timeout of ${name}: ${timeout}`);
  }
  const timeouts = variableDefault(vars, 'timeouts') as Record<string, number>;
  const jobWait = Number(variableDefault(vars, 'job_wait_seconds'));
  const per = (name: 'extractFeature' | 'mergeRun') => ({
    timeoutSeconds: timeouts[name]!,
    ackDeadlineSeconds: timeouts[name]! + Number(ack[1]),
    jobWaitSeconds: Math.min(jobWait, timeouts[name]! - margin),
  });
  const schedule = /^\*\/(\d+) \* \* \* \*$/.exec(String(variableDefault(vars, 'reconcile_schedule')));
  if (!schedule) throw new Error(`unexpected reconcile_schedule ${String(variableDefault(vars, 'reconcile_schedule'))}`);
  return {
    maxDeliveryAttempts: Number(variableDefault(vars, 'max_delivery_attempts')),
    minBackoffSeconds: seconds(retry.minimum_backoff, 'minimum_backoff'),
    maxBackoffSeconds: seconds(retry.maximum_backoff, 'maximum_backoff'),
    functions: { extractFeature: per('extractFeature'), mergeRun: per('mergeRun') },
    reconcileEveryMinutes: Number(schedule[1]),
    stallSeconds: Number(variableDefault(vars, 'stall_seconds')),
    maxAttempts: Number(variableDefault(vars, 'max_attempts')),
  };
}
