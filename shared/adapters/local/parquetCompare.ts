// Column pairs compared in this process (the profile's duplicate and leak checks), from bqx's own
// parquet files (parquetDoubles.ts) through the layouts the profile has just read (parquetScan.ts
// FooterCache). DuckDB's statement over the same few columns parsed every 9,900-column footer of
// their groups again: 1.5 s of each profile at 20,000 rows, for a few columns.
// The numbers are compareSql's (duckdbProfileSql.ts): per pair, on every step-th row r, column a at
// r against column b at r - shift; the rows where both hold a value, the rows where they are equal,
// the rows where only one holds a value, and their correlation as DuckDB's corr computes it (the
// population covariance over the product of the population deviations, each kept by a streaming
// update: Welford's for the deviations, Schubert and Gertz's for the co-moment).

import { closeSync, openSync } from 'node:fs';
import type { ColumnComparison, CompareJob } from '../../profile/types.js';
import { readableDoubles, readDoubleChunk, zstdReady, type DecodeScratch } from './parquetDoubles.js';
import type { FooterCache } from './parquetScan.js';

/** One column's values over the whole dataset, and which rows hold one (1) or are null (0). */
interface WholeColumn {
  values: Float64Array;
  valid: Uint8Array;
}

/** Bytes a whole column takes here: its values and a byte per row for its validity. */
const BYTES_PER_VALUE = 9;

/**
 * The comparisons, or undefined when some column is not in bqx's own encodings in every file, or
 * the columns held at once would take more than `maxBytes` (DuckDB's statement then compares them,
 * spilling as it needs).
 */
export async function compareOwn(job: CompareJob, uri: (object: string) => string, footers: FooterCache, maxBytes: number): Promise<ColumnComparison[] | undefined> {
  const wanted = new Set(job.pairs.flatMap((p) => [p.a, p.b]));
  const groups = job.groups
    .map((g) => ({ files: g.files.map(uri), columns: g.columns.filter((n) => wanted.has(n)) }))
    .filter((g) => g.columns.length > 0);
  if (groups.some((g) => !g.files.every((f) => readableDoubles(footers.get(f), g.columns)))) return undefined;
  const rows = groups[0] ? groups[0].files.reduce((n, f) => n + footers.get(f).rows, 0) : 0;
  if (wanted.size * rows * BYTES_PER_VALUE > maxBytes) return undefined;
  await zstdReady();
  const columns = new Map<string, WholeColumn>();
  for (const g of groups) for (const [name, column] of readWhole(g.files, g.columns, rows, footers)) columns.set(name, column);
  return job.pairs.map((p) => ({ ...p, ...comparePair(columns.get(p.a)!, columns.get(p.b)!, p.shift, job.step) }));
}

/** `columns` of one group's files (in row order), each as one whole column of `rows` rows. */
function readWhole(files: readonly string[], columns: readonly string[], rows: number, footers: FooterCache): Map<string, WholeColumn> {
  const out = new Map(columns.map((n) => [n, { values: new Float64Array(rows), valid: new Uint8Array(rows) }]));
  const scratch: DecodeScratch = {};
  let at = 0;
  for (const file of files) {
    const layout = footers.get(file);
    const fd = openSync(file, 'r');
    try {
      layout.rowGroups.forEach((g, gi) => {
        if (at + g.rows > rows) throw new Error(`${file}: the group's files hold more than the ${rows} rows of the first group`);
        for (const name of columns) {
          const chunk = readDoubleChunk(fd, layout, gi, name, scratch);
          const whole = out.get(name)!;
          whole.values.set(chunk.values.subarray(0, g.rows), at);
          for (let r = 0; r < g.rows; r++) whole.valid[at + r] = chunk.valid === null || (chunk.valid[r >>> 5]! >>> (r & 31)) & 1 ? 1 : 0;
        }
        at += g.rows;
      });
    } finally {
      closeSync(fd);
    }
  }
  if (at !== rows) throw new Error(`the group's files hold ${at} rows, not the ${rows} of the first group`);
  return out;
}

/** compareSql's four numbers for one pair: a at row r against b at row r - shift, on every step-th row. */
function comparePair(a: WholeColumn, b: WholeColumn, shift: number, step: number): Omit<ColumnComparison, 'a' | 'b' | 'shift'> {
  let [both, equal, nullMismatch] = [0, 0, 0];
  // corr(a, b)'s running state: rows, means, the co-moment and each column's sum of squared deviations.
  let [n, meanA, meanB, coMoment, squaresA, squaresB] = [0, 0, 0, 0, 0, 0];
  const rows = a.values.length;
  for (let r = 0; r < rows; r += step) {
    const j = r - shift;
    const hasA = a.valid[r] === 1;
    const hasB = j >= 0 && j < rows && b.valid[j] === 1;
    if (hasA !== hasB) nullMismatch++;
    if (!hasA || !hasB) continue;
    both++;
    const [x, y] = [a.values[r]!, b.values[j]!];
    // DuckDB's equality holds NaN equal to NaN.
    if (x === y || (x !== x && y !== y)) equal++;
    n++;
    const dA = x - meanA;
    const dB = y - meanB;
    const nextA = meanA + dA / n;
    const nextB = meanB + dB / n;
    coMoment += dB * (x - nextA);
    squaresA += (x - nextA) * dA;
    squaresB += (y - nextB) * dB;
    [meanA, meanB] = [nextA, nextB];
  }
  return { both, equal, nullMismatch, correlation: correlation(n, coMoment, squaresA, squaresB) };
}

/** The population covariance over the product of the population deviations; null where DuckDB's is null or NaN. */
function correlation(n: number, coMoment: number, squaresA: number, squaresB: number): number | null {
  if (n === 0) return null;
  const [sdA, sdB] = n > 1 ? [Math.sqrt(squaresA / n), Math.sqrt(squaresB / n)] : [0, 0];
  const r = sdA * sdB !== 0 ? coMoment / n / (sdA * sdB) : NaN;
  return Number.isNaN(r) ? null : r;
}
