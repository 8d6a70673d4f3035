// The demo warehouse's shape, after DATA.md: per pair 667 feature tables under the five selection
// rules (256 naming the pair, 194 tri_, 10 mkt_, 63 var_, 144 csi_), 16,988 feature columns with
// widths 4..232 (median 14, reg_* at 232), and a label table of 49 target columns.

import { createHash } from 'node:crypto';
import { allPairs } from '../naming.js';

export const CURRENCIES = ['eur', 'gbp', 'aud', 'nzd', 'usd', 'cad', 'chf', 'jpy'];
const FAMILIES = ['agg', 'align', 'base', 'der', 'div', 'mom', 'mrt', 'reg', 'rev', 'vol', 'cyc', 'ext', 'tmp'];
const VARIANTS = ['', 'idx_', 'bqx_'];
export const WINDOWS = [45, 90, 180, 360, 720, 1440, 2880];
export const HORIZONS = [15, 30, 45, 60, 75, 90, 105];
const ETFS = ['spy', 'qqq', 'gld', 'ewa', 'ewj', 'ewg', 'ewu', 'ewc', 'ewz', 'fxi', 'tlt', 'iwm', 'eem', 'uso', 'slv', 'vixy'];
const ETF_IDX = ETFS.slice(0, 8);
const CORR_SOURCES = ['bqx_ibkr', 'agg_ibkr', 'idx_ibkr', 'mom_ibkr', 'vol_ibkr', 'reg_ibkr', 'der_ibkr', 'cyc_ibkr'];
const STATS = ['mean', 'std', 'min', 'max', 'slope', 'zscore', 'r2', 'ema', 'roc', 'skew', 'kurt', 'range', 'median', 'q25', 'q75', 'rsi', 'macd', 'atr', 'bbw', 'ent', 'hurst', 'acf'];
const COLUMN_WINDOWS = [45, 90, 180, 360, 720, 1440, 2880, 5, 15, 30, 60];

export const FEATURE_COLUMNS_PER_PAIR = 16_988;
export const LABEL_COLUMNS = WINDOWS.flatMap((w) => HORIZONS.map((h) => `target_bqx${w}_h${h}`));

/** A table template: `{P}` stands for the pair, `{Q}` for the other pair of a cov table. */
interface Template {
  template: string;
  width: number;
  metadata: string[];
}

function hash01(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0) / 2 ** 32;
}

function pairTemplates(): string[] {
  const names: string[] = [];
  for (const v of VARIANTS) for (const f of FAMILIES) names.push(`${f}_${v}{P}`);
  for (const w of WINDOWS) names.push(`lag_{P}_${w}`, `lag_bqx_{P}_${w}`);
  for (const w of WINDOWS) names.push(`regime_{P}_${w}`, `regime_bqx_{P}_${w}`);
  for (const etf of ETF_IDX) names.push(`corr_etf_idx_{P}_${etf}`);
  const corr: string[] = [];
  for (const src of CORR_SOURCES) for (const etf of ETFS) corr.push(`corr_${src}_{P}_${etf}`);
  names.push(...corr.slice(0, 256 - names.length - 54));
  return names; // + 54 cov tables, instantiated per pair
}

function sharedTemplates(): string[] {
  const tri: string[] = [];
  for (const fam of ['agg_bqx', 'mom_bqx', 'vol_bqx', 'reg_bqx']) {
    for (let a = 0; a < CURRENCIES.length; a++)
      for (let b = a + 1; b < CURRENCIES.length; b++)
        for (let c = b + 1; c < CURRENCIES.length; c++) tri.push(`tri_${fam}_${CURRENCIES[a]}_${CURRENCIES[b]}_${CURRENCIES[c]}`);
  }
  const mkt = ['mkt_vol_bqx', 'mkt_regime', 'mkt_agg', 'mkt_mom', 'mkt_vol', 'mkt_reg', 'mkt_der', 'mkt_div', 'mkt_cyc', 'mkt_ext'];
  const perCurrency = (prefix: string, fams: string[], n: number) => {
    const out: string[] = [];
    for (const fam of fams) for (const c of CURRENCIES) out.push(`${prefix}_${fam}_${c}`);
    return out.slice(0, n);
  };
  const varFams = ['agg_bqx', 'agg_idx', 'mom_bqx', 'mom_idx', 'vol_bqx', 'vol_idx', 'der_bqx', 'der_idx'];
  const csiFams = ['agg_bqx', 'agg_idx', 'mom_bqx', 'mom_idx', 'vol_bqx', 'vol_idx', 'der_bqx', 'der_idx', 'reg_bqx', 'reg_idx', 'rev_bqx', 'rev_idx', 'cyc_bqx', 'cyc_idx', 'ext_bqx', 'ext_idx', 'div_bqx', 'div_idx'];
  return [...tri.slice(0, 194), ...mkt, ...perCurrency('var', varFams, 63), ...perCurrency('csi', csiFams, 144)];
}

const COV_WIDTH = 6;
const REG_WIDTH = 232;

/**
 * Widths for every template, the same for every pair: 333 tables under 14 columns, 20 at 14 (the
 * median), the rest wider, summing to 16,988 with the cov tables (54 x 6) and reg_* (3 x 232).
 */
function widths(): Map<string, number> {
  const pair = pairTemplates();
  const shared = sharedTemplates();
  const out = new Map<string, number>();
  const regs = pair.filter((t) => /^reg_(idx_|bqx_)?\{P\}$/.test(t));
  for (const t of regs) out.set(t, REG_WIDTH);
  const others = [...pair, ...shared].filter((t) => !out.has(t)).sort((a, b) => hash01(a) - hash01(b) || (a < b ? -1 : 1));
  const narrow = 333 - 54;
  let budget = FEATURE_COLUMNS_PER_PAIR - regs.length * REG_WIDTH - 54 * COV_WIDTH;
  others.slice(0, narrow).forEach((t, i) => out.set(t, 4 + (i % 10)));
  others.slice(narrow, narrow + 20).forEach((t) => out.set(t, 14));
  for (const t of others.slice(0, narrow + 20)) budget -= out.get(t)!;
  const wide = others.slice(narrow + 20);
  const weights = wide.map((t) => hash01(`w:${t}`) ** 3);
  const extra = budget - wide.length * 15;
  const sum = weights.reduce((a, b) => a + b, 0);
  const ws = wide.map((t, i) => Math.min(REG_WIDTH - 1, 15 + Math.floor((weights[i]! / sum) * extra)));
  let left = budget - ws.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % ws.length) if (ws[i]! < REG_WIDTH - 1) { ws[i]!++; left--; }
  wide.forEach((t, i) => out.set(t, ws[i]!));
  return out;
}

let cachedWidths: Map<string, number> | undefined;

export function columnNames(width: number): string[] {
  const names: string[] = [];
  for (const s of STATS) for (const w of COLUMN_WINDOWS) names.push(`${s}_${w}`);
  return names.slice(0, width);
}

export interface DemoTable {
  table: string;
  columns: string[];
  /** Metadata columns the table also carries (dropped by the pipeline). */
  metadata: string[];
  /** Which pairs name this table (empty for shared tables). */
  pairs: string[];
}

function instantiate(template: string, pair: string): string {
  return template.replace('{P}', pair);
}

/** The feature tables of the given pairs (shared tables once), in name order. */
export function demoTables(pairs: readonly string[]): DemoTable[] {
  cachedWidths ??= widths();
  const w = cachedWidths;
  const tables = new Map<string, DemoTable>();
  const add = (table: string, width: number, metadata: string[], pairsOf: string[]) => {
    if (!tables.has(table)) tables.set(table, { table, columns: columnNames(width), metadata, pairs: pairsOf });
  };
  for (const t of sharedTemplates()) add(t, w.get(t)!, [], []);
  add('mkt_vol_summary', 8, [], []); // excluded by the !mkt_*_summary rule
  add('mkt_regime_summary', 8, [], []);
  const every = allPairs(CURRENCIES);
  for (const pair of pairs) {
    for (const t of pairTemplates()) add(instantiate(t, pair), w.get(t)!, t.startsWith('agg_') ? ['pair'] : [], [pair]);
    for (const other of every.filter((p) => p !== pair)) {
      const [a, b] = every.indexOf(pair) < every.indexOf(other) ? [pair, other] : [other, pair];
      for (const fam of ['agg', 'bqx']) add(`cov_${fam}_${a}_${b}`, COV_WIDTH, ['pair1', 'pair2'], [a, b]);
    }
  }
  return [...tables.values()].sort((x, y) => (x.table < y.table ? -1 : 1));
}

/** Tables whose features are entirely null (as corr_etf_idx_* were in the real warehouse). */
export const isAllNull = (table: string) => table.startsWith('corr_etf_idx_');
/** Tables that hold duplicate keys (about 1 % of rows twice, with different values). */
export const hasDuplicates = (table: string) => /^(mom_|vol_idx_|lag_[a-z]{6}_45$|tri_agg_bqx_eur_gbp_aud$|csi_agg_bqx_eur$)/.test(table);
/** Tables that start late, covering only the last 60 % of the range. */
export const startsLate = (table: string) => /_vixy$|^tri_reg_bqx_eur_|^var_der_idx_/.test(table);
