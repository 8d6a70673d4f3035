// Time folds written beside every dataset (folds.json): walk-forward train / validation / test
// splits by time, each separated by a purge of at least the longest label horizon (a training
// row's label looks that far ahead, into the next segment) plus an embargo (López de Prado's
// purged k-fold). DATA.md: an R² of 0.97 came from a random split that leaked the future, and
// later splits had no gap at all. Given as key ranges and as row ranges per shard.

import { openSince, openTime } from './marketClock.js';

export interface FoldSettings {
  trainDays: number;
  validationDays: number;
  testDays: number;
  stepDays: number;
  purgeMinutes: number;
  embargoMinutes: number;
}

export interface RowRange {
  shard: number;
  /** Rows [start, end) within the shard's files. */
  start: number;
  end: number;
}

export interface FoldSegment {
  /** Keys [from, to), ISO-8601 UTC. */
  from: string;
  to: string;
  rows: RowRange[];
}

export interface Fold {
  index: number;
  train: FoldSegment;
  validation: FoldSegment;
  test: FoldSegment;
}

export interface FoldsFile {
  pair: string;
  runId: string;
  /** First key and the minute after the last one. */
  window: { start: string; end: string };
  /** Sizes as used: the configured ones, times `scale` when the window is shorter than one fold. */
  trainDays: number;
  validationDays: number;
  testDays: number;
  stepDays: number;
  scale: number;
  purgeMinutes: number;
  embargoMinutes: number;
  longestHorizonMinutes: number;
  /** The minutes at the window's end the folds leave out: the labels have no value there yet (the longest label window). */
  labelTailMinutes: number;
  note: string;
  folds: Fold[];
}

export interface FoldPlan {
  file: Omit<FoldsFile, 'folds'>;
  /** Per fold, the six boundaries: train from/to, validation from/to, test from/to (ms). */
  bounds: number[][];
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** When the window is shorter than one fold at the configured sizes, sizes shrink so this many folds fit. */
export const SCALED_FOLDS = 4;

/**
 * The purge covers the longest horizon (DATA.md). A label whose null tail is longer than its
 * horizon also depends on the minutes after it (`bqx_{w}` of the next w minutes, as the tail
 * says): then a training label near a segment's start overlaps that segment's minutes unless the
 * purge covers the window too. Whether it does is the data's to say, so the note tells the setting.
 */
function lookaheadHint(purge: number, longestHorizonMinutes: number, labelTailMinutes: number): string {
  const reach = labelTailMinutes + longestHorizonMinutes;
  if (labelTailMinutes <= longestHorizonMinutes || purge >= reach) return '';
  return `; the purge of ${purge} minutes covers the longest horizon: if each label also depends on the ${labelTailMinutes.toLocaleString('en-US')} minutes after it (its null tail says so), BQX_FOLD_PURGE_MINUTES=${reach} keeps every training label off the validation and test minutes`;
}

/** The folds' key ranges, from the window and the settings (pure). */
export function planFolds(run: { pair: string; runId: string }, firstKey: string, lastKey: string, settings: FoldSettings, longestHorizonMinutes: number, labelTailMinutes = 0): FoldPlan {
  const start = Date.parse(firstKey);
  const windowEnd = Date.parse(lastKey) + MINUTE;
  // The folds end where the labels' values do: a validation or test segment in the last minutes,
  // where no label has a value yet, could be neither tuned nor scored (every fold of the default
  // demo's nine days had its test there).
  const end = Math.max(start, windowEnd - labelTailMinutes * MINUTE);
  const purge = Math.max(settings.purgeMinutes, longestHorizonMinutes);
  // Never shorter than the longest horizon (DATA.md); said, so a setting below it is not taken as used.
  const raised = purge > settings.purgeMinutes ? `; the purge is the longest horizon, ${purge} minutes, not BQX_FOLD_PURGE_MINUTES=${settings.purgeMinutes}` : '';
  const gap = (purge + settings.embargoMinutes) * MINUTE;
  const span = end - start;
  const covered = labelTailMinutes > 0 ? 'the window before its label tail' : 'the window';
  const sizes = [settings.trainDays, settings.validationDays, settings.testDays].map((d) => d * DAY);
  const oneFold = sizes[0]! + sizes[1]! + sizes[2]! + 2 * gap;
  let scale = 1;
  let note = 'sizes as configured';
  // Scaled folds are placed on the market's clock (weekend closures left out): at the sizes of a
  // window of days, a segment of a few calendar hours could fall on a Saturday and hold no row.
  const scaled = span < oneFold;
  const [to, from] = scaled ? [openSince, openTime] : [(t: number) => t, (t: number) => t];
  const [first, last] = [to(start), to(end)];
  if (scaled) {
    scale = Math.max(0, (last - first - 2 * gap) / (sizes[0]! + sizes[1]! + sizes[2]! + (SCALED_FOLDS - 1) * settings.stepDays * DAY));
    note = `${covered} (${(span / DAY).toFixed(2)} days, ${((last - first) / DAY).toFixed(2)} of them open) is shorter than one fold at the configured sizes: train, validation, test and step are scaled by ${scale.toFixed(4)} so that ${SCALED_FOLDS} folds fit, in open market time (weekend closures left out); purge and embargo are not scaled`;
  }
  // Whole minutes, rounded down: rounded to the nearest, the last of the SCALED_FOLDS could end a
  // minute past the window and be left out.
  const [train, validation, test] = sizes.map((s) => Math.floor((s * scale) / MINUTE) * MINUTE) as [number, number, number];
  const step = Math.floor((settings.stepDays * DAY * scale) / MINUTE) * MINUTE;
  const bounds: number[][] = [];
  if (train > 0 && validation > 0 && test > 0 && step > 0) {
    for (let t0 = first; ; t0 += step) {
      const b = [t0, t0 + train, t0 + train + gap, t0 + train + gap + validation, t0 + train + 2 * gap + validation, t0 + train + 2 * gap + validation + test];
      if (b[5]! > last) break;
      bounds.push(b.map(from));
    }
  }
  // A window inside the labels' lookahead (a small demo) has no row to train or score on at all:
  // said so, rather than as a fold too short.
  const unlabelled = span === 0 && labelTailMinutes > 0;
  if (unlabelled) note = `the window (${((windowEnd - start) / DAY).toFixed(2)} days) lies within the labels' last ${labelTailMinutes.toLocaleString('en-US')} minutes, where they have no value yet: no row to train or score a fold on`;
  else if (bounds.length === 0) note = `${covered} (${(span / DAY).toFixed(2)} days) is too short for a fold with a purge of ${purge} and an embargo of ${settings.embargoMinutes} minutes`;
  const days = (ms: number) => Math.round((ms / DAY) * 10000) / 10000;
  return {
    file: {
      // Only these two of the record: the caller passes the whole run record.
      pair: run.pair,
      runId: run.runId,
      window: { start: new Date(start).toISOString(), end: new Date(windowEnd).toISOString() },
      trainDays: days(train),
      validationDays: days(validation),
      testDays: days(test),
      stepDays: days(step),
      scale: Math.round(scale * 1e6) / 1e6,
      purgeMinutes: purge,
      embargoMinutes: settings.embargoMinutes,
      longestHorizonMinutes,
      labelTailMinutes,
      note: `${labelTailMinutes > 0 && !unlabelled ? `${note}; the folds end ${labelTailMinutes.toLocaleString('en-US')} minutes before the window does, where the labels have no value yet${lookaheadHint(purge, longestHorizonMinutes, labelTailMinutes)}` : note}${raised}`,
    },
    bounds,
  };
}

/**
 * The plan without the folds whose validation or test segment holds no row before `labelledRows`
 * (the rows before the labels' null tail: the label table's last minutes are not known yet; or the
 * segment falls in a closure, with no row at all), and the cut rows that go with the rest: such a
 * fold can be neither tuned nor scored, and a loop over the folds would meet it. The folds left
 * are numbered from 0; the note says which went.
 */
export function labelledFolds(plan: FoldPlan, cutRows: readonly number[], labelledRows: number | undefined): { plan: FoldPlan; cutRows: number[]; dropped: number } {
  if (labelledRows === undefined) return { plan, cutRows: [...cutRows], dropped: 0 };
  // A fold's cuts 2 to 3 are its validation's rows, 4 to 5 its test's.
  const labelled = (from: number, to: number) => Math.min(to, labelledRows) - from > 0;
  const keep = plan.bounds.map((_, i) => labelled(cutRows[i * 6 + 2]!, cutRows[i * 6 + 3]!) && labelled(cutRows[i * 6 + 4]!, cutRows[i * 6 + 5]!));
  const dropped = plan.bounds.filter((_, i) => !keep[i]);
  if (dropped.length === 0) return { plan, cutRows: [...cutRows], dropped: 0 };
  const iso = (ms: number) => new Date(ms).toISOString();
  const said = `${dropped.length} planned fold(s) left out (test from ${dropped.map((b) => iso(b[4]!)).join(', ')}): their validation or test segment holds no row with a label value (the labels' last value is at row ${labelledRows.toLocaleString('en-US')})`;
  return {
    plan: { file: { ...plan.file, note: `${plan.file.note}; ${said}` }, bounds: plan.bounds.filter((_, i) => keep[i]) },
    cutRows: cutRows.filter((_, c) => keep[Math.floor(c / 6)]),
    dropped: dropped.length,
  };
}

/** A segment as people read it: `2020-01-06T00:00 to 2020-01-09T14:17 (5,087 rows)` (bqx report, report.html). */
export function segmentText(segment: FoldSegment): string {
  return `${segment.from.slice(0, 16)} to ${segment.to.slice(0, 16)} (${segment.rows.reduce((n, r) => n + r.end - r.start, 0).toLocaleString('en-US')} rows)`;
}

/** Every boundary of the plan, as ISO keys: what the warehouse turns into row numbers. */
export function foldCuts(plan: FoldPlan): string[] {
  return plan.bounds.flat().map((ms) => new Date(ms).toISOString());
}

/**
 * The folds with row ranges: `cutRows[i]` is the number of dataset rows before cut i; shards are
 * consecutive row blocks (the whole dataset is one shard when the manifest has none).
 */
export function foldsFile(plan: FoldPlan, cutRows: readonly number[], shards: readonly { index: number; rows: number }[]): FoldsFile {
  const offsets: { index: number; first: number; rows: number }[] = [];
  let at = 0;
  for (const s of shards) {
    offsets.push({ index: s.index, first: at, rows: s.rows });
    at += s.rows;
  }
  const segment = (fromMs: number, toMs: number, fromRow: number, toRow: number): FoldSegment => ({
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    rows: offsets
      .map((s) => ({ shard: s.index, start: Math.max(0, fromRow - s.first), end: Math.min(s.rows, toRow - s.first) }))
      .filter((r) => r.end > r.start),
  });
  const folds = plan.bounds.map((b, index) => {
    const r = cutRows.slice(index * 6, index * 6 + 6);
    return {
      index,
      train: segment(b[0]!, b[1]!, r[0]!, r[1]!),
      validation: segment(b[2]!, b[3]!, r[2]!, r[3]!),
      test: segment(b[4]!, b[5]!, r[4]!, r[5]!),
    };
  });
  return { ...plan.file, folds };
}
