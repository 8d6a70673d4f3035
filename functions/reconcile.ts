// reconcile, called over HTTP by Cloud Scheduler (POST, body ignored): re-sends what stalled runs
// are missing, fails runs out of attempts, applies retention to every pair (the last BQX_KEEP
// datasets stay; shared/retention.ts), and answers with what it did:
// {"actions": [...], "retention": [pairs where something was removed]}.

import { http } from '@google-cloud/functions-framework';
import { reconcile as sweep } from '../shared/chain/reconcile.js';
import { allPairs } from '../shared/naming.js';
import { collectAll } from '../shared/retention.js';
import { MethodNotAllowed, jsonFunction } from './handlers.js';

export const reconcile = jsonFunction('reconcile', async (deps, req) => {
  if (req.method !== 'POST') throw new MethodNotAllowed(req.method, ['POST']);
  const actions = await sweep(deps);
  const acted = actions.filter((a) => a.action !== 'waiting');
  if (acted.length > 0) deps.logger.info(`reconcile: ${acted.length} of ${actions.length} active run(s) needed action`, { step: 'reconcile' });
  const collected = await collectAll(deps, allPairs(deps.config.currencies), deps.config.keep);
  const retention = collected.filter((r) => r.removed.length + r.trimmed.length + r.cleared.length > 0);
  return { status: 200, body: { actions, retention } };
});

http('reconcile', reconcile);
