// reconcile: finds runs that stopped moving and re-sends what is missing (extract requests for
// features not landed, or the merge request), within a bounded number of attempts; then fails the
// run with its reason. Called on a schedule on Google Cloud, and when the CLI resumes a run.

import type { RunRecord } from '../ports.js';
import type { ChainDeps } from './deps.js';
import { claimMerge } from './checkpointLanded.js';
import { attributes } from './messages.js';
import { failRun, loadManifest } from './runs.js';
import { recordReused } from './reuse.js';
import { fanOut } from './startRun.js';

export interface ReconcileAction {
  runId: string;
  action: 'resent-extracts' | 'claimed-merge' | 'resent-merge' | 'failed' | 'waiting';
  features?: number;
  reason?: string;
}

/** With `force`, runs are handled now, however recently they moved (the CLI's resume). */
export async function reconcile(deps: ChainDeps, options: { force?: boolean; runIds?: string[] } = {}): Promise<ReconcileAction[]> {
  const now = deps.clock.now().getTime();
  const runs = (await deps.store.listActiveRuns()).filter((r) => !options.runIds || options.runIds.includes(r.runId));
  const actions: ReconcileAction[] = [];
  for (const run of runs) {
    const checkpoints = await deps.store.listCheckpoints(run.runId);
    const lastMove = Math.max(Date.parse(run.updatedAt), ...checkpoints.map((c) => Date.parse(c.landedAt)));
    if (!options.force && now - lastMove < deps.config.stallSeconds * 1000) {
      actions.push({ runId: run.runId, action: 'waiting' });
      continue;
    }
    actions.push(await unstick(deps, run, new Set(checkpoints.map((c) => c.feature))));
  }
  return actions;
}

async function unstick(deps: ChainDeps, run: RunRecord, landed: Set<string>): Promise<ReconcileAction> {
  const { runId, pair } = run;
  const log = { runId, pair, step: 'reconcile' };
  if (run.reconcileAttempts >= deps.config.maxAttempts) {
    const manifest = await loadManifest(deps, run);
    const missing = manifest.features.filter((f) => !landed.has(f.feature)).map((f) => f.feature);
    const reason =
      run.state === 'extracting'
        ? `stalled: ${missing.length} feature(s) never landed after ${run.reconcileAttempts} attempts: ${missing.slice(0, 5).join(', ')}`
        : `stalled: merge did not finish after ${run.reconcileAttempts} attempts`;
    await failRun(deps, runId, reason);
    return { runId, action: 'failed', reason };
  }
  await deps.store.updateRun(runId, (r) => ({ ...r, reconcileAttempts: r.reconcileAttempts + 1, updatedAt: deps.clock.now().toISOString() }));
  if (run.state === 'extracting') {
    const manifest = await loadManifest(deps, run);
    let missing = manifest.features.filter((f) => !landed.has(f.feature)).map((f) => f.feature);
    // A start that died before recording its reused checkpoints: record them, extract the rest.
    const reusable = manifest.features.filter((f) => f.reuse && !landed.has(f.feature)).map((f) => f.feature);
    if (reusable.length > 0) {
      const gone = await recordReused(deps, run, manifest, reusable);
      missing = missing.filter((f) => !reusable.includes(f) || gone.includes(f));
    }
    if (missing.length === 0) {
      await claimMerge(deps, runId, { force: true });
      deps.logger.warn('all checkpoints had landed but no merge was claimed: claimed now', log);
      return { runId, action: 'claimed-merge' };
    }
    deps.logger.warn(`re-sending ${missing.length} extract request(s)`, log);
    await fanOut(deps, run, missing);
    return { runId, action: 'resent-extracts', features: missing.length };
  }
  deps.logger.warn('re-sending the merge request', log);
  await deps.bus.publish(deps.config.topics.mergeRequests, { runId, pair }, attributes({ pair, runId }));
  return { runId, action: 'resent-merge' };
}
