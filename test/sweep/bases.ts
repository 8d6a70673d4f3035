// For the sweep's test files: one base (demo warehouse and kept jobs) per shape per test process,
// closed when the whole run ends, so the files share the cost of building it.

import { openBase, type Base, type SweepShape } from './world.js';

const opened = new Map<SweepShape, Promise<Base>>();

export function sharedBase(shape: SweepShape): Promise<Base> {
  let base = opened.get(shape);
  if (!base) opened.set(shape, (base = openBase(shape)));
  return base;
}

after(async () => {
  for (const base of opened.values()) await (await base.catch(() => undefined))?.close();
  opened.clear();
});
