// The embedded runtime's records without its warehouse: the run store and the output folder.
// `bqx status` reads only these, so it answers without loading DuckDB and works while a run in
// another process holds the warehouse file.

import type { Config } from '../config.js';
import { FileRunStore } from '../adapters/local/fileRunStore.js';
import { FolderObjectStore } from '../adapters/local/folderStore.js';
import { embeddedPaths } from './paths.js';

export interface Records {
  store: FileRunStore;
  output: FolderObjectStore;
  close(): Promise<void>;
}

export function openRecords(config: Config): Records {
  const where = embeddedPaths(config.embedded.home);
  const store = new FileRunStore(where.store);
  return { store, output: new FolderObjectStore(where.output, 'output'), close: () => store.close() };
}
