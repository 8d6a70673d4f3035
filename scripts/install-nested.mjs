#!/usr/bin/env node
// Installs a folder's own dependencies (test/ or bench/) from its lock file, when they are missing
// or the lock changed since. The tests' SQL analyzer (ZetaSQL's server: 340 MB, four platforms'
// binaries) and the bench's Polars peer (100 MB) were most of what `npm ci` unpacked: kept here,
// a newcomer's `npm ci && npm start` no longer waits for them, and `npm test` / `npm run bench`
// install them the first time they run (pretest, prebench). Node finds them by walking up from
// the files that import them (test/node_modules, bench/node_modules).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const folders = process.argv.slice(2);
if (folders.length === 0) {
  console.error('usage: node scripts/install-nested.mjs <folder> [...]   (a folder with package.json and package-lock.json)');
  process.exit(2);
}
for (const folder of folders) {
  const dir = path.resolve(root, folder);
  const lock = path.join(dir, 'package-lock.json');
  if (!existsSync(lock)) {
    console.error(`${folder}: no package-lock.json in ${dir}`);
    process.exit(2);
  }
  // The lock's hash, recorded after an install that succeeded: a changed lock installs again.
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const marker = path.join(dir, 'node_modules', '.bqx-lock-sha256');
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === hash) continue;
  const names = Object.keys(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).dependencies ?? {});
  console.error(`${folder}/: installing its own dependencies (${names.join(', ')}) with npm ci, once ...`);
  const began = Date.now();
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit', shell: process.platform === 'win32' });
  if (npm.status !== 0) {
    const why = npm.error ? npm.error.message : `exit ${npm.status ?? npm.signal}`;
    console.error(`${folder}/: npm ci failed (${why}); run it by hand: cd ${folder} && npm ci`);
    process.exit(npm.status ?? 1);
  }
  mkdirSync(path.dirname(marker), { recursive: true }); // npm makes no node_modules for a folder without dependencies
  writeFileSync(marker, `${hash}\n`);
  console.error(`${folder}/: installed in ${((Date.now() - began) / 1000).toFixed(1)} s`);
}
