// For the sweep's test files: one base (demo warehouse and kept jobs) per shape per test process,
// shared by the files that process runs, so they share the cost of building it. Its folder is in
// the run's cache folder (test/helpers/sharedCache.ts `cacheRoot`), removed when the run ends:
// a root-level after() here ran after the first file of a --parallel worker only (see
// test/helpers/hooks.ts), so the bases later files opened were never removed (about 24 folders of
// up to 30 MB in /tmp a run).

import { cacheRoot } from '../helpers/sharedCache.js';
import { openBase, type Base, type SweepShape } from './world.js';

const opened = new Map<SweepShape, Promise<Base>>();

export function sharedBase(shape: SweepShape): Promise<Base> {
  let base = opened.get(shape);
  if (!base) opened.set(shape, (base = openBase(shape, 'memory', cacheRoot())));
  return base;
}
