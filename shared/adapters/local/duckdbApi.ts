// The values bqx takes from @duckdb/node-api, loaded with `require`. The package is CommonJS: an
// ES `import` of it makes Node scan its 181 files for their export names (cjs-module-lexer) before
// the first statement runs, about 130 ms of every command that opens the warehouse on this machine
// (0.35 s against 0.20 s for the package alone); `require` skips that scan. Types still come from
// the package itself (`import type`), which costs nothing at run time.

import { createRequire } from 'node:module';

const api = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

export const { DuckDBInstance, listValue } = api;
export type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance;
