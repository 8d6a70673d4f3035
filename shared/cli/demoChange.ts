// `bqx demo --touch t1,t2` and `bqx demo --append 1d`: change the demo warehouse as the real one
// changes (tables rewritten in place, new minutes appended), each change a new data version.

import type { Config } from '../config.js';
import { appendMinutes, parseDuration, touchTables } from '../demo/change.js';
import { NULL_LABEL_TAIL } from '../demo/generate.js';
import { InputError } from '../naming.js';
import type { Embedded } from '../runtime/embedded.js';
import { demoDatasets, readDemoState, writeDemoState, type DemoState } from './demo.js';
import { stringFlag, type Args } from './args.js';
import { ProgressBar } from './progress.js';

/** Validates the change flags before anything is opened; undefined when there is no change. */
export function demoChange(args: Args): { touch?: string[]; appendMinutes?: number } | undefined {
  const touch = stringFlag(args, 'touch');
  const append = stringFlag(args, 'append');
  if (touch === undefined && append === undefined) return undefined;
  if (touch !== undefined && append !== undefined) throw new InputError('give --touch or --append, not both');
  if (args.flags.has('pairs') || args.flags.has('rows')) throw new InputError('--touch and --append change the demo as built: no --pairs or --rows');
  if (touch !== undefined) return { touch: touch.split(',').map((t) => t.trim()).filter((t) => t.length > 0) };
  return { appendMinutes: parseDuration(append!) };
}

/**
 * The demo a change applies to, refused before anything is opened where `bqx demo` built none (or
 * its build was cut off): --touch writes new values, and must never write them into the user's own
 * tables; --append continues the demo's series.
 */
export async function demoToChange(home: string, change: { touch?: string[] }): Promise<DemoState> {
  const state = await readDemoState(home);
  if (!state) {
    const what = change.touch ? 'touch (--touch changes only tables bqx demo built)' : 'append to';
    throw new InputError(`no demo warehouse here to ${what}: build one with bqx demo (or bqx run)`);
  }
  if (state.building) throw new InputError('the demo warehouse\'s build was cut off: build it again with bqx demo (or bqx run)');
  if (state.appending) throw new InputError(`the demo warehouse's last --append was cut off (some tables have its minutes, others not): build it again with bqx demo --rows ${state.rows} (or bqx run)`);
  return state;
}

export async function changeDemo(embedded: Embedded, config: Config, change: { touch?: string[]; appendMinutes?: number }, state: DemoState): Promise<string> {
  const datasets = demoDatasets(config);
  if (change.touch) {
    const bar = new ProgressBar('touch', change.touch.length);
    const touched = await touchTables(embedded.warehouse, datasets, change.touch, (done, total) => bar.update(done, total));
    return `touched ${touched.length} table(s): ${touched.map((t) => t.table).join(', ')} (same rows, new values, new data version)`;
  }
  const bar = new ProgressBar('append', 1);
  await writeDemoState(embedded.home, { ...state, appending: true });
  const result = await appendMinutes(embedded.warehouse, datasets, { pairs: state.pairs, built: state.rows, appended: state.appended ?? 0 }, change.appendMinutes!, (done, total) => bar.update(done, total));
  await writeDemoState(embedded.home, { ...state, appended: (state.appended ?? 0) + result.minutes }); // `appending` cleared
  const minutes = NULL_LABEL_TAIL.toLocaleString('en-US');
  const filled = result.filledLabelRows > 0 ? `; ${result.filledLabelRows.toLocaleString('en-US')} earlier label row(s) filled in (labels look ${minutes} minutes ahead: the last ${minutes} minutes stay null)` : '';
  return `appended ${result.minutes} minute(s) to ${state.pairs.length} label table(s) and ${result.featureTables} feature tables; labels now end at ${result.lastKey}${filled}`;
}
