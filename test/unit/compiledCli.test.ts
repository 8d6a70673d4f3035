// The bin's choice between the precompiled CLI and tsx (shared/cli/compiled.cjs): the compiled
// main only while its build stamp is at least as new as every source; an edited, added or
// removed source, or a changed tsconfig, sends the bin back to tsx so an edit takes effect at once.

import assert from 'node:assert/strict';
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILD_DIR, BUILD_STAMP, compiledMain } from '../../shared/cli/compiled.cjs';
import { tempDir } from '../helpers/temp.js';

/** A repository with two sources and a build stamped at `builtAt` (sources at t = 1000 s). */
function repo(builtAt: number | null): string {
  const root = tempDir('compiled');
  mkdirSync(path.join(root, 'shared', 'cli'), { recursive: true });
  mkdirSync(path.join(root, 'functions'), { recursive: true });
  for (const file of ['shared/naming.ts', 'shared/cli/main.ts', 'shared/cli/bqx.mjs', 'functions/extract.ts', 'tsconfig.json']) {
    writeFileSync(path.join(root, file), '');
    utimesSync(path.join(root, file), 1000, 1000);
  }
  for (const dir of ['shared/cli', 'shared', 'functions']) utimesSync(path.join(root, dir), 1000, 1000);
  if (builtAt !== null) {
    mkdirSync(path.join(root, BUILD_DIR), { recursive: true });
    writeFileSync(path.join(root, BUILD_DIR, BUILD_STAMP), '');
    utimesSync(path.join(root, BUILD_DIR, BUILD_STAMP), builtAt, builtAt);
  }
  return root;
}

describe('the bin: precompiled CLI or tsx', () => {
  it('uses the build when it is newer than every source', () => {
    const root = repo(2000);
    assert.equal(compiledMain(root), path.join(root, BUILD_DIR, 'shared', 'cli', 'main.js'));
  });

  it('falls back to tsx without a build', () => {
    assert.equal(compiledMain(repo(null)), null);
  });

  it('falls back to tsx when a source was edited after the build', () => {
    const root = repo(2000);
    utimesSync(path.join(root, 'shared', 'naming.ts'), 3000, 3000);
    assert.equal(compiledMain(root), null);
  });

  it('falls back to tsx when a function entry point (served by the emulator stack) was edited', () => {
    const root = repo(2000);
    utimesSync(path.join(root, 'functions', 'extract.ts'), 3000, 3000);
    assert.equal(compiledMain(root), null);
  });

  it('falls back to tsx when a file was added or removed in a folder after the build', () => {
    const root = repo(2000);
    rmSync(path.join(root, 'shared', 'cli', 'main.ts'));
    assert.equal(compiledMain(root), null, 'the folder changed after the build');
  });

  it('falls back to tsx when the compiler settings changed after the build', () => {
    const root = repo(2000);
    utimesSync(path.join(root, 'tsconfig.json'), 3000, 3000);
    assert.equal(compiledMain(root), null);
  });

  it('ignores files that are not sources (a stray log beside them)', () => {
    const root = repo(2000);
    writeFileSync(path.join(root, 'shared', 'cli', 'notes.txt'), '');
    utimesSync(path.join(root, 'shared', 'cli', 'notes.txt'), 3000, 3000);
    utimesSync(path.join(root, 'shared', 'cli'), 1000, 1000);
    assert.equal(compiledMain(root), path.join(root, BUILD_DIR, 'shared', 'cli', 'main.js'));
  });
});
