// reconcile, called over HTTP by Cloud Scheduler (POST, body ignored): re-sends what stalled runs
// are missing, fails runs out of attempts, and answers with what it did: {"actions": [...]}.

import { http } from '@google-cloud/functions-framework';
import { reconcile as sweep } from '../shared/chain/reconcile.js';
import { MethodNotAllowed, jsonFunction } from './handlers.js';

export const reconcile = jsonFunction('reconcile', async (deps, req) => {
  if (req.method !== 'POST') throw new MethodNotAllowed(req.method, ['POST']);
  const actions = await sweep(deps);
  const acted = actions.filter((a) => a.action !== 'waiting');
  if (acted.length > 0) deps.logger.info(`reconcile: ${acted.length} of ${actions.length} active run(s) needed action`, { step: 'reconcile' });
  return { status: 200, body: { actions } };
});

http('reconcile', reconcile);
