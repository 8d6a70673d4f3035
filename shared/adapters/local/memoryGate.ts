// A budget of megabytes shared by concurrent tasks: a task waits until its estimate fits beside
// the ones running (a task larger than the whole budget runs alone). The embedded extracts use it
// so that two wide tables are not sorted and written at once: DuckDB's memory limit alone let the
// extract phase reach 2.4 GB of RSS with a 2 GiB setting (parquet writer buffers, allocator).

export class MemoryGate {
  private used = 0;
  private readonly waiting: { mb: number; go: () => void }[] = [];

  constructor(readonly budgetMb: number) {}

  async run<T>(estimateMb: number, body: () => Promise<T>): Promise<T> {
    const mb = Math.max(1, Math.min(estimateMb, this.budgetMb));
    if (!this.fits(mb) || this.waiting.length > 0) await new Promise<void>((go) => this.waiting.push({ mb, go }));
    else this.used += mb;
    try {
      return await body();
    } finally {
      this.used -= mb;
      this.wake();
    }
  }

  private fits(mb: number): boolean {
    return this.used === 0 || this.used + mb <= this.budgetMb;
  }

  /** Starts waiting tasks in arrival order while they fit (first come, first served: none starves). */
  private wake(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.mb)) {
      const next = this.waiting.shift()!;
      this.used += next.mb;
      next.go();
    }
  }
}
