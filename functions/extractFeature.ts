// extractFeature, pushed from the extract-requests topic: `{"runId", "pair", "feature"}` (sent by
// startRun, the reconciler and reruns). A warehouse job still running after BQX_JOB_WAIT_SECONDS
// throws, so the message comes back and the retry attaches to the same deterministic job.

import { cloudEvent } from '@google-cloud/functions-framework';
import { extractFeature as extract } from '../shared/chain/extractFeature.js';
import { decodeExtractRequest } from '../shared/chain/messages.js';
import { onMessage } from './handlers.js';

export const extractFeature = onMessage('extract', async (deps, message) => {
  await extract(deps, decodeExtractRequest(message.data));
});

cloudEvent('extractFeature', extractFeature);
