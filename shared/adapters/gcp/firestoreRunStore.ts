// The run store port on Firestore (native mode). Documents:
//   runs/{runId}                        the RunRecord, written only when the run changes
//   runs/{runId}/checkpoints/{feature}  one per landed checkpoint, made with create() (so once)
//   pairs/{pair}                        { activeRunId, lastRunId }: one active run per pair
//   refusals/{requestId}                why startRun refused a request (its message id), for the CLI;
//                                       `expireAt` 30 days on, the field terraform/ sets a TTL policy on
// No document takes a write from every landing: counting is a count() over the checkpoints.
// FIRESTORE_EMULATOR_HOST is honoured by the client.
//
// lastRun() queries runs by pair ordered by createdAt, which needs a composite index on the `runs`
// collection: (pair ASC, createdAt DESC). The emulator does not need it; a project does.

import type { DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
import { ConflictError, NotFoundError, assertIdentifier, assertRunId, storedRequestId } from '../../naming.js';
import { TERMINAL_STATES, refusalExpiry, type CheckpointRecord, type Refusal, type RunRecord, type RunStore } from '../../ports.js';

const ALREADY_EXISTS = 6;
const ACTIVE_STATES = ['extracting', 'merging'] as const;
const TRANSACTION_ATTEMPTS = 20;

const isTerminal = (run: RunRecord) => TERMINAL_STATES.includes(run.state);

interface PairDoc {
  activeRunId: string | null;
  lastRunId?: string;
}

/** Firestore refuses `undefined` fields: a JSON round trip drops them (records are plain JSON). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export class PairBusyError extends ConflictError {
  constructor(readonly pair: string, readonly activeRunId: string, runId: string) {
    super(`run ${runId} cannot be reopened: pair ${pair} has another active run, ${activeRunId}`);
    this.name = 'PairBusyError';
  }
}

export class FirestoreRunStore implements RunStore {
  constructor(private readonly db: Firestore) {}

  async createRun(run: RunRecord): Promise<{ created: boolean; run: RunRecord }> {
    const runRef = this.runRef(run.runId);
    const pairRef = this.pairRef(run.pair);
    return this.db.runTransaction(
      async (tx) => {
        const [pairSnap, runSnap] = await Promise.all([tx.get(pairRef), tx.get(runRef)]);
        const active = await this.activeIn(tx, pairSnap.data() as PairDoc | undefined);
        if (active) return { created: false, run: active };
        if (runSnap.exists) return { created: false, run: runSnap.data() as RunRecord };
        tx.create(runRef, plain(run));
        tx.set(pairRef, { activeRunId: run.runId, lastRunId: run.runId } satisfies PairDoc);
        return { created: true, run };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const snap = await this.runRef(runId).get();
    return snap.exists ? (snap.data() as RunRecord) : undefined;
  }

  async activeRun(pair: string): Promise<RunRecord | undefined> {
    const doc = (await this.pairRef(pair).get()).data() as PairDoc | undefined;
    if (!doc?.activeRunId) return undefined;
    const run = await this.getRun(doc.activeRunId);
    return run && !isTerminal(run) ? run : undefined;
  }

  async lastRun(pair: string): Promise<RunRecord | undefined> {
    assertIdentifier(pair, 'pair');
    const snap = await this.db.collection('runs').where('pair', '==', pair).orderBy('createdAt', 'desc').limit(1).get();
    return snap.empty ? undefined : (snap.docs[0]!.data() as RunRecord);
  }

  /** One equality filter (no composite index needed); sorted here. */
  async listRuns(pair: string): Promise<RunRecord[]> {
    assertIdentifier(pair, 'pair');
    const snap = await this.db.collection('runs').where('pair', '==', pair).get();
    return snap.docs.map((d) => d.data() as RunRecord).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  async listActiveRuns(): Promise<RunRecord[]> {
    const snap = await this.db.collection('runs').where('state', 'in', [...ACTIVE_STATES]).get();
    return snap.docs.map((d) => d.data() as RunRecord).sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  async updateRun(runId: string, change: (run: RunRecord) => RunRecord | undefined): Promise<{ run: RunRecord; changed: boolean }> {
    const runRef = this.runRef(runId);
    return this.db.runTransaction(
      async (tx) => {
        // All reads come before any write, as a Firestore transaction requires.
        const runSnap = await tx.get(runRef);
        if (!runSnap.exists) throw new NotFoundError(`run ${runId} not found`);
        const current = runSnap.data() as RunRecord;
        const pairRef = this.pairRef(current.pair);
        const pair = (await tx.get(pairRef)).data() as PairDoc | undefined;
        const next = change(structuredClone(current));
        if (!next) return { run: current, changed: false };
        if (next.runId !== current.runId || next.pair !== current.pair) throw new Error(`run ${runId}: a change may not alter its runId or pair`);

        if (!isTerminal(current) && isTerminal(next)) {
          if (pair?.activeRunId === runId) tx.set(pairRef, { ...pair, activeRunId: null });
        } else if (isTerminal(current) && !isTerminal(next)) {
          const other = pair?.activeRunId && pair.activeRunId !== runId ? await this.activeIn(tx, pair) : undefined;
          if (other) throw new PairBusyError(current.pair, other.runId, runId);
          tx.set(pairRef, { activeRunId: runId, lastRunId: pair?.lastRunId ?? runId } satisfies PairDoc);
        }
        tx.set(runRef, plain(next));
        return { run: next, changed: true };
      },
      { maxAttempts: TRANSACTION_ATTEMPTS },
    );
  }

  async claimOnce(runId: string, claim: string): Promise<boolean> {
    try {
      await this.runRef(runId).collection('claims').doc(assertIdentifier(claim, 'claim')).create({ at: new Date().toISOString() });
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === ALREADY_EXISTS) return false;
      throw error;
    }
  }

  async recordRefusal(refusal: Refusal): Promise<void> {
    // A Date is stored as a Firestore timestamp, the type a TTL policy deletes by.
    await this.refusalRef(refusal.requestId).set({ ...plain(refusal), expireAt: new Date(refusalExpiry(refusal)) });
  }

  async getRefusal(requestId: string): Promise<Refusal | undefined> {
    const snap = await this.refusalRef(requestId).get();
    if (!snap.exists) return undefined;
    const { requestId: id, pair, reason, at } = snap.data() as Refusal;
    return { requestId: id, pair, reason, at };
  }

  async recordCheckpoint(record: CheckpointRecord): Promise<boolean> {
    try {
      await this.checkpointRef(record.runId, record.feature).create(plain(record));
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === ALREADY_EXISTS) return false;
      throw error;
    }
  }

  async countCheckpoints(runId: string): Promise<number> {
    const snap = await this.checkpoints(runId).count().get();
    return snap.data().count;
  }

  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    const snap = await this.checkpoints(runId).get();
    return snap.docs.map((d) => d.data() as CheckpointRecord).sort((a, b) => (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
  }

  async getCheckpoint(runId: string, feature: string): Promise<CheckpointRecord | undefined> {
    const snap = await this.checkpointRef(runId, feature).get();
    return snap.exists ? (snap.data() as CheckpointRecord) : undefined;
  }

  async deleteCheckpoint(runId: string, feature: string): Promise<void> {
    await this.checkpointRef(runId, feature).delete();
  }

  async close(): Promise<void> {
    await this.db.terminate();
  }

  /** The run a pair document names, read in the transaction, if it is still active. */
  private async activeIn(tx: Transaction, pair: PairDoc | undefined): Promise<RunRecord | undefined> {
    if (!pair?.activeRunId) return undefined;
    const snap = await tx.get(this.runRef(pair.activeRunId));
    const run = snap.exists ? (snap.data() as RunRecord) : undefined;
    return run && !isTerminal(run) ? run : undefined;
  }

  private refusalRef(requestId: string): DocumentReference {
    return this.db.collection('refusals').doc(storedRequestId(requestId));
  }

  private runRef(runId: string): DocumentReference {
    return this.db.collection('runs').doc(assertRunId(runId));
  }

  private pairRef(pair: string): DocumentReference {
    return this.db.collection('pairs').doc(assertIdentifier(pair, 'pair'));
  }

  private checkpoints(runId: string) {
    return this.runRef(runId).collection('checkpoints');
  }

  private checkpointRef(runId: string, feature: string): DocumentReference {
    return this.checkpoints(runId).doc(assertIdentifier(feature, 'feature'));
  }
}
