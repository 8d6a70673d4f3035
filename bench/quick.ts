// Start-up of the quick commands, as a user types them: `bqx --help`, `bqx status` and a bad
// input, each a fresh process (median of a few runs, on an empty BQX_HOME). Goal: at most 1 s.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median } from './common.js';
import { REPO_ROOT } from './setid.js';

const COMMANDS: Record<string, string[]> = { help: ['--help'], status: ['status'], 'bad input': ['run', 'eurxyz'] };

export function measureQuick(runs = 5): Record<string, number> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'bqx-bench-quick-'));
  try {
    const out: Record<string, number> = {};
    for (const [name, args] of Object.entries(COMMANDS)) {
      const walls: number[] = [];
      for (let i = 0; i < runs; i++) {
        const began = process.hrtime.bigint();
        spawnSync(process.execPath, [path.join(REPO_ROOT, 'shared', 'cli', 'bqx.mjs'), ...args], { env: { ...process.env, BQX_HOME: home }, stdio: 'ignore' });
        walls.push(Number(process.hrtime.bigint() - began) / 1e9);
      }
      out[name] = Math.round(median(walls) * 1000) / 1000;
    }
    return out;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
