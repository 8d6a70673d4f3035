// Where the embedded runtime keeps everything under BQX_HOME. Its own file, free of DuckDB, so the
// quick commands (help, status, bad input) can name the folders without loading the warehouse.

import path from 'node:path';

export function embeddedPaths(home: string) {
  const root = path.resolve(home);
  return {
    root,
    warehouse: path.join(root, 'warehouse.duckdb'),
    staging: path.join(root, 'staging'),
    output: path.join(root, 'output'),
    store: path.join(root, 'runstore'),
    logs: path.join(root, 'logs'),
    /** The emulator stack's Firestore data between stacks (keptFirestore.ts). */
    emulatorData: path.join(root, 'emulators', 'firestore'),
  };
}
