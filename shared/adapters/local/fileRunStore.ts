// The embedded run store: one JSON file per run and per landed checkpoint, in a folder, so it
// survives a restart. Transactions hold a lock (in-process, plus a lock folder between processes);
// each write is a temp file renamed into place, and a checkpoint is created only if absent.
// The file system calls are synchronous behind the port's promises, as in folderStore.ts and for
// the same reason: small files on a local disk, where each promise call is a round trip through
// libuv's thread pool (a landed checkpoint makes about ten).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { assertIdentifier, assertRunId, storedRequestId } from '../../naming.js';
import { TERMINAL_STATES, refusalExpiry, type CheckpointRecord, type Refusal, type RunRecord, type RunStore } from '../../ports.js';
import { MadeFolders } from './madeFolders.js';

const isTerminal = (run: RunRecord) => TERMINAL_STATES.includes(run.state);

export interface FileRunStoreOptions {
  /**
   * No other process or store writes this folder: the embedded runtime holding the warehouse's
   * lock (one process per home). Each run's landed checkpoints are then listed once and counted
   * in memory: the chain counts them after every landing, and a listing of the run's folder each
   * time was about 0.4 s of the chain's thread in a 667-table extract, growing with the count.
   */
  soleWriter?: boolean;
}

export class FileRunStore implements RunStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly folders = new MadeFolders();
  /** Per run, the file names of its checkpoint records (soleWriter only). */
  private readonly landed = new Map<string, Set<string>>();

  constructor(
    readonly root: string,
    private readonly options: FileRunStoreOptions = {},
  ) {
    this.root = path.resolve(root);
  }

  async createRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    return this.transaction(async () => {
      const active = await this.activeRun(run.pair);
      if (active) return { created: false, run: active };
      await this.writeJson(this.runFile(run.runId), run);
      await this.writeJson(this.pairFile(run.pair), { activeRunId: run.runId, lastRunId: run.runId });
      return { created: true, run };
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.readJson<RunRecord>(this.runFile(runId));
  }

  async activeRun(pair: string): Promise<RunRecord | undefined> {
    const doc = await this.readJson<{ activeRunId?: string }>(this.pairFile(pair));
    if (!doc?.activeRunId) return undefined;
    const run = await this.getRun(doc.activeRunId);
    return run && !isTerminal(run) ? run : undefined;
  }

  async lastRun(pair: string): Promise<RunRecord | undefined> {
    const doc = await this.readJson<{ lastRunId?: string }>(this.pairFile(pair));
    return doc?.lastRunId ? this.getRun(doc.lastRunId) : undefined;
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    return (await this.allRuns()).filter((r) => !isTerminal(r));
  }

  async listRuns(pair: string): Promise<RunRecord[]> {
    assertIdentifier(pair, 'pair');
    // Run ids start with their pair: only that pair's files are read.
    const runs = await this.allRuns(`${pair}-`);
    return runs.filter((r) => r.pair === pair).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  private async allRuns(prefix = ''): Promise<RunRecord[]> {
    const dir = path.join(this.root, 'runs');
    const names = folderNames(dir);
    const runs = names.filter((n) => n.startsWith(prefix) && n.endsWith('.json')).map((n) => this.readJson<RunRecord>(path.join(dir, n)));
    return runs.filter((r): r is RunRecord => r !== undefined);
  }

  async updateRun(runId: string, change: (run: RunRecord) => RunRecord | undefined): Promise<{ run: RunRecord; changed: boolean }> {
    return this.transaction(async () => {
      const current = await this.getRun(runId);
      if (!current) throw new Error(`run ${runId} not found`);
      const next = change(structuredClone(current));
      if (!next) return { run: current, changed: false };
      if (isTerminal(current) && !isTerminal(next)) {
        // Reopening a finished run claims its pair again, unless another run holds it. The pair's
        // last run stays the one started last (as the Firestore store keeps it): a rerun of an
        // older run made that one the pair's "last", so `bqx verify <pair>` checked it, and after
        // `bqx gc --keep 1` (which keeps the newest) found it removed.
        const active = await this.activeRun(current.pair);
        if (active && active.runId !== runId) throw new Error(`pair ${current.pair} has another active run ${active.runId}`);
        const doc = await this.readJson<{ lastRunId?: string }>(this.pairFile(current.pair));
        await this.writeJson(this.pairFile(current.pair), { activeRunId: runId, lastRunId: doc?.lastRunId ?? runId });
      }
      await this.writeJson(this.runFile(runId), next);
      if (!isTerminal(current) && isTerminal(next)) {
        const doc = await this.readJson<{ activeRunId?: string; lastRunId?: string }>(this.pairFile(current.pair));
        if (doc?.activeRunId === runId) await this.writeJson(this.pairFile(current.pair), { lastRunId: doc.lastRunId ?? runId });
      }
      return { run: next, changed: true };
    });
  }

  async claimOnce(runId: string, claim: string): Promise<boolean> {
    const file = path.join(this.root, 'claims', assertRunId(runId), `${assertIdentifier(claim, 'claim')}.json`);
    return this.createIfAbsent(file, { at: new Date().toISOString() });
  }

  async recordCheckpoint(record: CheckpointRecord): Promise<boolean> {
    const created = await this.createIfAbsent(this.checkpointFile(record.runId, record.feature), record);
    if (created) this.landedOf(record.runId)?.add(`${record.feature}.json`);
    return created;
  }

  /** Writes `value` to `file` unless it exists, atomically; true when this call created it. */
  private async createIfAbsent(file: string, value: unknown): Promise<boolean> {
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    this.folders.into(path.dirname(file), () => fs.writeFileSync(temp, JSON.stringify(value)));
    try {
      fs.linkSync(temp, file); // fails if present: create-if-absent, atomically
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }

  async countCheckpoints(runId: string): Promise<number> {
    return (this.landedOf(runId) ?? recordNames(this.checkpointDir(runId))).size;
  }

  /** The run's checkpoint record names, listed once and kept up to date here; undefined unless this store is the sole writer. */
  private landedOf(runId: string): Set<string> | undefined {
    if (!this.options.soleWriter) return undefined;
    let names = this.landed.get(runId);
    if (!names) this.landed.set(runId, (names = recordNames(this.checkpointDir(runId))));
    return names;
  }

  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    const dir = this.checkpointDir(runId);
    const names = [...recordNames(dir)].sort();
    const records = names.map((n) => this.readJson<CheckpointRecord>(path.join(dir, n)));
    return records.filter((r): r is CheckpointRecord => r !== undefined);
  }

  async getCheckpoint(runId: string, feature: string): Promise<CheckpointRecord | undefined> {
    return this.readJson<CheckpointRecord>(this.checkpointFile(runId, feature));
  }

  async recordRefusal(refusal: Refusal): Promise<void> {
    await this.writeJson(this.refusalFile(refusal.requestId), refusal);
    this.removeExpiredRefusals(Date.parse(refusal.at));
  }

  /** What Firestore's TTL policy does on Google Cloud: refusals expired by `now` go. */
  private removeExpiredRefusals(now: number): void {
    const dir = path.join(this.root, 'refusals');
    for (const name of recordNames(dir)) {
      const refusal = this.readJson<Refusal>(path.join(dir, name));
      if (refusal && refusalExpiry(refusal) < now) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  async getRefusal(requestId: string): Promise<Refusal | undefined> {
    return this.readJson<Refusal>(this.refusalFile(requestId));
  }

  async deleteCheckpoint(runId: string, feature: string): Promise<void> {
    fs.rmSync(this.checkpointFile(runId, feature), { force: true });
    this.landed.get(runId)?.delete(`${feature}.json`);
    // The run's folder goes with its last record (retention deletes them all): left empty, a folder
    // that held 667 records keeps its 36 KB, one more for every run ever removed. A record written
    // into it later makes it again (MadeFolders).
    try {
      fs.rmdirSync(this.checkpointDir(runId));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw error;
    }
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
  }

  private runFile = (runId: string) => path.join(this.root, 'runs', `${assertRunId(runId)}.json`);
  private pairFile = (pair: string) => path.join(this.root, 'pairs', `${assertIdentifier(pair, 'pair')}.json`);
  private refusalFile = (requestId: string) => path.join(this.root, 'refusals', `${storedRequestId(requestId)}.json`);
  private checkpointDir = (runId: string) => path.join(this.root, 'checkpoints', assertRunId(runId));
  private checkpointFile = (runId: string, feature: string) => path.join(this.checkpointDir(runId), `${assertIdentifier(feature, 'feature')}.json`);

  private readJson<T>(file: string): T | undefined {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async writeJson(file: string, value: unknown): Promise<void> {
    const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    this.folders.into(path.dirname(file), () => fs.writeFileSync(temp, JSON.stringify(value, null, 1)));
    fs.renameSync(temp, file);
  }

  /** Runs `body` alone: queued behind other transactions here, and holding the lock folder. */
  private transaction<T>(body: () => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const release = await this.lockFolder();
      try {
        return await body();
      } finally {
        await release();
      }
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async lockFolder(): Promise<() => Promise<void>> {
    const lock = path.join(this.root, '.lock');
    fs.mkdirSync(this.root, { recursive: true });
    for (let attempt = 0; ; attempt++) {
      try {
        fs.mkdirSync(lock);
        fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
        return async () => fs.rmSync(lock, { recursive: true, force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // A lock left by a process that died is broken; a live holder is waited for.
        const pid = Number(readOr(path.join(lock, 'pid'), 'NaN'));
        if (Number.isInteger(pid) && !alive(pid)) fs.rmSync(lock, { recursive: true, force: true });
        else await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt)));
      }
    }
  }
}

/** The checkpoint records in a run's folder (not the temp files of a write under way). */
function recordNames(dir: string): Set<string> {
  return new Set(folderNames(dir).filter((n) => n.endsWith('.json')));
}

/** A folder's entry names; none when it does not exist (or cannot be read). */
function folderNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
