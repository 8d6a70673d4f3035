// checkpointLanded, triggered by every object finalized in the staging bucket (Eventarc cannot
// filter by prefix). Completion markers and hand-uploaded `checkpoint.parquet` files are counted;
// other objects, and objects of no run that is extracting, are ignored with a log saying why.

import { cloudEvent } from '@google-cloud/functions-framework';
import { checkpointLanded as landed } from '../shared/chain/checkpointLanded.js';
import { onObjectFinalized } from './handlers.js';

export const checkpointLanded = onObjectFinalized('landing', landed);

cloudEvent('checkpointLanded', checkpointLanded);
