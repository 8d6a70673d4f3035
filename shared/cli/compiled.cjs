// Which main the bqx command loads: the CLI precompiled to JavaScript (`npm run build:cli`, run
// by `npm ci` through `prepare`) when it is at least as new as every TypeScript source under
// shared/ and functions/, else none and the bin compiles through tsx. Plain JavaScript: it runs before tsx is
// loaded, and tsx's start-up alone costs more than node's whole start (see the README's bench).
// CommonJS: the bin imports it, and the thread pool run from the sources (threadPool.ts) requires
// it synchronously, as it starts its threads, to run the compiled worker modules when they are current.
'use strict';

const { readdirSync, statSync } = require('node:fs');
const path = require('node:path');

/** Written last by `npm run build:cli`: its time is the build's. */
const BUILD_STAMP = '.built';
/** Where `npm run build:cli` writes (tsconfig.cli.json's outDir), relative to the repository. */
const BUILD_DIR = path.join('dist', 'cli');

/**
 * The compiled main.js of the repository at `root`, or null when it is missing or older than a
 * source (an edited, added or checked-out file is newer than the stamp): then tsx it is.
 */
function compiledMain(root) {
  const dir = path.join(root, BUILD_DIR);
  let built;
  try {
    built = statSync(path.join(dir, BUILD_STAMP)).mtimeMs;
  } catch {
    return null;
  }
  // shared/ is the CLI and the core; functions/ holds the entry points the emulator stack serves.
  for (const dir of ['shared', 'functions']) if (newestSource(path.join(root, dir)) > built) return null;
  for (const config of ['tsconfig.json', 'tsconfig.cli.json']) {
    if (statSync(path.join(root, config), { throwIfNoEntry: false })?.mtimeMs > built) return null;
  }
  return path.join(dir, 'shared', 'cli', 'main.js');
}

/** The newest modification time of the .ts and .mjs files (and folders: a deleted file) under `dir`. */
function newestSource(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (/\.(ts|mjs)$/.test(entry.name)) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * Runs `npm run build:cli` in the repository at `root` when its compiled CLI is missing or older
 * than a source (`log` says so first); whether the build is current afterwards. For what must not
 * time or test tsx by accident: the bench and `npm test`.
 */
function buildIfStale(root, log) {
  if (compiledMain(root) !== null) return true;
  log('the precompiled CLI is older than the sources: npm run build:cli');
  // Required here: the bin loads this module on every command and never builds.
  const build = require('node:child_process').spawnSync('npm', ['run', 'build:cli', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  return build.status === 0 && compiledMain(root) !== null;
}

module.exports = { BUILD_STAMP, BUILD_DIR, compiledMain, buildIfStale };
