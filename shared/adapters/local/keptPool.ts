// A thread pool kept between the jobs that use it, ended after the last (or once none has used it
// for `idleMs`). A refresh's
// profile measures its groups in two jobs (shared/profile/resumeByGroup.ts): with a pool each, the
// second started its threads again, and a thread takes about 0.2 s to load its modules and answer
// its first task on this machine.

import type { ThreadPool } from './threadPool.js';

export class KeptPool<Task, Outcome> {
  private pool: ThreadPool<Task, Outcome> | undefined;
  private users = 0;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly make: () => ThreadPool<Task, Outcome>,
    private readonly idleMs: number,
  ) {}

  /** The pool, started where there is none or the last one failed; give it back with `release`. */
  take(): ThreadPool<Task, Outcome> {
    clearTimeout(this.idle);
    if (this.pool?.failed) void this.pool.close();
    if (!this.pool || this.pool.failed) this.pool = this.make();
    this.users++;
    return this.pool;
  }

  /**
   * `keep`: another job follows at once, so the threads stay (for `idleMs` at most); else they end
   * now, their heaps given back before the work after the last job (kept a second after a refresh's
   * profile, they added about 60 MB to its peak).
   */
  release(keep: boolean): void {
    if (--this.users > 0) return;
    const pool = this.pool;
    if (!keep) {
      this.pool = undefined;
      void pool?.close();
      return;
    }
    this.idle = setTimeout(() => {
      if (this.users > 0 || this.pool !== pool) return;
      this.pool = undefined;
      void pool?.close();
    }, this.idleMs);
    this.idle.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.idle);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }
}
