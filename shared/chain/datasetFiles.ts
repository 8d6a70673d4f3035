// The files written beside a dataset's _manifest.json and report.json: folds.json (time folds,
// shared/folds.ts), report.html (one self-contained page, shared/profile/html.ts) and the raw column
// profile under profile/ (shared/chain/profileReuse.ts). The page's charting library is loaded only
// here, when a run finishes, so the CLI starts without it.

import { allSettledOrThrow } from '../concurrency.js';
import { foldsFile, labelledFolds } from '../folds.js';
import { paths } from '../naming.js';
import type { RunRecord } from '../ports.js';
import type { RunReport } from '../report.js';
import type { ChainDeps } from './deps.js';
import { keepProfile } from './profileReuse.js';
import type { Quality } from './quality.js';

/** The parts of the output manifest the extra files read; `shards` when the dataset has row shards. */
export interface ManifestView {
  rows: number;
  shards?: { index: number; rows: number }[];
}

/** The page renderer, imported on first use and kept (a dynamic import resolves the module again on every call). */
let reportHtml: Promise<typeof import('../profile/html.js')> | undefined;
const pageRenderer = () => (reportHtml ??= import('../profile/html.js'));

/**
 * Starts loading the page renderer and its chart libraries, so that a merge's wait (the warehouse's
 * own work) covers it instead of the end of the run. A failure shows when the page is written.
 */
export function prepareDatasetExtras(): void {
  pageRenderer().then((m) => void m.loadRenderers(), () => {});
}

export async function writeDatasetExtras(deps: ChainDeps, run: RunRecord, manifest: ManifestView, report: RunReport, quality: Quality): Promise<void> {
  // The raw profile first: its sample (about 77 MB) is written off this thread (the folder store's
  // parts, a bucket's upload) while the page is rendered here, and the caller's JSON after that.
  const kept = keepProfile(deps, run, quality.stored);
  const page = (async () => {
    const shards = Array.isArray(manifest.shards) && manifest.shards.length > 0 ? manifest.shards : [{ index: 0, rows: manifest.rows }];
    const labelled = labelledFolds(quality.folds, quality.cutRows, quality.labelledRows);
    const folds = foldsFile(labelled.plan, labelled.cutRows, shards);
    await deps.output.write(paths.outputFolds(run.pair, run.runId), JSON.stringify(folds, null, 1), { contentType: 'application/json' });
    const { renderReportHtml } = await pageRenderer();
    const html = await renderReportHtml({ report, run, gates: quality.gates, folds });
    await deps.output.write(paths.outputPage(run.pair, run.runId), html, { contentType: 'text/html' });
  })();
  // Both finished before this returns, whichever fails: nothing is left writing behind a failure.
  await allSettledOrThrow([kept, page]);
}
