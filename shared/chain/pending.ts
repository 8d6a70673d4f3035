// Work still running in the warehouse (a BigQuery export or merge that outlasts one invocation) is
// waited for by follow-up messages, never by failing the delivery. A handler waits for it up to
// BQX_JOB_WAIT_SECONDS (the warehouse's own budget), and if it is still running, publishes a fresh
// message for the same work and acknowledges its own. A fresh message starts a fresh delivery count,
// so healthy work is never dead-lettered however long it runs, while a message whose handler throws
// is still retried and dead-lettered after max_delivery_attempts. The chain is bounded overall: the
// follow-up carries its poll count and when the work was first found running, and past
// BQX_PENDING_LIMIT_HOURS the run fails with that reason. The same code runs on the embedded bus.

import { createHash } from 'node:crypto';
import type { Pending, RunState } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { attributes, type ExtractRequest, type MergeRequest } from './messages.js';
import { failRun } from './runs.js';

export type PendingOutcome = 'pending' | 'failed';

type Work = { kind: 'extract'; request: ExtractRequest } | { kind: 'merge'; request: MergeRequest };

/** What the handler of `work` does when the warehouse answered `pending`. */
export async function followUp(deps: ChainDeps, work: Work, pending: Pending): Promise<PendingOutcome> {
  const { request, kind } = work;
  const { runId, pair } = request;
  const feature = work.kind === 'extract' ? work.request.feature : undefined;
  const log = { runId, pair, step: kind, ...(feature ? { feature } : {}) };
  const now = deps.clock.now();
  const since = request.since ?? now.toISOString();
  const poll = (request.poll ?? 0) + 1;
  const waitedMs = now.getTime() - Date.parse(since);
  const limitMs = deps.config.pendingLimitHours * 3600_000;
  const what = feature ? `extract of ${feature}` : 'merge';
  if (waitedMs >= limitMs) {
    const reason = `${what} still running after ${(waitedMs / 3600_000).toFixed(1)} h and ${poll - 1} polls (BQX_PENDING_LIMIT_HOURS=${deps.config.pendingLimitHours}): ${pending.detail}`;
    await failRun(deps, runId, reason);
    return 'failed';
  }
  await heartbeat(deps, runId, kind === 'extract' ? 'extracting' : 'merging');
  // One follow-up per poll, even when this message was delivered twice (at-least-once).
  const claim = `wait_${createHash('sha256').update(`${kind}\n${feature ?? ''}\n${since}\n${poll}`).digest('hex').slice(0, 32)}`;
  if (!(await deps.store.claimOnce(runId, claim))) {
    deps.logger.info(`${what} still running; poll ${poll} was already sent`, log);
    return 'pending';
  }
  const topic = kind === 'extract' ? deps.config.topics.extractRequests : deps.config.topics.mergeRequests;
  const base = work.kind === 'extract' ? { runId, pair, feature: work.request.feature } : { runId, pair };
  await deps.bus.publish(topic, { ...base, poll, since }, attributes({ pair, runId, ...(feature ? { feature } : {}) }));
  deps.logger.info(`${what} still running: follow-up ${poll} sent (waiting for ${Math.round(waitedMs / 1000)} s so far): ${pending.detail}`, log);
  return 'pending';
}

/**
 * Marks the run as moving (its updatedAt), so the reconciler does not take long warehouse work for
 * a stall: at most once per half BQX_STALL_SECONDS, so hundreds of pending extracts do not all
 * write the run's document.
 */
async function heartbeat(deps: ChainDeps, runId: string, state: RunState): Promise<void> {
  const now = deps.clock.now();
  const due = (updatedAt: string) => now.getTime() - Date.parse(updatedAt) >= (deps.config.stallSeconds * 1000) / 2;
  const run = await deps.store.getRun(runId);
  if (!run || run.state !== state || !due(run.updatedAt)) return;
  await deps.store.updateRun(runId, (r) => (r.state === state && due(r.updatedAt) ? { ...r, updatedAt: now.toISOString() } : undefined));
}
