// DuckDB's thread pool while many small statements run side by side. A statement over one row
// group (a demo table, a feature's extract at demo size) runs on one thread: the thread that
// called it. With N such callers at once, DuckDB's own pool (threads - 1 background threads) only
// competes with them for the cores, spinning on its task queue and locks: in perf, a tenth of the
// demo build's CPU, and the extract phase used a third more CPU than with the pool shrunk. So while
// callers run, the pool is cut to what the cores leave them (at least 1: the caller's own thread),
// and given back when the last one ends. Changes are applied one at a time, in order, each to the
// state at that moment, so overlapping sessions cannot leave the pool at the wrong size.

export class CallerThreads {
  private active = 0;
  private callers = 1;
  private base: number | undefined;
  private current: number | undefined;
  private sync: Promise<void> = Promise.resolve();

  /** `setting` reads DuckDB's thread count; `apply` sets it (SET GLOBAL threads). */
  constructor(
    private readonly setting: () => Promise<number>,
    private readonly apply: (threads: number) => Promise<void>,
  ) {}

  /** Runs `body` as one of `callers` concurrent statements' sessions (see the file's comment). */
  async run<T>(callers: number, body: () => Promise<T>): Promise<T> {
    if (callers <= 1) return body();
    this.active++;
    this.callers = Math.max(this.active === 1 ? 1 : this.callers, callers);
    await this.resize();
    try {
      return await body();
    } finally {
      this.active--;
      await this.resize();
    }
  }

  /** The pool size while callers run: the cores DuckDB was opened with, less the callers' own threads. */
  static shrunk(base: number, callers: number): number {
    return Math.max(1, base - callers + 1);
  }

  private resize(): Promise<void> {
    this.sync = this.sync
      .then(async () => {
        this.base ??= await this.setting();
        const want = this.active > 0 ? CallerThreads.shrunk(this.base, this.callers) : this.base;
        if (want !== (this.current ?? this.base)) await this.apply(want);
        this.current = want;
      })
      .catch(() => {
        // Only a performance setting: a failed change leaves the pool as it was.
      });
    return this.sync;
  }
}
