// The emulator stack's Firestore data, kept between stacks under BQX_HOME/emulators/firestore. The
// emulator holds its documents in memory: without this, each `--stack emulators` began with no run
// records while BQX_HOME's folders kept every earlier stack's files, so `--refresh` was refused ("no
// succeeded run to refresh from"), and retention, knowing no earlier run, never removed their
// checkpoints and datasets. The stack starts the emulator from the last export
// (`--import-data`), and exports before it stops it, through the emulator's own export endpoint
// (`--export-on-exit` needs a shutdown the stack's SIGTERM to the Java server does not give).
//
//   emulators/firestore/
//     export-<ms>/...                 an export (the emulator names its metadata file inside)
//     current.json                    {"export": "export-<ms>"}: the one to import, written last

import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Emulator } from './emulators.js';

const POINTER = 'current.json';

export class KeptFirestore {
  constructor(readonly dir: string) {}

  /** Whether an export is pointed at (complete or not): the stack has kept records here. */
  async pointed(): Promise<boolean> {
    return fs.access(path.join(this.dir, POINTER)).then(() => true, () => false);
  }

  /** The metadata file of the last complete export, for `--import-data`; undefined when there is none. */
  async importFile(): Promise<string | undefined> {
    let name: string;
    try {
      name = (JSON.parse(await fs.readFile(path.join(this.dir, POINTER), 'utf8')) as { export: string }).export;
    } catch {
      return undefined; // none kept yet (or unreadable: the stack starts empty, as before)
    }
    return findMetadata(path.join(this.dir, name));
  }

  /**
   * Exports `emulator`'s documents to a new folder, then points at it and removes the older ones.
   * A stop that fails midway leaves the previous export in use.
   */
  async save(emulator: Pick<Emulator, 'host' | 'project'>, now = Date.now()): Promise<void> {
    const name = `export-${now}`;
    const target = path.join(this.dir, name);
    await fs.mkdir(target, { recursive: true });
    const response = await fetch(`http://${emulator.host}/emulator/v1/projects/${emulator.project}:export`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ database: `projects/${emulator.project}/databases/(default)`, export_directory: target }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`the Firestore emulator's export failed: HTTP ${response.status} ${text.slice(0, 300)}`);
    if ((await findMetadata(target)) === undefined) throw new Error(`the Firestore emulator's export left no metadata file in ${target}`);
    const temp = path.join(this.dir, `${POINTER}.${now}.tmp`);
    await fs.writeFile(temp, JSON.stringify({ export: name }));
    await fs.rename(temp, path.join(this.dir, POINTER));
    for (const entry of await fs.readdir(this.dir)) {
      if (entry !== name && entry !== POINTER && entry.startsWith('export-')) await fs.rm(path.join(this.dir, entry), { recursive: true, force: true });
    }
  }
}

/** The `.overall_export_metadata` file an export wrote under `dir` (in a folder of its own naming). */
async function findMetadata(dir: string): Promise<string | undefined> {
  let entries: string[];
  try {
    entries = await fs.readdir(dir, { recursive: true });
  } catch {
    return undefined;
  }
  const found = entries.find((e) => e.endsWith('.overall_export_metadata'));
  return found === undefined ? undefined : path.join(dir, found);
}
