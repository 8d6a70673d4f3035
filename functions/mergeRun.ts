// mergeRun, pushed from the merge-requests topic: `{"runId", "pair"}`, sent once per run by the
// landing that completes it (or by the reconciler or a rerun). A merge request for a run that is
// not merging is acknowledged and ignored; a merge still running in the warehouse after
// BQX_JOB_WAIT_SECONDS sends a follow-up merge request and is acknowledged (shared/chain/pending.ts).

import { cloudEvent } from '@google-cloud/functions-framework';
import { decodeMergeRequest } from '../shared/chain/messages.js';
import { mergeRun as merge } from '../shared/chain/mergeRun.js';
import { onMessage } from './handlers.js';

export const mergeRun = onMessage('merge', async (deps, message) => {
  await merge(deps, decodeMergeRequest(message.data));
});

cloudEvent('mergeRun', mergeRun);
