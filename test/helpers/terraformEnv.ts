// The variables terraform/main.tf sets on every function, read from its parsed text (hcl2json).

import assert from 'node:assert/strict';

/**
 * The variables main.tf sets on the functions, from `merge(var.settings, { NAME = value ... })`
 * (hcl2json gives the call as one expression string): each value as hcl2json writes an attribute,
 * a quoted string as its text, any other expression as `${expression}`.
 */
export function managedEnv(expression: string): Record<string, string> {
  const m = /^\$\{merge\(var\.settings, \{\n([\s\S]*)\n\s*\}\)\}$/.exec(expression);
  assert.ok(m, `environment_variables is merge(var.settings, { ... }): ${expression.slice(0, 80)}`);
  const env: Record<string, string> = {};
  for (const line of m[1]!.split('\n')) {
    const kv = /^\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$/.exec(line);
    assert.ok(kv, `environment_variables: ${line}`);
    const value = kv[2]!;
    env[kv[1]!] = /^"[^"]*"$/.test(value) ? value.slice(1, -1) : `\${${value}}`;
  }
  return env;
}
