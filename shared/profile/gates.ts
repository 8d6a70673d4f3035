// Quality gates: thresholds a run must meet, each `fail` (the run fails with the gate and the
// measured value in its reason; its outputs are kept, marked not passed) or `warn` (a warning in
// the summary and the completion event). Like a Great Expectations check, each gate reports what
// it expected, what it observed and whether it passed. Written `metric op number[:level]`.

export type GateLevel = 'fail' | 'warn';
export type GateOp = '>=' | '<=' | '>' | '<' | '==' | '!=';

export interface Gate {
  /** As written, normalised: `rows >= 150000`. */
  gate: string;
  metric: GateMetric;
  op: GateOp;
  threshold: number;
  level: GateLevel;
}

export interface GateResult {
  gate: string;
  level: GateLevel;
  value: number;
  passed: boolean;
}

/** What a gate can measure; see gateMetrics for how each is computed. */
export const GATE_METRICS = [
  'rows',
  'columns',
  'feature_null_share',
  'label_null_share',
  'leakage',
  'constant',
  'duplicates',
  'stale',
  'unexpected_gaps',
  'cost_usd',
] as const;
export type GateMetric = (typeof GATE_METRICS)[number];

export class GateError extends Error {}

const GATE = /^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(?::\s*(fail|warn)\s*)?$/;

/** The gates of `a`, then those of `b` not among them (the same text at the same level). */
export function unionGates(a: readonly Gate[], b: readonly Gate[]): Gate[] {
  const key = (g: Gate) => `${g.gate}:${g.level}`;
  const seen = new Set(a.map(key));
  return [...a, ...b.filter((g) => !seen.has(key(g)))];
}

/** Parses one gate; the level defaults to fail. Throws a GateError naming what is wrong. */
export function parseGate(text: string): Gate {
  const m = GATE.exec(text);
  if (!m) throw new GateError(`gate ${JSON.stringify(text)} must read "metric op number[:fail|warn]", e.g. "rows >= 150000:fail"`);
  const metric = m[1]! as GateMetric;
  if (!GATE_METRICS.includes(metric)) throw new GateError(`gate ${JSON.stringify(text)}: unknown metric "${m[1]}" (${GATE_METRICS.join(', ')})`);
  const op = m[2] as GateOp;
  return { gate: `${metric} ${op} ${Number(m[3])}`, metric, op, threshold: Number(m[3]), level: (m[4] as GateLevel | undefined) ?? 'fail' };
}

/** A comma-separated list of gates (BQX_GATES). */
export function parseGates(list: string): Gate[] {
  return list.split(',').map((g) => g.trim()).filter((g) => g !== '').map(parseGate);
}

const compare: Record<GateOp, (a: number, b: number) => boolean> = {
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '<': (a, b) => a < b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

export function evaluateGates(gates: readonly Gate[], metrics: Record<GateMetric, number>): GateResult[] {
  return gates.map((g) => {
    const value = metrics[g.metric];
    return { gate: g.gate, level: g.level, value, passed: compare[g.op](value, g.threshold) };
  });
}

/** A run's reason or warning for a gate that did not pass: the gate and the measured value. */
export function gateMessage(r: GateResult): string {
  return `${r.level === 'fail' ? 'quality gate failed' : 'quality gate warning'}: ${r.gate} (measured ${r.value})`;
}
