// Which feature tables belong to a pair. Rules come from configuration (BQX_TABLE_RULES):
// globs over the table name, `{pair}` meaning "the pair appears as a whole name token", and `!`
// for exclusions. The defaults are the five rules of DATA.md.

/** True when `pair` appears in `table` as an underscore-delimited token (`lag_eurusd_45`). */
export function nameHasPair(table: string, pair: string): boolean {
  return table.split('_').includes(pair);
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

function ruleMatches(rule: string, table: string, pair: string): boolean {
  if (rule === '{pair}') return nameHasPair(table, pair);
  if (rule.includes('{pair}')) return globToRegExp(rule.replace(/\{pair\}/g, pair)).test(table);
  return globToRegExp(rule).test(table);
}

/** The tables a pair's run uses, sorted by name: selected by a rule, not excluded by any `!` rule. */
export function selectTables(tables: readonly string[], pair: string, rules: readonly string[]): string[] {
  const include = rules.filter((r) => !r.startsWith('!'));
  const exclude = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1));
  return tables
    .filter((t) => include.some((r) => ruleMatches(r, t, pair)) && !exclude.some((r) => ruleMatches(r, t, pair)))
    .sort();
}
