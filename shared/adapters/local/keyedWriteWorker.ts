// A worker thread of the keyed extract (threadPool.ts, keyedExtract.ts): writes the shard files it
// is sent (keyedShardWriter.ts) and says how many rows each holds, so the main thread runs the
// chain's own work meanwhile (the landing check, the run store) and the writes use both cores.

import { parentPort } from 'node:worker_threads';
import { writeKeyedShards, type KeyedWrite } from './keyedShardWriter.js';
import { zstdReady } from './parquetDoubles.js';

// Messages wait in the port until the listener below is attached.
await zstdReady();
parentPort!.on('message', ({ id, task }: { id: number; task: KeyedWrite }) => {
  try {
    parentPort!.postMessage({ id, outcome: writeKeyedShards(task) });
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
  }
});
