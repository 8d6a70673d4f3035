// report.html: one self-contained page beside report.json (no network, no scripts): the run's
// summary, the quality gates, a chart of null share and coverage by feature family, the key's
// gaps on a timeline, the leakage list, duplicate, constant, stale and warm-up columns, label
// tails, and the schema drift when the report has one. Charts are Vega-Lite specs rendered to
// inline SVG here in Node; this module is imported lazily, only when a report is written.

import { tableFamily } from '../ledger.js';
import type { RunRecord } from '../ports.js';
import type { RunReport } from '../report.js';
import { segmentText, type FoldsFile } from '../folds.js';
import type { GateResult } from './gates.js';

export interface HtmlInput {
  report: RunReport;
  run: Pick<RunRecord, 'runId' | 'pair' | 'state' | 'window' | 'labelRows' | 'timings'>;
  gates: GateResult[];
  /** folds.json as written beside the page. */
  folds: Pick<FoldsFile, 'folds' | 'note' | 'purgeMinutes' | 'embargoMinutes'>;
}

const esc = (text: unknown) => String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Vega and Vega-Lite, imported once (a dynamic import resolves the module again on every call). */
let renderers: Promise<[typeof import('vega'), typeof import('vega-lite')]> | undefined;

/**
 * The chart libraries, their import started on the first call: also by a caller that will render
 * a page later and has time to spare now (about 0.27 s of module loading here), without awaiting
 * (a failure then shows when a chart is rendered).
 */
export function loadRenderers(): Promise<[typeof import('vega'), typeof import('vega-lite')]> {
  if (!renderers) {
    renderers = Promise.all([import('vega'), import('vega-lite')]);
    renderers.catch(() => {});
  }
  return renderers;
}

/** A Vega-Lite spec rendered to an SVG string (no canvas: text is measured by estimate). */
async function svg(spec: Record<string, unknown>): Promise<string> {
  // The same spec renders the same SVG: a few recent ones are kept (the fault sweep writes the
  // same report hundreds of times, and rendering is most of what a simulated run costs).
  const key = JSON.stringify(spec);
  let out = rendered.get(key);
  if (out === undefined) {
    const [vega, vl] = await loadRenderers();
    const compiled = vl.compile(spec as never).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    out = await view.toSVG();
    view.finalize();
    rendered.set(key, out);
    if (rendered.size > 16) rendered.delete(rendered.keys().next().value!);
  }
  return out;
}
const rendered = new Map<string, string>();

/** Null share and coverage per feature family (the table name's first token), cells weighted. */
export function familyRows(report: RunReport): { family: string; measure: string; share: number }[] {
  const by = new Map<string, { cells: number; nulls: number; coverage: number; tables: number }>();
  for (const f of report.features) {
    const family = tableFamily(f.feature);
    const e = by.get(family) ?? { cells: 0, nulls: 0, coverage: 0, tables: 0 };
    const cells = report.labelRows * f.columns;
    e.cells += cells;
    e.nulls += f.nullRate * f.rows * f.columns + (report.labelRows - Math.min(report.labelRows, f.rows)) * f.columns;
    e.coverage += f.coverage;
    e.tables += 1;
    by.set(family, e);
  }
  return [...by.entries()].flatMap(([family, e]) => [
    { family, measure: 'null share', share: e.cells > 0 ? e.nulls / e.cells : 0 },
    { family, measure: 'coverage', share: e.tables > 0 ? e.coverage / e.tables : 0 },
  ]);
}

function familyChart(report: RunReport): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Null share and key coverage by feature family',
    width: 640,
    height: 240,
    data: { values: familyRows(report) },
    mark: 'bar',
    encoding: {
      x: { field: 'family', type: 'nominal', sort: 'ascending', title: 'family' },
      xOffset: { field: 'measure', type: 'nominal' },
      y: { field: 'share', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] }, title: 'share' },
      color: { field: 'measure', type: 'nominal', scale: { domain: ['null share', 'coverage'], range: ['#c0392b', '#2e86c1'] } },
    },
  };
}

function gapChart(report: RunReport): Record<string, unknown> {
  const gaps = report.profile?.gaps.unexpected ?? [];
  const values = [
    { lane: 'window', kind: 'window', from: report.window.start, to: report.window.end },
    ...gaps.map((g) => ({ lane: 'unexpected gaps', kind: `${g.minutes} min missing`, from: g.from, to: g.to })),
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Key timeline: ${gaps.length} unexpected gap(s), ${report.profile?.gaps.weekend ?? 0} weekend closure(s)`,
    width: 640,
    height: 80,
    data: { values },
    mark: { type: 'bar', minBandSize: 3 },
    encoding: {
      y: { field: 'lane', type: 'nominal', title: null },
      x: { field: 'from', type: 'temporal', timeUnit: 'utcyearmonthdatehoursminutes', title: 'time (UTC)' },
      x2: { field: 'to' },
      color: { field: 'lane', type: 'nominal', scale: { domain: ['window', 'unexpected gaps'], range: ['#aed6f1', '#c0392b'] }, legend: null },
    },
  };
}

const table = (head: string[], rows: unknown[][]) =>
  rows.length === 0
    ? '<p class="none">none</p>'
    : `<table>${head.some((h) => h !== '') ? `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` : ''}<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;

const list = (items: string[]) => (items.length === 0 ? '<p class="none">none</p>' : `<ul>${items.map((i) => `<li><code>${esc(i)}</code></li>`).join('')}</ul>`);

export async function renderReportHtml(input: HtmlInput): Promise<string> {
  const { report, run, gates } = input;
  const p = report.profile;
  const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const summary: [string, unknown][] = [
    ['run', run.runId],
    ['pair', run.pair],
    ['status', run.state],
    ['window', `${run.window.start} to ${run.window.end}`],
    ['rows', report.labelRows.toLocaleString('en-US')],
    ['columns', report.totals.columns.toLocaleString('en-US')],
    ['features', report.totals.features],
    ['null share (all feature cells)', `${(report.totals.nullRate * 100).toFixed(2)} %`],
    ['time folds', input.folds.folds.length],
    ['extract / merge / profile', `${seconds(run.timings.extract_ms)} / ${seconds(run.timings.merge_ms)} / ${seconds(run.timings.profile_ms)}`],
  ];
  const drift = (report as unknown as Record<string, unknown>).schemaDrift ?? (report as unknown as Record<string, unknown>).drift;
  const sections = [
    `<h1>bqx dataset report: ${esc(run.pair)}</h1>`,
    `<section><h2>Summary</h2>${table(['', ''], summary)}</section>`,
    `<section><h2>Quality gates</h2>${table(['gate', 'level', 'measured', 'result'], gates.map((g) => [g.gate, g.level, g.value, g.passed ? 'passed' : 'NOT PASSED']))}</section>`,
    `<section><h2>Warnings</h2>${list(report.warnings)}</section>`,
    `<section><h2>Null share and coverage by family</h2><figure>${await svg(familyChart(report))}</figure></section>`,
    // Without a column profile (BQX_PROFILE=keys) its findings are not measured: said, not shown as none found.
    ...(p
      ? [
          `<section><h2>Gaps in the key</h2><figure>${await svg(gapChart(report))}</figure>${table(['from', 'to', 'minutes'], p.gaps.unexpected.map((g) => [g.from, g.to, g.minutes]))}</section>`,
          `<section><h2>Leakage</h2>${p.labelsSampled === 0 ? '<p class="none">not measured: no label has a value in the sample the screen compares</p>' : table(['feature', 'label', 'correlation', 'shift (rows)'], p.leakage.map((l) => [l.feature, l.label, l.correlation, l.shiftRows]))}</section>`,
          `<section><h2>Duplicate columns</h2>${list(p.duplicates.map((g) => g.join(' = ')))}</section>`,
          `<section><h2>Constant columns</h2>${list(p.constant)}</section>`,
          `<section><h2>Stale columns (repeat share at least ${p.settings.staleShare})</h2>${table(['column', 'repeat share', 'longest run'], p.stale.map((c) => { const s = p.columns.find((x) => x.column === c); return [c, s?.repeatShare.toFixed(3), s?.longestRun]; }))}</section>`,
          `<section><h2>Warm-up nulls (first ${p.settings.warmupRows} rows)</h2>${list(p.warmup)}</section>`,
          `<section><h2>Label tails</h2>${table(['label', 'horizon (min)', 'null rows at the end'], p.labels.map((l) => [l.label, l.horizonMinutes, l.tailNulls]))}</section>`,
        ]
      : ['<section><h2>Column profile</h2><p class="none">not measured (BQX_PROFILE=keys): only the key gaps (the unexpected_gaps gate) and the fold rows were; the findings below the gates need the column profile</p></section>']),
    `<section><h2>Time folds</h2><p>${esc(`folds.json: purge ${input.folds.purgeMinutes} + embargo ${input.folds.embargoMinutes} minutes between segments; ${input.folds.note}`)}</p>${table(['fold', 'train', 'validation', 'test'], input.folds.folds.map((f) => [f.index, segmentText(f.train), segmentText(f.validation), segmentText(f.test)]))}</section>`,
    ...(drift ? [`<section><h2>Schema drift</h2><pre>${esc(JSON.stringify(drift, null, 1))}</pre></section>`] : []),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bqx report ${esc(run.runId)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f6f7}h2{margin-top:28px;border-bottom:1px solid #eee}.none{color:#888}code{font-size:13px}
</style></head><body>
${sections.join('\n')}
</body></html>
`;
}
