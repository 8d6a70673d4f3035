// The scaling curve as an SVG chart: wall time and peak RSS of the merge and of the whole
// `bqx run` against rows, from bench/results/scaling.json. Drawn by vega-lite, compiled to a vega
// spec and rendered to SVG in Node (no browser, no network).
// Usage: node --import tsx bench/chart.ts [--in bench/results/scaling.json] [--out bench/results/scaling.svg]

import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { flags } from './common.js';
import { REPO_ROOT } from './setid.js';

/** One row count's figures, as bench/run.ts records them. */
export interface ScalingPoint {
  rows: number;
  merge_wall_s: number | null;
  merge_peak_rss_mb: number | null;
  run_wall_s: number | null;
  run_peak_rss_mb: number | null;
  demo_build_s: number | null;
  first_run_s: number | null;
  input_gib: number;
  load1: number | null;
  measured_at: string;
  /** The results file the point comes from. */
  source: string;
}

/** Long-format rows for the chart: one per (rows, phase, measure). */
function chartRows(points: ScalingPoint[]) {
  const out: { rows: number; phase: string; measure: string; value: number }[] = [];
  for (const p of points) {
    const add = (phase: string, measure: string, value: number | null) => {
      if (value !== null) out.push({ rows: p.rows, phase, measure, value });
    };
    add('merge', 'wall time (s)', p.merge_wall_s);
    add('whole bqx run', 'wall time (s)', p.run_wall_s);
    add('merge', 'peak RSS (MB)', p.merge_peak_rss_mb);
    add('whole bqx run', 'peak RSS (MB)', p.run_peak_rss_mb);
  }
  return out;
}

export async function renderScalingSvg(points: ScalingPoint[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'bqx: time and memory against rows (17,038 columns)',
    data: { values: chartRows(points) },
    facet: { column: { field: 'measure', type: 'nominal', title: null, sort: ['wall time (s)', 'peak RSS (MB)'] } },
    spec: {
      width: 300,
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'rows', type: 'quantitative', scale: { type: 'log' }, title: 'label rows (log scale)' },
        y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: null },
        color: { field: 'phase', type: 'nominal', title: null },
        tooltip: [{ field: 'rows' }, { field: 'phase' }, { field: 'value' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const f = flags();
  const input = path.resolve(REPO_ROOT, f.get('in') ?? 'bench/results/scaling.json');
  const output = path.resolve(REPO_ROOT, f.get('out') ?? 'bench/results/scaling.svg');
  const points = (JSON.parse(await fs.readFile(input, 'utf8')) as { points: ScalingPoint[] }).points;
  await fs.writeFile(output, await renderScalingSvg(points));
  process.stdout.write(`written: ${path.relative(process.cwd(), output)}\n`);
}
