// A dataset's raw column profile, kept in its output folder beside report.json, so that a later
// run over the same rows can take the columns that did not change instead of measuring them again
// (reuseStats.ts). Two objects, written through the output store:
//   profile/columns.json  the basis (what the numbers were measured from), every column's
//                         ColumnStats in output order, the sample's row numbers, and the length
//                         and SHA-256 of the sample file;
//   profile/sample.f64    every column's sample values, column after column in the same order,
//                         as little-endian Float64 (NaN where missing): 17,038 columns x ~512 rows
//                         is ~70 MB, where JSON text would be several times that;
//   profile/scan.f64      where the dataset has several shards and the warehouse kept one: the
//                         column scan's state at its scan point shard's first row (scanState.ts,
//                         shared/chain/profileReuse.ts `scanPointShard`), for a
//                         refresh sharing the shards before it to carry on from (2.2 MB at 17,038
//                         columns), described in columns.json's `scan` with the files before that row;
//   profile/end.f64       the scan's state after the dataset's last row, where the warehouse kept
//                         one (`end`, its files all of the dataset's; its tails in end-tails.f64):
//                         a refresh that grows the last shard by a part carries on from there and
//                         reads only its new rows.
// The sample is written first and the JSON last: a reader that finds the JSON finds the sample
// whole, and checks it against the length and digest before using a single value. Both live in
// the dataset's folder, so retention removes them with it (shared/retention.ts).

import { createHash } from 'node:crypto';
import os from 'node:os';
import { allSettledOrThrow } from '../concurrency.js';
import type { ObjectStore } from '../ports.js';
import { SCAN_FIELDS, type ScanState } from './scanState.js';
import type { Tail } from './outlierTails.js';
import type { ColumnPair, ColumnStats, LeakageScreen, MeasuredColumns, PairCounts, ProfileBasis } from './types.js';

/** Bumped whenever the stored layout or the meaning of a statistic changes: older files are then ignored. */
export const STORED_PROFILE_VERSION = 2;

export interface StoredProfileObjects {
  columns: string;
  sample: string;
  scan: string;
  /** The scan state's tails (outlierTails.ts); without it none are kept. */
  tails?: string;
  /** The state after the last row, and its tails; without them none are kept. */
  end?: string;
  endTails?: string;
}

/** A scan state and the output files that hold the rows before its row, per group. */
export interface KeptScan {
  state: ScanState;
  prefix: { index: number; files: string[] }[];
  /** The duplicate pairs' counts over those rows (pairCounts.ts). */
  compared?: PairCounts[];
  /** The columns' tails over those rows (outlierTails.ts). */
  tails?: Record<string, Tail>;
}

/** The JSON half: everything but the sample values. */
export interface StoredColumns {
  version: typeof STORED_PROFILE_VERSION;
  basis: ProfileBasis;
  columns: ColumnStats[];
  sampleRows: number[];
  sample: { bytes: number; sha256: string };
  /** The scan state's row, columns and the files before that row (profile/scan.f64 holds the numbers). */
  scan?: StoredScan;
  /** The state after the last row, the same way (profile/end.f64 and end-tails.f64). */
  end?: StoredScan;
  /** The duplicate pairs' counts over every row (a few numbers a pair, so in this JSON). */
  compared?: PairCounts[];
  /** The leakage screen's pairs over the sample (a few hundred at most, so in this JSON). */
  leakage?: LeakageScreen;
}

/** A kept scan state as columns.json describes it. */
interface StoredScan {
  row: number;
  columns: string[];
  prefix: KeptScan['prefix'];
  bytes: number;
  sha256: string;
  compared?: PairCounts[];
  /** The tails' columns, bands and value counts (their own object holds the values, column after column). */
  tails?: { columns: string[]; lo: number[]; hi: number[]; counts: number[]; bytes: number; sha256: string };
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Why `data` cannot be stored (a column without its sample values), or undefined when it can. */
export function unstorable(data: MeasuredColumns): string | undefined {
  const n = data.sample.rows.length;
  const bad = data.columns.find((s) => data.sample.values[s.column]?.length !== n);
  return bad ? `the sample of column ${bad.column} has ${data.sample.values[bad.column]?.length ?? 0} values, not ${n}` : undefined;
}

const float64Bytes = (values: Float64Array): Buffer => {
  const bytes = Buffer.from(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (!LITTLE_ENDIAN) bytes.swap64();
  return bytes;
};
/**
 * The bytes of each array as they are stored (little-endian): views of the arrays themselves on a
 * little-endian machine. Joining the sample's 17,038 arrays into one buffer first took about 0.2 s
 * of a 20,000-row refresh (80 MB of new pages) and held a second copy at the run's peak.
 */
const float64Parts = (arrays: readonly Float64Array[]): Uint8Array[] =>
  arrays.map((a) => (LITTLE_ENDIAN ? new Uint8Array(a.buffer, a.byteOffset, a.byteLength) : float64Bytes(a)));
/** SHA-256 of the bytes, or of the parts one after another (an array, not spread: 17,038 parts and more). */
const digest = (data: Uint8Array | readonly Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const p of data instanceof Uint8Array ? [data] : data) hash.update(p);
  return hash.digest('hex');
};

export async function writeStoredProfile(store: ObjectStore, objects: StoredProfileObjects, basis: ProfileBasis, data: MeasuredColumns, scan?: KeptScan, end?: KeptScan): Promise<void> {
  const problem = unstorable(data);
  if (problem) throw new Error(`the profile cannot be stored: ${problem}`);
  const n = data.sample.rows.length;
  const parts = float64Parts(data.columns.map((s) => data.sample.values[s.column]!));
  const kept = [encodeScan(scan, objects.scan, objects.tails), encodeScan(end, objects.end, objects.endTails)];
  const head: StoredColumns = {
    version: STORED_PROFILE_VERSION,
    basis,
    columns: data.columns,
    sampleRows: data.sample.rows,
    sample: { bytes: data.columns.length * n * 8, sha256: digest(parts) },
    ...(kept[0] ? { scan: kept[0].described } : {}),
    ...(kept[1] ? { end: kept[1].described } : {}),
    ...(data.compared ? { compared: data.compared } : {}),
    ...(data.leakage ? { leakage: data.leakage } : {}),
  };
  // The sample (about 77 MB) and each state's objects are written at once; any older state objects
  // removed. The JSON, written last, describes what is there.
  const writes: Promise<unknown>[] = [store.write(objects.sample, parts, { contentType: 'application/octet-stream' })];
  for (const [i, [stateObject, tailsObject]] of ([[objects.scan, objects.tails], [objects.end, objects.endTails]] as const).entries()) {
    const k = kept[i];
    if (!stateObject) continue;
    writes.push(k ? store.write(stateObject, k.state, { contentType: 'application/octet-stream' }) : store.deletePrefix(stateObject));
    if (!tailsObject) continue;
    writes.push(k?.tails ? store.write(tailsObject, k.tails, { contentType: 'application/octet-stream' }) : store.deletePrefix(tailsObject));
  }
  const text = JSON.stringify(head);
  await allSettledOrThrow(writes);
  await store.write(objects.columns, text, { contentType: 'application/json' });
}

/**
 * Keeps `head`, the stored profile at `from`, as the one at `to` with `basis`: its objects copied
 * as they are, for a dataset of exactly the files of the one `head` describes (the same sample,
 * states and tails). Whoever reads them checks them against `head`'s lengths and SHA-256 as ever.
 * Decoded, checked, encoded and hashed again instead, the 77 MB sample took about 0.6 s of a
 * 20,000-row run with nothing changed (3-4 s in all).
 */
export async function copyStoredProfile(store: ObjectStore, from: StoredProfileObjects, to: StoredProfileObjects, head: StoredColumns, basis: ProfileBasis): Promise<void> {
  const copies: Promise<unknown>[] = [store.copy(from.sample, to.sample)];
  const kept = [
    [head.scan, from.scan, from.tails, to.scan, to.tails],
    [head.end, from.end, from.endTails, to.end, to.endTails],
  ] as const;
  for (const [described, state, tails, toState, toTails] of kept) {
    if (!toState) continue;
    copies.push(described && state ? store.copy(state, toState) : store.deletePrefix(toState));
    if (toTails) copies.push(described?.tails && tails ? store.copy(tails, toTails) : store.deletePrefix(toTails));
  }
  // The JSON, written last, describes what is there.
  await allSettledOrThrow(copies);
  await store.write(to.columns, JSON.stringify({ ...head, basis }), { contentType: 'application/json' });
}

/** A kept state's bytes (and its tails', where there is an object for them) and its description; undefined without a state or an object for it. */
function encodeScan(scan: KeptScan | undefined, stateObject: string | undefined, tailsObject: string | undefined): { state: Buffer; tails?: Buffer; described: StoredScan } | undefined {
  if (!scan || !stateObject) return undefined;
  const state = float64Bytes(scan.state.values);
  const tailColumns = scan.tails && tailsObject ? Object.keys(scan.tails) : [];
  const tails = tailColumns.length > 0 ? float64Bytes(Float64Array.from(tailColumns.flatMap((c) => [...scan.tails![c]!.values]))) : undefined;
  const tailHead = tails && { columns: tailColumns, lo: tailColumns.map((c) => scan.tails![c]!.lo), hi: tailColumns.map((c) => scan.tails![c]!.hi), counts: tailColumns.map((c) => scan.tails![c]!.values.length), bytes: tails.length, sha256: digest(tails) };
  return {
    state,
    ...(tails ? { tails } : {}),
    described: { row: scan.state.row, columns: scan.state.columns, prefix: scan.prefix, bytes: state.length, sha256: digest(state), ...(scan.compared ? { compared: scan.compared } : {}), ...(tailHead ? { tails: tailHead } : {}) },
  };
}

/** The JSON half, or undefined when it is absent, unreadable or of another version. */
export async function readStoredColumns(store: ObjectStore, objects: StoredProfileObjects): Promise<StoredColumns | undefined> {
  try {
    const head = JSON.parse(Buffer.from(await store.read(objects.columns)).toString('utf8')) as StoredColumns;
    const ok =
      head.version === STORED_PROFILE_VERSION &&
      typeof head.basis === 'object' && head.basis !== null &&
      Array.isArray(head.columns) && head.columns.every((s) => typeof s?.column === 'string') &&
      Array.isArray(head.sampleRows) && head.sampleRows.every((r) => Number.isSafeInteger(r)) &&
      head.sample?.bytes === head.columns.length * head.sampleRows.length * 8 && typeof head.sample.sha256 === 'string';
    return ok ? head : undefined;
  } catch {
    return undefined;
  }
}

/** The Float64 values of `object` when it is the file `described` (length and SHA-256), else undefined. */
async function readFloat64(store: ObjectStore, object: string, described: { bytes: number; sha256: string }): Promise<Float64Array | undefined> {
  let raw: Uint8Array;
  try {
    raw = await store.read(object);
  } catch {
    return undefined;
  }
  // Float64Array views need an 8-byte aligned offset (a pooled Buffer may not have one).
  if (raw.byteOffset % 8 !== 0) raw = new Uint8Array(raw);
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  if (bytes.length !== described.bytes || bytes.length % 8 !== 0 || digest(bytes) !== described.sha256) return undefined;
  if (!LITTLE_ENDIAN) bytes.swap64();
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
}

/** The sample values of `head`'s columns, or undefined when the file is absent or not the one `head` describes. */
export async function readStoredSample(store: ObjectStore, objects: StoredProfileObjects, head: StoredColumns): Promise<Record<string, Float64Array> | undefined> {
  const all = await readFloat64(store, objects.sample, head.sample);
  if (!all) return undefined;
  const n = head.sampleRows.length;
  const values: Record<string, Float64Array> = {};
  head.columns.forEach((s, j) => (values[s.column] = all.subarray(j * n, (j + 1) * n)));
  return values;
}

/** The scan state `head` describes, or undefined when there is none or the file is not the one described. */
export async function readStoredScan(store: ObjectStore, objects: StoredProfileObjects, head: StoredColumns): Promise<KeptScan | undefined> {
  return readKept(store, head.scan, objects.scan, objects.tails);
}

/** The state after the last row `head` describes, the same way. */
export async function readStoredEnd(store: ObjectStore, objects: StoredProfileObjects, head: StoredColumns): Promise<KeptScan | undefined> {
  return objects.end ? readKept(store, head.end, objects.end, objects.endTails) : undefined;
}

async function readKept(store: ObjectStore, scan: StoredScan | undefined, stateObject: string, tailsObject: string | undefined): Promise<KeptScan | undefined> {
  if (!scan || !Number.isSafeInteger(scan.row) || !Array.isArray(scan.columns) || !Array.isArray(scan.prefix)) return undefined;
  const values = await readFloat64(store, stateObject, scan);
  if (!values || values.length !== scan.columns.length * SCAN_FIELDS) return undefined;
  const tails = tailsObject ? await readTails(store, tailsObject, scan.tails) : undefined;
  return { state: { row: scan.row, columns: scan.columns, values }, prefix: scan.prefix, ...(validCounts(scan.compared) ? { compared: scan.compared } : {}), ...(tails ? { tails } : {}) };
}

/** The tails `described` lists, or undefined when there are none or the file is not the one described (a refresh then reads those rows again). */
async function readTails(store: ObjectStore, object: string, described: StoredScan['tails']): Promise<Record<string, Tail> | undefined> {
  if (!described) return undefined;
  const { columns, lo, hi, counts } = described;
  const lists = [columns, lo, hi, counts];
  if (!lists.every((l) => Array.isArray(l) && l.length === columns.length) || !counts.every((n) => Number.isSafeInteger(n) && n >= 0)) return undefined;
  const values = await readFloat64(store, object, described);
  if (!values || values.length !== counts.reduce((a, b) => a + b, 0)) return undefined;
  const tails: Record<string, Tail> = {};
  let at = 0;
  columns.forEach((c, i) => {
    tails[c] = { lo: lo[i]!, hi: hi[i]!, values: values.slice(at, (at += counts[i]!)) };
  });
  return tails;
}

/** Whether `screen` is a leakage screen as written here (an older or altered file's is not taken: every feature is screened again). */
export function validScreen(screen: unknown): screen is LeakageScreen {
  const s = screen as LeakageScreen;
  const pairs = (list: unknown) => Array.isArray(list) && list.every((p: ColumnPair) => typeof p?.a === 'string' && typeof p.b === 'string' && Number.isSafeInteger(p.shift));
  return (
    typeof s === 'object' && s !== null &&
    Array.isArray(s.labels) && s.labels.every((l) => typeof l === 'string') &&
    Number.isSafeInteger(s.block?.from) && Number.isSafeInteger(s.block?.rows) &&
    pairs(s.correlated) && pairs(s.shifted)
  );
}

/** Whether `list` holds pair counts as written here (an older or altered file's are not taken: those pairs are compared again). */
export function validCounts(list: unknown): list is PairCounts[] {
  const count = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  return Array.isArray(list) && list.every((c: PairCounts) => typeof c?.a === 'string' && typeof c.b === 'string' && count(c.both) && count(c.equal) && count(c.nullMismatch));
}
