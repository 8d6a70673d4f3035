// Identifier rules. Everything that reaches SQL or an object path passes through here first:
// pairs, table and column names, run ids, features. Values never do: they go in as parameters.

import { createHash } from 'node:crypto';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export const KEY_COLUMN = 'interval_time';

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A plain identifier: letters, digits and underscores, not starting with a digit, at most 128. */
export function isIdentifier(name: string): boolean {
  return PLAIN_IDENTIFIER.test(name);
}

export function assertIdentifier(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || !isIdentifier(name)) {
    throw new InputError(`${what} ${JSON.stringify(name)} is not a plain identifier (letters, digits, underscores)`);
  }
  return name;
}

export type Dialect = 'bigquery' | 'duckdb';

/** The one quoting function for SQL identifiers; refuses anything that is not plain. */
export function quoteIdent(name: string, dialect: Dialect): string {
  assertIdentifier(name, 'identifier');
  return dialect === 'bigquery' ? `\`${name}\`` : `"${name}"`;
}

/** All valid pairs for the configured currencies, base before quote in market-priority order. */
export function allPairs(currencies: readonly string[]): string[] {
  const pairs: string[] = [];
  currencies.forEach((base, i) => currencies.slice(i + 1).forEach((quote) => pairs.push(base + quote)));
  return pairs;
}

/** A pair is six lower-case letters: two different configured currencies, in market order. */
export function validatePair(pair: unknown, currencies: readonly string[]): string {
  if (typeof pair !== 'string' || !/^[a-z]{6}$/.test(pair)) {
    throw new InputError(`pair ${JSON.stringify(pair)} must be six lower-case letters, such as eurusd`);
  }
  if (!allPairs(currencies).includes(pair)) {
    const base = pair.slice(0, 3);
    const quote = pair.slice(3);
    const known = currencies.includes(base) && currencies.includes(quote);
    const hint = known && base !== quote ? ` (did you mean ${quote}${base}?)` : ` (currencies: ${currencies.join(', ')})`;
    throw new InputError(`unknown pair "${pair}"${hint}`);
  }
  return pair;
}

const RUN_ID = /^([a-z]{6})-(\d{8}t\d{6})-([a-z0-9]{6})$/;

const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Run ids carry their pair and start time, and are safe in paths, job ids and document ids. */
export function newRunId(pair: string, now: Date, random: () => number = Math.random): string {
  let suffix = '';
  for (let i = 0; i < 6; i++) suffix += RUN_ID_ALPHABET[Math.floor(random() * RUN_ID_ALPHABET.length)];
  return `${pair}-${runIdStamp(now)}-${suffix}`;
}

/**
 * The run id a request gets, the same on every delivery of it: the pair, the time the request was
 * published, and six characters of a digest of its message id. A redelivery after startRun died
 * (say, between writing the manifest and creating the run) resumes that run under the same id
 * instead of starting a second one and leaving the first one's manifest behind.
 */
export function requestRunId(pair: string, requestId: string, requestedAt: Date): string {
  let n = createHash('sha256').update(`${pair}\n${requestId}`).digest().readUIntBE(0, 6);
  let suffix = '';
  for (let i = 0; i < 6; i++, n = Math.floor(n / RUN_ID_ALPHABET.length)) suffix += RUN_ID_ALPHABET[n % RUN_ID_ALPHABET.length];
  return `${pair}-${runIdStamp(requestedAt)}-${suffix}`;
}

const runIdStamp = (at: Date) => at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').toLowerCase();

/** Whether `value` has a run id's shape (`eurusd-20250101t000000-abc123`). */
export function isRunId(value: string): boolean {
  return RUN_ID.test(value);
}

export function assertRunId(runId: unknown): string {
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) throw new InputError(`run id ${JSON.stringify(runId)} is not a run id`);
  return runId;
}

/** Request ids as run stores keep them (a Pub/Sub message id; embedded, a session and a number): a file or document name. */
export const REQUEST_ID = /^[A-Za-z0-9_-]{1,200}$/;

/** `requestId`, where a run store can keep a record under it (shared/ports.ts `Refusal`). */
export function storedRequestId(requestId: string): string {
  if (!REQUEST_ID.test(requestId)) throw new Error(`request id ${JSON.stringify(requestId.slice(0, 80))} is not one a store keeps`);
  return requestId;
}

export function pairOfRunId(runId: string): string {
  return assertRunId(runId).slice(0, 6);
}

// Object paths. The staging area holds checkpoints; the output area holds the training data.
// Both are built from validated parts only, and parsed back with the same rules.

export const MARKER_NAME = '_SUCCESS.json';
/** A single-file checkpoint uploaded by hand lands by itself, without a marker. */
export const HAND_UPLOAD_NAME = 'checkpoint.parquet';

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export const paths = {
  manifest: (runId: string) => `runs/${assertRunId(runId)}/manifest.json`,
  featureDir: (runId: string, feature: string) => `runs/${assertRunId(runId)}/features/${assertIdentifier(feature, 'feature')}/`,
  checkpointPart: (runId: string, feature: string, part: number) =>
    `${paths.featureDir(runId, feature)}part-${String(part).padStart(5, '0')}.parquet`,
  marker: (runId: string, feature: string) => `${paths.featureDir(runId, feature)}${MARKER_NAME}`,
  outputDir: (pair: string, runId: string) => `training/${pair}/${assertRunId(runId)}/`,
  /** A refresh's second merge (its shards whose label rows alone changed): a folder of its own, shard folders below. */
  outputRelabelledDir: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}relabelled/`,
  /** A time shard's folder: `shard-<YYYYMMDD of its calendar cell>/`, one per (shard, group) below. */
  outputShardDir: (pair: string, runId: string, shard: string) => `${paths.outputDir(pair, runId)}shard-${assertShardId(shard)}/`,
  outputShardGroupDir: (pair: string, runId: string, shard: string, group: number) =>
    `${paths.outputShardDir(pair, runId, shard)}group-${String(group).padStart(3, '0')}/`,
  outputShardGroupPart: (pair: string, runId: string, shard: string, group: number, part: number) => paths.shardGroupPart(paths.outputDir(pair, runId), shard, group, part),
  /** A merge's file of a (shard, group) under its output prefix (the run's folder, or its relabelled merge's). */
  shardGroupPart: (prefix: string, shard: string, group: number, part: number) =>
    `${prefix}shard-${assertShardId(shard)}/group-${String(group).padStart(3, '0')}/part-${String(part).padStart(5, '0')}.parquet`,
  outputManifest: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}_manifest.json`,
  outputReport: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}report.json`,
  /** The files written beside the dataset (shared/chain/datasetFiles.ts): its time folds and its page. */
  outputFolds: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}folds.json`,
  outputPage: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}report.html`,
  /** The raw column profile kept with the dataset, for a later run's profile to build on (shared/profile/storedProfile.ts). */
  outputProfile: (pair: string, runId: string) => {
    const dir = `${paths.outputDir(pair, runId)}profile/`;
    return { dir, columns: `${dir}columns.json`, sample: `${dir}sample.f64`, scan: `${dir}scan.f64`, tails: `${dir}tails.f64`, end: `${dir}end.f64`, endTails: `${dir}end-tails.f64` };
  },
  consolidated: (pair: string, runId: string) => `${paths.outputDir(pair, runId)}training_${pair}.parquet`,
};

function assertShardId(shard: string): string {
  if (!/^\d{8}$/.test(shard)) throw new InputError(`shard ${JSON.stringify(shard)} is not a YYYYMMDD shard id`);
  return shard;
}

export interface StagingObject {
  runId: string;
  feature: string;
  file: string;
  /** `marker` for the completion marker, `part` for a parquet checkpoint file, `other` otherwise. */
  kind: 'marker' | 'part' | 'other';
}

const STAGING_OBJECT = /^runs\/([a-z0-9-]+)\/features\/([A-Za-z0-9_]+)\/([^/]+)$/;

/** Parses a staging object name; undefined when it is not a feature's object of any run. */
export function parseStagingObject(name: string): StagingObject | undefined {
  const m = STAGING_OBJECT.exec(name);
  if (!m || !RUN_ID.test(m[1]!) || !isIdentifier(m[2]!)) return undefined;
  const file = m[3]!;
  const kind = file === MARKER_NAME ? 'marker' : /^[A-Za-z0-9_.-]+\.parquet$/.test(file) ? 'part' : 'other';
  return { runId: m[1]!, feature: m[2]!, file, kind };
}
