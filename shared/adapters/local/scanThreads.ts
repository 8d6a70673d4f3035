// Worker threads for the profile's column scans (profileScanWorker.ts), one per stream: each runs
// one batch at a time; `close` ends them. Started from the compiled CLI the worker is its .js
// file; from the sources (tests, `BQX_TSX=1`), its .ts file through tsx.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ScanOutcome, ScanTask } from './parquetScan.js';

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

export class ScanThreads {
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly all: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (o: ScanOutcome) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Why no scan can run any more: a thread failed or exited, or the pool was closed. */
  private broken: Error | undefined;

  constructor(count: number) {
    const here = new URL(import.meta.url);
    const source = here.pathname.endsWith('.ts');
    const entry = new URL(source ? './profileScanWorker.ts' : './profileScanWorker.js', here);
    // From the sources: a bootstrap registers tsx in the thread first (tsx's `--import` entry
    // registers itself in the main thread only on Node 20).
    const bootstrap = source ? `import(${JSON.stringify(tsxApi())}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })` : undefined;
    for (let i = 0; i < count; i++) {
      const worker = bootstrap ? new Worker(bootstrap, { eval: true }) : new Worker(entry);
      worker.on('message', ({ id, outcome, error }: { id: number; outcome?: ScanOutcome; error?: string }) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        if (error !== undefined) p?.reject(new Error(`profile scan thread: ${error}`));
        else p?.resolve(outcome!);
      });
      // A thread that fails or exits fails every scan under way and every later one: the profile
      // fails, nothing waits for an answer that cannot come.
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => this.fail(new Error(`profile scan thread exited (code ${code})`)));
      this.all.push(worker);
      this.idle.push(worker);
    }
  }

  private fail(error: Error): void {
    this.broken ??= error;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(this.broken);
    }
  }

  async scan(task: ScanTask): Promise<ScanOutcome> {
    if (this.broken) throw this.broken;
    const worker = this.idle.pop() ?? (await new Promise<Worker>((resolve) => this.waiting.push(resolve)));
    try {
      if (this.broken) throw this.broken;
      const id = this.nextId++;
      return await new Promise<ScanOutcome>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ id, task });
      });
    } finally {
      const next = this.waiting.shift();
      if (next) next(worker);
      else this.idle.push(worker);
    }
  }

  async close(): Promise<void> {
    this.fail(new Error('the profile scan threads were closed'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
