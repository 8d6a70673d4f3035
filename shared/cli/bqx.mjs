#!/usr/bin/env node
// The bqx command. Runs the CLI precompiled by `npm ci` (shared/cli/compiled.mjs) when it is as
// new as the sources; otherwise loads the TypeScript sources through tsx, so a clone works after
// `npm ci` with no build step and an edit takes effect at once. BQX_TSX=1 forces tsx.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledMain } from './compiled.mjs';

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
