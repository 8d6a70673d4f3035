// A worker thread of the profile (threadPool.ts): scans the batches it is sent (parquetScan.ts)
// and sends each outcome back, the sample's arrays moved rather than copied.

import { parentPort } from 'node:worker_threads';
import { zstdReady } from './parquetDoubles.js';
import { FooterCache, scanParquet, type ScanTask } from './parquetScan.js';

// Messages wait in the port until the listener below is attached.
await zstdReady();
const footers = new FooterCache();
parentPort!.on('message', ({ id, task }: { id: number; task: ScanTask }) => {
  try {
    const outcome = scanParquet(task, footers);
    parentPort!.postMessage({ id, outcome }, outcome.sample.map((s) => s.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ id, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) });
  }
});
