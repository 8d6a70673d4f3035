// A run manifest of the real warehouse's size (DATA.md): 667 feature tables with 16,988 columns,
// widths 4 to 232 (median 14), 49 label columns, the key: 17,038 columns in all.

import type { RunManifest, ManifestFeature } from '../../shared/manifest.js';

export const FULL = { features: 667, featureColumns: 16988, labels: 49, columns: 17038 } as const;

export const LABEL_COLUMNS = [45, 90, 180, 360, 720, 1440, 2880].flatMap((w) => [15, 30, 45, 60, 75, 90, 105].map((h) => `target_bqx${w}_h${h}`));

/** 20 x 232 (reg_*), 1 x 4, 340 x 14, 66 x 24, 240 x 25. */
export function fullWidths(): number[] {
  return [...Array(20).fill(232), 4, ...Array(340).fill(14), ...Array(66).fill(24), ...Array(240).fill(25)] as number[];
}

const FAMILIES = ['agg', 'align', 'base', 'der', 'div', 'mom', 'mrt', 'rev', 'vol', 'cyc', 'ext', 'tmp', 'lag', 'regime', 'cov', 'corr', 'tri', 'csi', 'var', 'mkt'];

export function manifestOf(options: {
  runId: string;
  pair: string;
  widths: readonly number[];
  window?: { start: string; end: string };
  featuresDataset?: string;
  labels?: readonly string[];
}): RunManifest {
  const { runId, pair, widths } = options;
  const featuresDataset = options.featuresDataset ?? 'bqx_ml_v3_features_v2';
  const labels = [...(options.labels ?? LABEL_COLUMNS)];
  const features: ManifestFeature[] = widths.map((width, i) => {
    const family = width === 232 ? 'reg' : FAMILIES[i % FAMILIES.length]!;
    const feature = `${family}_bqx_${pair}_${String(i).padStart(3, '0')}`;
    const prefix = `${family}_bqx_${String(i).padStart(3, '0')}`;
    return {
      feature,
      dataset: featuresDataset,
      columns: Array.from({ length: width }, (_, c) => ({ source: `c${c}`, output: `${prefix}_c${c}`, type: 'FLOAT64' })),
      dropped: [],
    };
  });
  return {
    version: 1,
    runId,
    pair,
    createdAt: '2025-01-01T00:00:00.000Z',
    key: 'interval_time',
    window: options.window ?? { start: '2024-01-01T00:00:00.000Z', end: '2024-07-01T00:00:00.000Z' },
    labels: { dataset: 'bqx_ml_v3_analytics_v2', table: `targets_${pair}`, columns: labels, rows: 1000 },
    features,
    columnCount: 1 + labels.length + widths.reduce((a, b) => a + b, 0),
  };
}

export function fullManifest(runId = 'eurusd-20250101t000000-abc123'): RunManifest {
  return manifestOf({ runId, pair: 'eurusd', widths: fullWidths() });
}
