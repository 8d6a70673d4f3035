// report.html in a real browser: Debian's headless Chromium loads the page from a file, with no
// network, and must log no console errors; a screenshot is saved for a person to look at. Where
// Chromium is missing (.ci/run installs it), the test says SKIPPED and why, and is pending.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatReport } from '../../shared/cli/report.js';
import { renderReportHtml } from '../../shared/profile/html.js';
import type { FoldsFile } from '../../shared/folds.js';
import type { RunReport } from '../../shared/report.js';
import { tempDir } from '../helpers/temp.js';

function chromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

const window = { start: '2020-01-09T00:00:00.000Z', end: '2020-01-13T04:00:00.000Z' };
const report: RunReport = {
  runId: 'eurusd-20260101t000000-abcdef',
  pair: 'eurusd',
  window,
  labelRows: 6000,
  features: [
    { feature: 'agg_eurusd', columns: 10, rows: 6000, sourceRows: 6000, duplicates: 0, nullRate: 0.02, coverage: 1, firstKey: window.start, lastKey: window.end, bytes: 1, allNull: false },
    { feature: 'corr_etf_idx_eurusd_spy', columns: 8, rows: 6000, sourceRows: 6000, duplicates: 0, nullRate: 1, coverage: 1, firstKey: window.start, lastKey: window.end, bytes: 1, allNull: true },
    { feature: 'corr_bqx_ibkr_eurusd_vixy', columns: 5, rows: 3600, sourceRows: 3600, duplicates: 0, nullRate: 0.02, coverage: 0.6, firstKey: window.start, lastKey: window.end, bytes: 1, allNull: false },
  ],
  totals: { features: 3, columns: 73, duplicates: 0, nullRate: 0.3, allNullFeatures: 1, partialFeatures: 1, extracted: 3, reused: 0 },
  warnings: ['1 feature(s) entirely null: corr_etf_idx_eurusd_spy'],
  profile: {
    settings: { warmupRows: 1440, staleShare: 0.5, sampleRows: 6000, leakageThreshold: 0.99 },
    columns: [{ column: 'mkt_vol_mean_45', nullShare: 0, warmupNullShare: 0, constant: false, repeatShare: 0.7, longestRun: 4200, inf: 0, nan: 0, beyond10sd: 0 }],
    constant: ['mkt_regime_mean_45'],
    duplicates: [['mkt_agg_mean_90', 'mkt_der_mean_90']],
    stale: ['mkt_vol_mean_45'],
    warmup: ['mkt_div_mean_45'],
    labels: [{ label: 'target_bqx45_h15', horizonMinutes: 15, tailNulls: 2880, expected: 15 }],
    gaps: { weekend: 1, unexpected: [{ from: '2020-01-10T06:00:00Z', to: '2020-01-10T07:30:00Z', minutes: 90 }] },
    leakage: [{ feature: 'der_mean_45', label: 'target_bqx45_h30', correlation: 1, shiftRows: 10 }],
    outliers: [],
  },
  gates: [{ gate: 'leakage == 0', level: 'warn', value: 1, passed: false }],
};

const segment = (from: string, to: string, start: number, end: number) => ({ from, to, rows: [{ shard: 0, start, end }] });
const folds = {
  purgeMinutes: 105,
  embargoMinutes: 60,
  note: 'sizes as configured',
  folds: [{ index: 0, train: segment('2020-01-06T00:00:00.000Z', '2020-01-08T00:00:00.000Z', 0, 2880), validation: segment('2020-01-08T02:45:00.000Z', '2020-01-08T12:00:00.000Z', 3045, 3600), test: segment('2020-01-08T13:45:00.000Z', '2020-01-08T18:00:00.000Z', 3705, 3960) }],
};

describe('report.html in headless Chromium', function () {
  this.timeout(120_000);

  it('says the column profile was not measured (BQX_PROFILE=keys) rather than showing no findings; bqx report too', async () => {
    const { profile: _, ...keysOnly } = report;
    const html = await renderReportHtml({ report: keysOnly, run: { runId: report.runId, pair: 'eurusd', state: 'succeeded', window, labelRows: 6000, timings: {} }, gates: report.gates!, folds });
    assert.match(html, /<h2>Column profile<\/h2><p class="none">not measured \(BQX_PROFILE=keys\)/);
    assert.doesNotMatch(html, /<h2>(Leakage|Constant columns|Gaps in the key)<\/h2>/);
    assert.match(html, /<h2>Time folds<\/h2>/);
    const text = formatReport(report.runId, 'succeeded', keysOnly, 'report.html', folds as FoldsFile);
    assert.match(text, /\ncolumns not profiled \(BQX_PROFILE=keys\): only the key gaps \(the unexpected_gaps gate\) and the fold rows were measured; the gates that need the column profile were not checked\n\ntime folds \(folds\.json: purge 105 \+ embargo 60 minutes\): 1\n  - 0: train 2020-01-06T00:00/);
    assert.doesNotMatch(text, /made before profiling existed/);
  });

  it('renders with no console errors and no network; a screenshot is saved', async function () {
    const html = await renderReportHtml({ report, run: { runId: report.runId, pair: 'eurusd', state: 'succeeded', window, labelRows: 6000, timings: { extract_ms: 1000, merge_ms: 500, profile_ms: 300 } }, gates: report.gates!, folds });
    assert.equal((html.match(/<svg/g) ?? []).length, 2, 'two charts, inline SVG');
    assert.doesNotMatch(html, /<script/);
    assert.match(html, /<h2>Time folds<\/h2><p>folds\.json: purge 105 \+ embargo 60 minutes between segments; sizes as configured<\/p>.*<td>0<\/td><td>2020-01-06T00:00 to 2020-01-08T00:00 \(2,880 rows\)<\/td><td>2020-01-08T02:45 to 2020-01-08T12:00 \(555 rows\)<\/td><td>2020-01-08T13:45 to 2020-01-08T18:00 \(255 rows\)<\/td>/);
    const dir = tempDir('report-html');
    const page = path.join(dir, 'report.html');
    writeFileSync(page, html);
    const browser = chromium();
    if (!browser) {
      console.log('      SKIPPED: report.html in a browser, because no chromium is installed (.ci/run installs Debian\'s chromium with apt-get)');
      this.skip();
    }
    const shot = path.resolve(process.env.BQX_SCREENSHOT_DIR ?? dir, 'report-html.png');
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--proxy-server=127.0.0.1:9', '--enable-logging=stderr', '--v=0'];
    const shotRun = spawnSync(browser!, [...flags, `--screenshot=${shot}`, '--window-size=1100,2400', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
    assert.ok(existsSync(shot) && statSync(shot).size > 10_000, `screenshot written (${shotRun.stderr.slice(-400)})`);
    // Console messages of the page: Chromium logs them as CONSOLE lines; none may be an error.
    const dom = spawnSync(browser!, [...flags, '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(dom.status, 0, dom.stderr.slice(-400));
    assert.match(dom.stdout, /Quality gates/);
    const consoleErrors = (shotRun.stderr + dom.stderr).split('\n').filter((l) => /CONSOLE|Uncaught|ERR_/.test(l) && !/ERR_PROXY|ERR_NETWORK_CHANGED/.test(l));
    assert.deepEqual(consoleErrors, [], 'no console errors');
    assert.ok(readFileSync(shot).subarray(1, 4).toString() === 'PNG');
  });
});
