// A worker thread of the keyed extract (threadPool.ts, keyedExtract.ts): writes the shard files it
// is sent (keyedShardWriter.ts) and says how many rows each holds, so the main thread runs the
// chain's own work meanwhile (the landing check, the run store) and the writes use both cores.

import { writeKeyedShards } from './keyedShardWriter.js';
import { zstdReady } from './parquetDoubles.js';
import { serveTasks } from './threadPool.js';

// Messages wait in the port until the listener is attached.
await zstdReady();
serveTasks(writeKeyedShards);
