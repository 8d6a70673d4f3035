// Which columns a feature view keeps (pure): the key always; labels by `--labels` (all when not
// given); features by `--include` / `--exclude` globs, then the profile's findings (`--drop
// constant,duplicates,stale`, `--max-null-share`). Feast's idea of a named view over one store:
// nothing is extracted, the selection is a list of the source dataset's own columns.

import { closest, distance } from 'fastest-levenshtein';
import { InputError, assertIdentifier } from '../naming.js';
import type { DatasetProfile } from '../profile/types.js';

export const DROP_KINDS = ['constant', 'duplicates', 'stale', 'leakage'] as const;
export type DropKind = (typeof DROP_KINDS)[number];

export interface ViewSelection {
  name: string;
  include?: string[];
  exclude?: string[];
  labels?: string[];
  drop: DropKind[];
  maxNullShare?: number;
}

/** A column glob: letters, digits, underscores and `*` (any run of characters) or `?` (one). */
const GLOB = /^[A-Za-z0-9_*?]+$/;

/** Comma-separated globs; refuses anything else, naming the option and the pattern. */
export function parsePatterns(option: string, value: string): string[] {
  const patterns = value.split(',').map((p) => p.trim());
  for (const p of patterns) {
    if (!GLOB.test(p)) throw new InputError(`--${option}: ${JSON.stringify(p)} is not a column pattern (letters, digits, _, * and ? only)`);
  }
  return patterns;
}

export function parseDrop(value: string): DropKind[] {
  const kinds = value.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!(DROP_KINDS as readonly string[]).includes(k)) throw new InputError(`--drop: ${JSON.stringify(k)} is not one of ${DROP_KINDS.join(', ')}`);
  }
  return [...new Set(kinds)] as DropKind[];
}

export function parseShare(option: string, value: string): number {
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value.trim()) || !(n >= 0 && n <= 1)) throw new InputError(`--${option} must be a number from 0 to 1, got ${JSON.stringify(value)}`);
  return n;
}

/** A view name is a plain identifier: it becomes a folder name. */
export function viewName(value: string | undefined): string {
  if (value === undefined) throw new InputError('view needs --name NAME');
  return assertIdentifier(value, 'view name');
}

function globRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

const matchesAny = (patterns: readonly RegExp[], column: string) => patterns.some((p) => p.test(column));

/** The columns an option's patterns are matched against, and the option and columns of the other kind (for the hint). */
interface PatternTarget {
  columns: readonly string[];
  other: { option: string; columns: readonly string[]; kind: string };
}

/**
 * Each of `patterns` that matches none of its columns, with why: a pattern that matches nothing is
 * a typo or a column renamed since, and passed over it would silently leave a wanted column out, or
 * an unwanted one in (DATA.md: a list of wanted columns lost, without a word, those whose names had
 * changed). A name without wildcards gets the nearest column's name, or is told it names a column
 * of the other kind, or that output names leave the pair out.
 */
function unmatched(patterns: readonly string[], target: PatternTarget, pair: string | undefined): string[] {
  const hint = (pattern: string): string => {
    if (/[*?]/.test(pattern) || target.columns.length === 0) return '';
    if (target.other.columns.includes(pattern)) return ` (a ${target.other.kind} column: --${target.other.option} chooses those)`;
    const withoutPair = pair && pattern.includes(pair) ? pattern.replace(`${pair}_`, '').replace(`_${pair}`, '') : undefined;
    if (withoutPair && target.columns.includes(withoutPair)) return ` (output columns leave the pair out: ${withoutPair})`;
    const near = closest(pattern, target.columns as string[]);
    return distance(pattern, near) <= Math.max(2, Math.floor(pattern.length / 4)) ? ` (did you mean ${near}?)` : '';
  };
  // Each pattern compiled once, not once a column (17,037 of them).
  return patterns.map((p) => [p, globRegExp(p)] as const).filter(([, glob]) => !target.columns.some((c) => glob.test(c))).map(([p]) => `${p}${hint(p)}`);
}

export interface SourceColumns {
  key: string;
  /** The dataset's pair: a name asked for with it (as the source table has it) is told the output name. */
  pair?: string;
  labels: string[];
  /** Feature columns in output order. */
  features: string[];
}

export interface SelectedColumns {
  labels: string[];
  features: string[];
  /** Why each left-out feature was left out (the first reason that applied). */
  dropped: { constant: string[]; duplicates: string[]; stale: string[]; leakage: string[]; nullShare: string[] };
}

/**
 * The view's columns, in the source's order. Of a duplicate group the first column the patterns
 * kept stays and the others go; an empty selection is refused.
 */
export function selectColumns(source: SourceColumns, selection: ViewSelection, profile: DatasetProfile | undefined): SelectedColumns {
  const needsProfile = selection.drop.length > 0 || selection.maxNullShare !== undefined;
  if (needsProfile && !profile) {
    throw new InputError('the dataset has no column profile (it was built with BQX_PROFILE=keys): --drop and --max-null-share need one');
  }
  const include = (selection.include ?? ['*']).map(globRegExp);
  const exclude = (selection.exclude ?? []).map(globRegExp);
  const labelGlobs = selection.labels?.map(globRegExp);
  const labels = labelGlobs ? source.labels.filter((l) => matchesAny(labelGlobs, l)) : source.labels;
  // Every pattern must match a column of its kind, not merely the option as a whole (so, asked for
  // by pattern, some label is: a view without labels is no training set).
  const featureColumns = { columns: source.features, other: { option: 'labels', columns: source.labels, kind: 'label' } };
  const missedLabels = unmatched(selection.labels ?? [], { columns: source.labels, other: { option: 'include', columns: source.features, kind: 'feature' } }, source.pair);
  const missed = [
    ...unmatched(selection.include ?? [], featureColumns, source.pair).map((p) => `--include ${p}`),
    ...unmatched(selection.exclude ?? [], featureColumns, source.pair).map((p) => `--exclude ${p}`),
    ...missedLabels.map((p) => `--labels ${p}`),
  ];
  const someLabels = missedLabels.length > 0 ? ` (the labels: ${source.labels.slice(0, 3).join(', ')}${source.labels.length > 3 ? ', ...' : ''})` : '';
  if (missed.length > 0) throw new InputError(`view ${selection.name}: ${missed.length === 1 ? 'a pattern matches' : `${missed.length} patterns match`} no column of its kind: ${missed.join('; ')}${someLabels}`);
  let features = source.features.filter((c) => matchesAny(include, c) && !matchesAny(exclude, c));

  const dropped: SelectedColumns['dropped'] = { constant: [], duplicates: [], stale: [], leakage: [], nullShare: [] };
  const remove = (why: keyof SelectedColumns['dropped'], columns: Set<string>) => {
    dropped[why].push(...features.filter((c) => columns.has(c)));
    features = features.filter((c) => !columns.has(c));
  };
  if (profile) {
    if (selection.drop.includes('constant')) remove('constant', new Set(profile.constant));
    if (selection.drop.includes('stale')) remove('stale', new Set(profile.stale));
    // The features the profile confirmed as leaks (a label's copy, or correlated 0.99 with one): a
    // model given them scores on the future (DATA.md: an R² of 0.97).
    if (selection.drop.includes('leakage')) remove('leakage', new Set(profile.leakage.map((l) => l.feature)));
    if (selection.drop.includes('duplicates')) {
      const position = new Map(features.map((c, i) => [c, i]));
      const redundant = new Set<string>();
      for (const group of profile.duplicates) {
        const kept = group.filter((c) => position.has(c)).sort((a, b) => position.get(a)! - position.get(b)!);
        for (const c of kept.slice(1)) redundant.add(c);
      }
      remove('duplicates', redundant);
    }
    if (selection.maxNullShare !== undefined) {
      const limit = selection.maxNullShare;
      remove('nullShare', new Set(profile.columns.filter((c) => c.nullShare > limit).map((c) => c.column)));
    }
  }
  if (features.length === 0 && labels.length === 0) throw new InputError(`view ${selection.name}: the selection is empty (no feature or label column matches)`);
  if (features.length === 0) throw new InputError(`view ${selection.name}: no feature column matches the selection`);
  return { labels, features, dropped };
}
