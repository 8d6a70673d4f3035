// What this machine charges to touch memory for the first time, written with a bench's results.
// On the virtual machine these benches ran on, a 4 KB page not used recently cost about 11 µs at
// its first touch (README, "This machine's memory"): a step that writes gigabytes then takes
// seconds more or less depending on whether the kernel hands it pages freed just before, and the
// ratios against a full build move with it. Reading a ratio needs this figure beside it.

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
