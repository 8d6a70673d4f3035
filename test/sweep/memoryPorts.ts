// In-memory stand-ins for the embedded run store and bucket folders, with the same semantics
// (transactions one at a time, create-if-absent records, finalize notifications after a write).
// The sweep plays over a thousand runs: on files each costs seconds of waiting on a shared disk,
// in memory a fraction of that. The run store passes the same RunStore contract as the file store
// (memoryRunStore.test.ts); `npm run sweep -- --stores files` plays the sweep on the real ones.

import { storedRequestId } from '../../shared/naming.js';
import { TERMINAL_STATES, type CheckpointRecord, type FinalizedObject, type ObjectData, type Refusal, type RunRecord, type RunStore } from '../../shared/ports.js';
import { MemoryObjectStore } from '../gcp/memoryStore.js';

const isTerminal = (run: RunRecord) => TERMINAL_STATES.includes(run.state);


export class MemoryRunStore implements RunStore {
  /** Documents by path, laid out as the file store lays out its files. */
  readonly docs = new Map<string, unknown>();
  private chain: Promise<unknown> = Promise.resolve();

  async createRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    return this.transaction(async () => {
      const active = await this.activeRun(run.pair);
      if (active) return { created: false, run: active };
      this.put(`runs/${run.runId}`, run);
      this.put(`pairs/${run.pair}`, { activeRunId: run.runId, lastRunId: run.runId });
      return { created: true, run: structuredClone(run) };
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    return this.get<RunRecord>(`runs/${runId}`);
  }

  async activeRun(pair: string): Promise<RunRecord | undefined> {
    const doc = this.get<{ activeRunId?: string }>(`pairs/${pair}`);
    const run = doc?.activeRunId ? await this.getRun(doc.activeRunId) : undefined;
    return run && !isTerminal(run) ? run : undefined;
  }

  async lastRun(pair: string): Promise<RunRecord | undefined> {
    const doc = this.get<{ lastRunId?: string }>(`pairs/${pair}`);
    return doc?.lastRunId ? this.getRun(doc.lastRunId) : undefined;
  }

  async listRuns(pair: string): Promise<RunRecord[]> {
    // Oldest first, as the file store and Firestore order them.
    return this.allRuns()
      .filter((r) => r.pair === pair)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    return this.allRuns().filter((r) => !isTerminal(r));
  }

  private allRuns(): RunRecord[] {
    return [...this.docs.keys()].filter((k) => k.startsWith('runs/')).map((k) => this.get<RunRecord>(k)!);
  }

  async updateRun(runId: string, change: (run: RunRecord) => RunRecord | undefined): Promise<{ run: RunRecord; changed: boolean }> {
    return this.transaction(async () => {
      const current = await this.getRun(runId);
      if (!current) throw new Error(`run ${runId} not found`);
      const next = change(structuredClone(current));
      if (!next) return { run: current, changed: false };
      if (isTerminal(current) && !isTerminal(next)) {
        const active = await this.activeRun(current.pair);
        if (active && active.runId !== runId) throw new Error(`pair ${current.pair} has another active run ${active.runId}`);
        const doc = this.get<{ lastRunId?: string }>(`pairs/${current.pair}`);
        this.put(`pairs/${current.pair}`, { activeRunId: runId, lastRunId: doc?.lastRunId ?? runId });
      }
      this.put(`runs/${runId}`, next);
      if (!isTerminal(current) && isTerminal(next)) {
        const doc = this.get<{ activeRunId?: string; lastRunId?: string }>(`pairs/${current.pair}`);
        if (doc?.activeRunId === runId) this.put(`pairs/${current.pair}`, { lastRunId: doc.lastRunId ?? runId });
      }
      return { run: structuredClone(next), changed: true };
    });
  }

  async claimOnce(runId: string, claim: string): Promise<boolean> {
    return this.createIfAbsent(`claims/${runId}/${claim}`, { claim });
  }

  async recordCheckpoint(record: CheckpointRecord): Promise<boolean> {
    return this.createIfAbsent(`checkpoints/${record.runId}/${record.feature}`, record);
  }

  async countCheckpoints(runId: string): Promise<number> {
    const prefix = `checkpoints/${runId}/`;
    let n = 0;
    for (const k of this.docs.keys()) if (k.startsWith(prefix)) n++;
    return n;
  }

  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    const prefix = `checkpoints/${runId}/`;
    return [...this.docs.keys()].filter((k) => k.startsWith(prefix)).sort().map((k) => this.get<CheckpointRecord>(k)!);
  }

  async getCheckpoint(runId: string, feature: string): Promise<CheckpointRecord | undefined> {
    return this.get<CheckpointRecord>(`checkpoints/${runId}/${feature}`);
  }

  async deleteCheckpoint(runId: string, feature: string): Promise<void> {
    this.docs.delete(`checkpoints/${runId}/${feature}`);
  }

  async recordRefusal(refusal: Refusal): Promise<void> {
    this.put(`refusals/${storedRequestId(refusal.requestId)}`, refusal);
  }

  async getRefusal(requestId: string): Promise<Refusal | undefined> {
    return this.get<Refusal>(`refusals/${storedRequestId(requestId)}`);
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
  }

  private createIfAbsent(key: string, value: unknown): boolean {
    if (this.docs.has(key)) return false;
    this.put(key, value);
    return true;
  }

  private get<T>(key: string): T | undefined {
    const value = this.docs.get(key);
    return value === undefined ? undefined : (structuredClone(value) as T);
  }

  private put(key: string, value: unknown): void {
    this.docs.set(key, structuredClone(value));
  }

  private transaction<T>(body: () => Promise<T>): Promise<T> {
    const run = this.chain.then(body);
    this.chain = run.catch(() => {});
    return run;
  }
}

/** A bucket in memory that sends a finalize notification for every object written, as a bucket does. */
export class NotifyingMemoryStore extends MemoryObjectStore {
  private listeners: ((object: FinalizedObject) => void)[] = [];

  onFinalize(listener: (object: FinalizedObject) => void): void {
    this.listeners.push(listener);
  }

  override async write(name: string, data: ObjectData, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const written = await super.write(name, data, options);
    if (written) for (const l of this.listeners) l({ bucket: this.bucket, name, size: (await this.size(name)) ?? 0 });
    return written;
  }
}
