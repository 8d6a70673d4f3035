// What the demo plants for the dataset profile to find (issue 10, DATA.md's last table): a
// constant column, two identical columns, a forward-filled stretch, a feature equal to a label
// shifted in time, warm-up nulls, an unexpected gap in the keys (weekend closures come from the
// key calendar itself). The generator asks this file for each table's column expressions, so the
// plants live in one place and the tests read what to expect from PLANTED.

/** A planted finding as the profile reports it (output column names, for any pair). */
export const PLANTED = {
  /** One distinct non-null value on every row. */
  constant: ['mkt_regime_mean_45'],
  /** Equal on every row (computed from the key alone, the same in both tables). */
  duplicates: [['mkt_agg_mean_90', 'mkt_der_mean_90']],
  /** Forward-filled from 30 % of the rows on, as a COALESCE + LAG over a dead feed leaves it. */
  stale: ['mkt_vol_mean_45'],
  /** Null through the first 1,000 rows (a rolling window filling up), complete after. */
  warmupTable: 'mkt_div',
  /** Equal to a label shifted by a few rows: a future value in the features. */
  leakage: { feature: 'der_mean_45', table: 'der_{P}', column: 'mean_45', label: 'target_bqx45_h30', shiftRows: 10 },
  /** Keys missing for 90 minutes on a weekday, at 30 % of the rows. */
  gap: { atShare: 0.3, minutes: 90 },
} as const;

export const WARMUP_NULL_ROWS = 1000;

/** Warm-up rows planted in a demo of `rows` rows: at most a quarter of them, so a small demo's
 * warm-up table is never entirely null (that would be another all-null feature, not a warm-up). */
export const warmupNullRows = (rows: number) => Math.min(WARMUP_NULL_ROWS, Math.floor(rows / 4));
const STALE_FROM_SHARE = 0.3;

/** A deterministic series from the row number alone: identical wherever it is computed. */
const keyedSeries = (i: string) => `round(sin(${i} * 0.0031) * 2 + (hash(${i}) % 1000) / 1000000.0, 5)`;

export interface PlantedTable {
  /** Column expressions to use instead of the generator's, by column name. */
  columns: Map<string, string>;
  /** Extra FROM clause joined to the keys (alias `lab`), when a column needs other data. */
  join?: string;
  /** A condition under which every feature column of the table is null. */
  allNullWhen?: string;
}

/**
 * The planted expressions of a feature table, given the row number `i` of demo_scratch.keys (0 =
 * the first label key), the rows per table and the pair's label table (for the leakage plant).
 */
export function plantedTable(table: string, pairs: readonly string[], rows: number, labelTable: (pair: string) => string): PlantedTable {
  const columns = new Map<string, string>();
  const plant: PlantedTable = { columns };
  if (table === 'mkt_regime') columns.set('mean_45', '0.25');
  if (table === 'mkt_agg' || table === 'mkt_der') columns.set('mean_90', keyedSeries('i'));
  if (table === 'mkt_vol') {
    const from = Math.floor(rows * STALE_FROM_SHARE);
    columns.set('mean_45', `CASE WHEN i < ${from} THEN ${keyedSeries('i')} ELSE ${keyedSeries(String(from - 1))} END`);
  }
  if (table === PLANTED.warmupTable) plant.allNullWhen = `i < ${warmupNullRows(rows)}`;
  const leak = PLANTED.leakage;
  const pair = pairs.find((p) => table === leak.table.replace('{P}', p));
  if (pair) {
    columns.set(leak.column, 'lab.v');
    plant.join = `LEFT JOIN (SELECT CAST(row_number() OVER (ORDER BY interval_time) AS BIGINT) - 1 + ${leak.shiftRows} AS li, ${leak.label} AS v FROM ${labelTable(pair)}) lab ON lab.li = i`;
  }
  return plant;
}

/**
 * The planted outage: keys missing for PLANTED.gap.minutes from the trading minute at
 * PLANTED.gap.atShare of the rows, found by walking the demo's trading calendar (no weekend).
 * Returns the SQL condition that keeps a minute `t` (a TIMESTAMP) out of the keys.
 */
export function plantedGapFilter(start: string, rows: number, isTrading: (t: Date) => boolean): string {
  const at = Math.floor(rows * PLANTED.gap.atShare);
  const t = new Date(Date.parse(start));
  for (let n = 0; n < at || !isTrading(t); ) {
    if (isTrading(t)) n++;
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  const from = t.toISOString().slice(0, 19).replace('T', ' ');
  const to = new Date(t.getTime() + PLANTED.gap.minutes * 60_000).toISOString().slice(0, 19).replace('T', ' ');
  return `NOT (t >= TIMESTAMP '${from}' AND t < TIMESTAMP '${to}')`;
}

/** The demo's trading calendar: every minute but Friday 22:00 to Sunday 22:00 UTC. */
export function isTradingMinute(t: Date): boolean {
  const day = t.getUTCDay();
  const hour = t.getUTCHours();
  return !((day === 5 && hour >= 22) || day === 6 || (day === 0 && hour < 22));
}
