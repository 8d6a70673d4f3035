// The scaling curve's data: each `npm run bench` records its row count's point (merge and whole
// run, wall and peak RSS; the demo build and the first run apart) in bench/results/scaling.json,
// replacing an earlier point of the same rows, and redraws bench/results/scaling.svg.

import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { renderScalingSvg, type ScalingPoint } from './chart.js';
import { BENCH_ROOT } from './setid.js';

export const SCALING_JSON = path.join(BENCH_ROOT, 'results', 'scaling.json');
export const SCALING_SVG = path.join(BENCH_ROOT, 'results', 'scaling.svg');

export async function recordScalingPoint(point: ScalingPoint, file = SCALING_JSON, svg = SCALING_SVG): Promise<ScalingPoint[]> {
  const earlier = existsSync(file) ? (JSON.parse(await fs.readFile(file, 'utf8')) as { points: ScalingPoint[] }).points : [];
  const previous = earlier.find((p) => p.rows === point.rows);
  const points = [...earlier.filter((p) => p.rows !== point.rows), previous ? keepUnmeasured(previous, point) : point].sort((a, b) => a.rows - b.rows);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, `${JSON.stringify({ what: 'bqx time and memory against rows: merge and whole bqx run, from npm run bench', points }, null, 1)}\n`);
  await fs.writeFile(svg, await renderScalingSvg(points));
  return points;
}

/**
 * `point` with the measures it lacks (a bench run with --only merge has no whole run) taken from
 * the earlier point of the same rows, which says so in `source`: a partial run never erases a curve.
 */
function keepUnmeasured(previous: ScalingPoint, point: ScalingPoint): ScalingPoint {
  const kept: string[] = [];
  const out = { ...point };
  for (const [wall, rss, name] of [['merge_wall_s', 'merge_peak_rss_mb', 'merge'], ['run_wall_s', 'run_peak_rss_mb', 'run']] as const) {
    if (out[wall] === null && previous[wall] !== null) {
      out[wall] = previous[wall];
      out[rss] = previous[rss];
      kept.push(name);
    }
  }
  return kept.length > 0 ? { ...out, source: `${point.source}; ${kept.join(' and ')} from ${previous.source.split(';')[0]} (${previous.measured_at})` } : out;
}

/** Wall time of growth from the smallest point, against growth in input bytes (1.0 = linear). */
export function linearity(points: ScalingPoint[], wall: (p: ScalingPoint) => number | null): { rows: number; vs_linear: number }[] {
  const base = points.find((p) => wall(p) !== null);
  if (!base) return [];
  return points
    .filter((p) => p !== base && wall(p) !== null)
    .map((p) => ({ rows: p.rows, vs_linear: Math.round(((wall(p)! / wall(base)!) / (p.input_gib / base.input_gib)) * 1000) / 1000 }));
}
