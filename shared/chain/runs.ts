// Run lifecycle helpers shared by the handlers: reading the frozen manifest, moving a run from
// state to state (each move recorded with its time), and publishing the run's outcome.

import type { RunManifest } from '../manifest.js';
import { errorMessage } from '../log.js';
import { NotFoundError } from '../naming.js';
import { TERMINAL_STATES, WorkPending, type RunRecord, type RunState } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { attributes, type RunEvent } from './messages.js';

export async function requireRun(deps: ChainDeps, runId: string): Promise<RunRecord> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new NotFoundError(`run ${runId} not found`);
  return run;
}

export async function loadManifest(deps: Pick<ChainDeps, 'staging' | 'manifests'>, run: RunRecord): Promise<RunManifest> {
  const cached = deps.manifests?.get(run.runId);
  if (cached) return cached;
  const bytes = await deps.staging.read(run.manifestObject);
  const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as RunManifest;
  if (manifest.runId !== run.runId || manifest.features.length !== run.expected) {
    throw new Error(`manifest ${run.manifestObject} does not belong to run ${run.runId}`);
  }
  if (deps.manifests) {
    if (deps.manifests.size > 16) deps.manifests.delete(deps.manifests.keys().next().value!);
    deps.manifests.set(run.runId, manifest);
  }
  return manifest;
}

/**
 * When the run's current work began: its creation, or the last rerun that reopened it (rerun.ts
 * moves it with a reason `rerun (...)`). Its extract and total timings count from there: a rerun's
 * summary gave the time since the run was created, hours before.
 */
export function workStart(run: RunRecord): number {
  const reopened = [...run.transitions].reverse().find((t) => t.reason?.startsWith('rerun'));
  return Date.parse(reopened?.at ?? run.createdAt);
}

/** A copy of `run` moved to `state`, with the move recorded. */
export function moved(run: RunRecord, state: RunState, at: Date, reason?: string): RunRecord {
  const time = at.toISOString();
  // An error belongs to the failed state only; a run that moves has its next outcome still to send.
  const { error: _previous, outcomeSentAt: _sent, ...rest } = run;
  return {
    ...(state === 'failed' && run.error !== undefined ? { ...rest, error: run.error } : rest),
    state,
    updatedAt: time,
    transitions: [...run.transitions, { state, at: time, ...(reason ? { reason } : {}) }],
  };
}

export const isTerminal = (state: RunState) => TERMINAL_STATES.includes(state);

/** Fails a run that is not finished yet, and publishes its failure. Idempotent. */
export async function failRun(deps: ChainDeps, runId: string, reason: string): Promise<RunRecord> {
  const { run, changed } = await deps.store.updateRun(runId, (r) => (isTerminal(r.state) ? undefined : { ...moved(r, 'failed', deps.clock.now(), reason), error: reason }));
  if (changed) {
    deps.logger.error(`run failed: ${reason}`, { runId, pair: run.pair, step: 'run' });
    await publishOutcome(deps, run);
  }
  return run;
}

export async function publishOutcome(deps: ChainDeps, run: RunRecord): Promise<void> {
  const landed = await deps.store.countCheckpoints(run.runId);
  const event: RunEvent = {
    type: run.state === 'succeeded' ? 'run.succeeded' : 'run.failed',
    runId: run.runId,
    pair: run.pair,
    status: run.state === 'succeeded' ? 'succeeded' : 'failed',
    ...(run.error ? { error: run.error } : {}),
    expected: run.expected,
    landed,
    ...(run.output ? { output: run.output } : {}),
    warnings: run.warnings,
    timings: run.timings,
    ...(run.bytesProcessed !== undefined ? { bytesProcessed: run.bytesProcessed } : {}),
    ...(run.costUsd !== undefined ? { costUsd: run.costUsd } : {}),
    ...(run.bytesBilled !== undefined ? { bytesBilled: run.bytesBilled } : {}),
  };
  await deps.bus.publish(deps.config.topics.runEvents, event, attributes({ pair: run.pair, runId: run.runId }));
  // Recorded after the publish: a crash in between sends the event again (at least once), never not at all.
  await deps.store.updateRun(run.runId, (r) => (r.outcomeSentAt ? undefined : { ...r, outcomeSentAt: deps.clock.now().toISOString() }));
  deps.observe?.({ type: 'finished', runId: run.runId, state: run.state === 'succeeded' ? 'succeeded' : 'failed' });
}

/** A finished run whose outcome event a crash kept from going out: sends it (a redelivered request calls this). */
export async function resendOutcome(deps: ChainDeps, run: RunRecord): Promise<boolean> {
  if (!isTerminal(run.state) || run.outcomeSentAt) return false;
  deps.logger.warn(`run ${run.state} but its outcome was never published: publishing it now`, { runId: run.runId, pair: run.pair, step: 'run' });
  await publishOutcome(deps, run);
  return true;
}

/** Whether every one of `files` is in staging, not empty (a checkpoint's files: none is ever empty). */
export async function filesPresent(deps: Pick<ChainDeps, 'staging'>, files: readonly string[]): Promise<boolean> {
  const sizes = await deps.staging.sizes(files);
  return sizes.every((s) => s !== undefined && s > 0);
}

/** Runs a step; if it throws, the run fails with the reason, then the error goes on up. */
export async function failOnError<T>(deps: ChainDeps, runId: string, step: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    // Work still running is not a failure: the caller sends a follow-up.
    if (!(error instanceof WorkPending)) await failRun(deps, runId, `${step}: ${errorMessage(error)}`).catch(() => {});
    throw error;
  }
}
