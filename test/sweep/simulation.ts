// One seed decides everything a simulated run leaves to chance (STYLE.md, "Deterministic
// simulation"): which due message is delivered next, how many copies of each, how late, and what
// time it is. The clock is fake: it only moves when the bus has nothing due, or when told to.

import { mulberry32, type BusMessage, type BusScheduler } from '../../shared/adapters/local/bus.js';
import type { Clock } from '../../shared/ports.js';

export interface ScheduleShape {
  /** Deliver due messages in a seeded random order (else first due, first delivered). */
  shuffle: boolean;
  /** Most copies of one message (1 = exactly once unless a handler fails). */
  maxCopies: number;
  /** Largest extra delay of a copy or a retry, in ms. */
  maxDelayMs: number;
  /** Time a delivery takes, in ms: fixed, or drawn up to this when `shuffle` is on. */
  handlingMs: number;
}

/** First due, first delivered; once each; 50 ms a delivery. */
export const ORDERLY: ScheduleShape = { shuffle: false, maxCopies: 1, maxDelayMs: 0, handlingMs: 50 };
/** Any order, 1 to 3 copies, up to 2 s late, 1 to 100 ms a delivery. */
export const CHAOTIC: ScheduleShape = { shuffle: true, maxCopies: 3, maxDelayMs: 2_000, handlingMs: 100 };

/** A fixed start time, so runs under the same seed produce the same times. */
const EPOCH = Date.parse('2026-01-05T00:00:00Z');

export class Simulation implements BusScheduler {
  readonly random: () => number;
  private ms = EPOCH;

  constructor(readonly seed: number, readonly shape: ScheduleShape = ORDERLY) {
    this.random = mulberry32(seed);
  }

  now(): number {
    return this.ms;
  }

  /** The Clock port for the chain's handlers. */
  readonly clock: Clock = { now: () => new Date(this.ms) };

  advanceTo(ms: number): void {
    this.ms = Math.max(this.ms, ms);
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  pick(ready: number): number {
    return this.shape.shuffle ? Math.floor(this.random() * ready) : 0;
  }

  copies(_message: BusMessage): number {
    return this.shape.maxCopies <= 1 ? 1 : 1 + Math.floor(this.random() * this.shape.maxCopies);
  }

  delayMs(_message: BusMessage): number {
    return this.shape.maxDelayMs <= 0 ? 0 : Math.floor(this.random() * this.shape.maxDelayMs);
  }

  handlingMs(_message: BusMessage): number {
    return this.shape.shuffle ? 1 + Math.floor(this.random() * this.shape.handlingMs) : this.shape.handlingMs;
  }

  /** A whole number in [0, n). */
  below(n: number): number {
    return Math.floor(this.random() * n);
  }
}
