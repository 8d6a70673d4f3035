// extractFeature, pushed from the extract-requests topic: `{"runId", "pair", "feature"}` (sent by
// startRun, the reconciler and reruns). A warehouse job still running after BQX_JOB_WAIT_SECONDS
// is polled by a follow-up message (`poll`, `since` added; shared/chain/pending.ts) and this one is
// acknowledged, so slow work never uses up delivery attempts; only errors are retried.

import { cloudEvent } from '@google-cloud/functions-framework';
import { extractFeature as extract } from '../shared/chain/extractFeature.js';
import { decodeExtractRequest } from '../shared/chain/messages.js';
import { onMessage } from './handlers.js';

export const extractFeature = onMessage('extract', async (deps, message) => {
  await extract(deps, decodeExtractRequest(message.data));
});

cloudEvent('extractFeature', extractFeature);
