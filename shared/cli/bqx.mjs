#!/usr/bin/env node
// The bqx command. Runs the CLI precompiled by `npm ci` (shared/cli/compiled.cjs) when it is as
// new as the sources; otherwise loads the TypeScript sources through tsx, so a clone works after
// `npm ci` with no build step and an edit takes effect at once. BQX_TSX=1 forces tsx.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledMain } from './compiled.cjs';

// A reader that goes away (`bqx run eurusd --json | head -c 100`) closes stdout: writes then fail
// with EPIPE, which Node raises as an 'error' event that would end the command where it stands
// (a run dying mid-merge, or after its work without closing the warehouse). The command carries
// on without the closed stream and ends with its own exit code; other stream errors still end it.
let told = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
    if (stream === process.stdout && !told) {
      told = true;
      process.stderr.write('bqx: stdout was closed by its reader; carrying on without it\n');
    }
  });
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const compiled = process.env.BQX_TSX ? null : compiledMain(root);
let main;
if (compiled) ({ main } = await import(pathToFileURL(compiled).href));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv.slice(2));
