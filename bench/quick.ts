// Start-up of the quick commands, as a user types them: `bqx --help`, `bqx status` and a bad
// input, each a fresh process (median of a few runs, on an empty BQX_HOME). Goal: at most 1 s.
// Beside them, the floors: node starting with nothing (`node -e 0`) and with tsx's loader alone
// (`node --import tsx -e 0`), and whether the bin ran the precompiled CLI (shared/cli/compiled.cjs).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compiledMain } from '../shared/cli/compiled.cjs';
import { median } from './common.js';
import { REPO_ROOT } from './setid.js';

const BIN = path.join(REPO_ROOT, 'shared', 'cli', 'bqx.mjs');
const COMMANDS: Record<string, string[]> = { help: [BIN, '--help'], status: [BIN, 'status'], 'bad input': [BIN, 'run', 'eurxyz'] };
const FLOORS: Record<string, string[]> = { 'node -e 0': ['-e', '0'], 'node --import tsx -e 0': ['--import', 'tsx', '-e', '0'] };

export interface QuickResult {
  /** The three commands' median wall, s: what the goal is about. */
  commands: Record<string, number>;
  floors: Record<string, number>;
  /** True when the bin ran the precompiled CLI (dist/cli, fresh); false: through tsx. */
  compiled: boolean;
}

export function measureQuick(runs = 5): QuickResult {
  const home = mkdtempSync(path.join(os.tmpdir(), 'bqx-bench-quick-'));
  try {
    const time = (args: string[]) => {
      const walls: number[] = [];
      for (let i = 0; i < runs; i++) {
        const began = process.hrtime.bigint();
        spawnSync(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, BQX_HOME: home }, stdio: 'ignore' });
        walls.push(Number(process.hrtime.bigint() - began) / 1e9);
      }
      return Math.round(median(walls) * 1000) / 1000;
    };
    const commands = Object.fromEntries(Object.entries(COMMANDS).map(([name, args]) => [name, time(args)]));
    const floors = Object.fromEntries(Object.entries(FLOORS).map(([name, args]) => [name, time(args)]));
    return { commands, floors, compiled: compiledMain(REPO_ROOT) !== null };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
