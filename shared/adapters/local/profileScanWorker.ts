// A worker thread of the profile (threadPool.ts): scans the batches it is sent (parquetScan.ts)
// and sends each outcome back, the sample's arrays moved rather than copied.

import { zstdReady } from './parquetDoubles.js';
import { FooterCache, scanParquet, THREAD_FOOTER_CACHE_BYTES, type ScanTask } from './parquetScan.js';
import { serveTasks } from './threadPool.js';

// Messages wait in the port until the listener is attached.
await zstdReady();
const footers = new FooterCache(THREAD_FOOTER_CACHE_BYTES);
serveTasks(
  (task: ScanTask) => scanParquet(task, footers),
  (outcome) => outcome.sample.map((s) => s.buffer as ArrayBuffer),
);
