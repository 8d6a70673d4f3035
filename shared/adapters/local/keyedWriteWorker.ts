// A worker thread of the keyed extract (threadPool.ts, keyedExtract.ts): runs the extracts it is
// sent (finds the rows, writes the shard files) and says what it wrote, so the main thread runs
// the chain's own work meanwhile (the landing check, the run store) and the extracts use both cores.

import { writeKeyedExtract } from './keyedExtract.js';
import { zstdReady } from './parquetDoubles.js';
import { serveTasks } from './threadPool.js';

// Messages wait in the port until the listener is attached.
await zstdReady();
serveTasks(writeKeyedExtract);
