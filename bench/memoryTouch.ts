// What this machine charges to touch memory for the first time, written with a bench's results,
// and the wait that puts every contender in the same memory state before it starts.
// On the virtual machine these benches ran on, a 4 KB page not used recently cost about 11 µs at
// its first touch (README, "This machine's memory"): its kernel hands memory back to the host a few
// seconds after it is freed (free page reporting, in 2 MB blocks), and the host gives it back at a
// fault a page. A step that starts right after a deletion writes into pages still held, one that
// starts later into pages handed back: seconds apart for a step that writes gigabytes.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const PAGE = 4096;

/**
 * Microseconds per 4 KB page to touch `bytes` of memory freshly allocated (one byte written per
 * page, so the time is the page faults', not the writing's). The buffer is dropped afterwards.
 */
export function pageTouchMicros(bytes = 128 * 2 ** 20): number {
  const buffer = Buffer.allocUnsafeSlow(bytes);
  const began = process.hrtime.bigint();
  for (let at = 0; at < bytes; at += PAGE) buffer[at] = 1;
  const micros = Number(process.hrtime.bigint() - began) / 1e3;
  return Math.round((micros / (bytes / PAGE)) * 100) / 100;
}

/** The log line for it. */
export function describePageTouch(micros: number): string {
  return `fresh memory: ${micros} µs a 4 KB page at its first touch (where it is several µs, a step that writes gigabytes moves by seconds: README, "This machine's memory")`;
}

/** KiB of freed memory the kernel has reported to its host so far (this machine's kernel exposes the count; most do not). */
const REPORTED_KIB = '/sys/module/page_reporting/parameters/reported_kib';

function reportedKib(): number | undefined {
  try {
    const kib = Number(readFileSync(REPORTED_KIB, 'utf8').trim());
    return Number.isFinite(kib) ? kib : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the kernel says how much freed memory it has handed back to its host. */
export const reportsFreedMemory = (): boolean => reportedKib() !== undefined;

export interface MemorySettled {
  /** Seconds waited. */
  waited_s: number;
  /** MB the kernel handed back to its host meanwhile. */
  handed_back_mb: number;
}

/** The count unchanged this long: the reporting worker runs about every 2 s while there is freed memory. */
const QUIET_MS = 3000;
const POLL_MS = 100;
const MAX_WAIT_MS = 30_000;

/**
 * Waits until the kernel has handed back to its host the memory freed before this call (its count
 * of reported memory unchanged for QUIET_MS, at most MAX_WAIT_MS), so that whatever runs next
 * starts with the memory it writes into in the same state as every other contender: without it,
 * on this machine, a contender that started writing at once took freshly freed pages (the floor:
 * 0.8 s for 2.6 GB) and one that read first met pages handed back meanwhile (the merge: 2.5-3.2 s).
 * Undefined where the kernel does not say (nothing to wait for: freed memory stays the guest's).
 */
export async function settleFreedMemory(): Promise<MemorySettled | undefined> {
  const first = reportedKib();
  if (first === undefined) return undefined;
  const began = Date.now();
  let [last, since] = [first, began];
  while (Date.now() - since < QUIET_MS && Date.now() - began < MAX_WAIT_MS) {
    await sleep(POLL_MS);
    const now = reportedKib() ?? last;
    if (now !== last) [last, since] = [now, Date.now()];
  }
  return { waited_s: Math.round((Date.now() - began) / 100) / 10, handed_back_mb: Math.round((last - first) / 1024) };
}

/**
 * Before a timed step: the dirty pages the step before left written back (no step pays for
 * another's write-back), then the memory freed meanwhile handed back to the host where the kernel
 * does that (settleFreedMemory), so every step starts in the same memory state.
 */
export async function settleBeforeStep(): Promise<MemorySettled | undefined> {
  execFileSync('sync');
  return settleFreedMemory();
}

/** The log line for a wait. */
export function describeSettled(settled: MemorySettled | undefined): string {
  return settled ? `, after ${settled.waited_s} s for the kernel to hand back ${settled.handed_back_mb} MB of freed memory` : '';
}
