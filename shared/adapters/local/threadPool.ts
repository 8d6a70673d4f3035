// Worker threads of this process, each running one task at a time from a worker module of this
// folder (profileScanWorker.ts, keyedWriteWorker.ts); `close` ends them. Started from the compiled
// CLI the worker is its .js file. From the sources (tests) it is the compiled CLI's .js file as
// well while that build is as new as every source (shared/cli/compiled.cjs), else (and with
// `BQX_TSX=1`) its .ts file through tsx: a thread that registers tsx took about 660 ms to answer its
// first task against 190 ms compiled (tsx's loader runs on a thread of its own and transforms
// every module), once per pool, and the tests start a pool in nearly every run they make.
// A thread holds the process open only while it runs a task: a pool left open never delays exit.
// A worker module answers its tasks through `serveTasks`, the other side of the same messages.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parentPort, Worker, type TransferListItem } from 'node:worker_threads';

/**
 * The ES module of tsx's registration API, from tsx's own package exports (`tsx/esm/api`'s import
 * condition; its CommonJS twin resolves its loader wrongly from a thread). Resolved through
 * require: under mocha this module itself runs as CommonJS, without import.meta.resolve.
 */
function tsxApi(): string {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  return new URL(exports['./esm/api']!.import.default, pathToFileURL(manifest)).href;
}

/** The repository these sources are in (this file is shared/adapters/local/threadPool.ts). */
const SOURCE_ROOT = new URL('../../../', import.meta.url);

/** Whether the compiled CLI is as new as the sources, asked once per process (it reads every source's time). */
let compiledFresh: boolean | undefined;

/** The file a pool's threads load for worker module `module`, and whether they must register tsx first. */
export function workerModule(module: string): { url: URL; tsx: boolean } {
  const here = new URL(import.meta.url);
  if (!here.pathname.endsWith('.ts')) return { url: new URL(`./${module}.js`, here), tsx: false };
  if (!process.env.BQX_TSX) {
    // Required here, not imported: the compiled modules have no copy of it (they never ask).
    const { BUILD_DIR, compiledMain } = createRequire(import.meta.url)('../../cli/compiled.cjs') as typeof import('../../cli/compiled.cjs');
    compiledFresh ??= compiledMain(fileURLToPath(SOURCE_ROOT)) !== null;
    if (compiledFresh) return { url: new URL(`${BUILD_DIR.split(path.sep).join('/')}/shared/adapters/local/${module}.js`, SOURCE_ROOT), tsx: false };
  }
  return { url: new URL(`./${module}.ts`, here), tsx: true };
}

/** What a worker module posts back for task `id`: its outcome, or the error it threw. */
export interface ThreadReply<Outcome> {
  id: number;
  outcome?: Outcome;
  error?: string;
}

/**
 * The worker module's side: answers each task posted to this thread with `run`'s outcome (its
 * `transfer` buffers moved rather than copied), or with the error it threw.
 */
export function serveTasks<Task, Outcome>(run: (task: Task) => Outcome, transfer: (outcome: Outcome) => TransferListItem[] = () => []): void {
  parentPort!.on('message', ({ id, task }: { id: number; task: Task }) => {
    try {
      const outcome = run(task);
      parentPort!.postMessage({ id, outcome } satisfies ThreadReply<Outcome>, transfer(outcome));
    } catch (e) {
      parentPort!.postMessage({ id, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) } satisfies ThreadReply<Outcome>);
    }
  });
}

export class ThreadPool<Task, Outcome> {
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly all: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (o: Outcome) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Why no task can run any more: a thread failed or exited, or the pool was closed. */
  private broken: Error | undefined;

  /** `module`: the worker module's name in this folder, without extension; `what` names the threads in errors. */
  constructor(module: string, count: number, private readonly what: string) {
    const entry = workerModule(module);
    // From the sources with no current build: a bootstrap registers tsx in the thread first
    // (tsx's `--import` entry registers itself in the main thread only on Node 20).
    const bootstrap = entry.tsx ? `import(${JSON.stringify(tsxApi())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.url.href)}); })` : undefined;
    for (let i = 0; i < count; i++) {
      const worker = bootstrap ? new Worker(bootstrap, { eval: true }) : new Worker(entry.url);
      worker.unref();
      worker.on('message', ({ id, outcome, error }: ThreadReply<Outcome>) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        if (error !== undefined) p?.reject(new Error(`${what} thread: ${error}`));
        else p?.resolve(outcome!);
      });
      // A thread that fails or exits fails every task under way and every later one: nothing
      // waits for an answer that cannot come.
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => this.fail(new Error(`${what} thread exited (code ${code})`)));
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  /** Whether a thread failed or exited, or the pool was closed: no task can run on it any more. */
  get failed(): boolean {
    return this.broken !== undefined;
  }

  private fail(error: Error): void {
    this.broken ??= error;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(this.broken);
    }
  }

  /** Runs `task` on the next idle thread; `transfer`: buffers moved rather than copied. */
  async run(task: Task, transfer: TransferListItem[] = []): Promise<Outcome> {
    if (this.broken) throw this.broken;
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    worker.ref();
    try {
      if (this.broken) throw this.broken;
      const id = this.nextId++;
      return await new Promise<Outcome>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ id, task }, transfer);
      });
    } finally {
      worker.unref();
      const next = this.waiting.shift();
      if (next) next(worker);
      else this.idle.push(worker);
    }
  }

  async close(): Promise<void> {
    this.fail(new Error(`the ${this.what} threads were closed`));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
