// A worker thread of the profile (threadPool.ts): scans the batches it is sent (parquetScan.ts)
// and sends each outcome back, the sample's arrays moved rather than copied.

import { zstdReady } from './parquetDoubles.js';
import { FooterCache, scanParquet, THREAD_FOOTER_CACHE_BYTES, type ScanTask } from './parquetScan.js';
import { serveTasks } from './threadPool.js';

// Messages wait in the port until the listener is attached.
await zstdReady();
// Per profile job (ScanTask `job`): a thread kept from one job to the next (keptPool.ts) must not
// read a file rewritten in between (a merge run again) by its old footer.
let footers = new FooterCache(THREAD_FOOTER_CACHE_BYTES);
let job: number | undefined;
serveTasks(
  (task: ScanTask) => {
    if (task.job !== job) [footers, job] = [new FooterCache(THREAD_FOOTER_CACHE_BYTES), task.job];
    return scanParquet(task, footers);
  },
  (outcome) => outcome.sample.map((s) => s.buffer as ArrayBuffer),
);
