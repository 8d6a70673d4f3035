// startRun, pushed from the run-requests topic. The message is a bare pair (`eurusd`) or JSON
// `{"pair": "eurusd", "start"?: ISO time, "end"?: ISO time, "force"?: true}`. A pair that already
// has an active run is left alone (the core logs it); a bad request is logged and acknowledged.
// The message id and publish time go with it: every delivery of the message gets the same run id,
// so a redelivery resumes or returns the run the first one started, and never starts a second.

import { cloudEvent } from '@google-cloud/functions-framework';
import { decodeRunRequest } from '../shared/chain/messages.js';
import { startRun as start } from '../shared/chain/startRun.js';
import { onMessage } from './handlers.js';

export const startRun = onMessage('start', async (deps, message) => {
  await start(deps, { ...decodeRunRequest(message.data, deps.config.currencies), requestId: message.messageId, ...(message.publishTime ? { requestedAt: message.publishTime } : {}) });
});

cloudEvent('startRun', startRun);
