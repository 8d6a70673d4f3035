#!/usr/bin/env node
// Extracts a compact Terraform provider schema from the CDKTF bindings of the providers terraform/ uses.
//
// Why: `terraform validate` needs the provider binary, which cannot be downloaded where the tests
// run. @cdktf/provider-google(-beta) 16.12.1 carry provider 6.50's schema in their jsii metadata
// (.jsii, ~98 MB each), so this script distils it once into a small committed file that
// test/terraform/schema.test.ts checks terraform/*.tf against. The 300 MB packages stay out of
// package.json; install them in a scratch folder (see terraform/schema/README.md):
//
//   npm install --prefix /tmp/cdktf-schema --no-audit --no-fund --ignore-scripts \
//     @cdktf/provider-google@16.12.1 @cdktf/provider-google-beta@16.12.1 @cdktf/provider-archive@11.0.1
//   node terraform/schema/extract-schema.mjs /tmp/cdktf-schema/node_modules
//
// Output, one file per provider, gzipped JSON: terraform/schema/google.json.gz, google-beta.json.gz,
// archive.json.gz (hashicorp/archive 2.7.1, for data.archive_file)
//   { provider, version, bindings, resource: { <type>: Block }, data: { <type>: Block } }
//   Block = { a: { <attribute>: "r" | "o" | "c" }, b: { <block>: Block & { min, max } } }
//   "r" required argument, "o" optional argument (may also be computed), "c" computed only (read,
//   never set); min = 1 for a required block; max = 1 for a block that may appear once (cdktf types
//   it as one struct), 0 for a repeatable one (cdktf types it as an array).
//
// Where the names come from: jsii gives the structure in camelCase. The Terraform (snake_case)
// name of each attribute is read from the bindings' JavaScript, which calls
// getStringAttribute('self_link') and friends for every attribute and `new X(this, "block_name")`
// for every block; a camel name those calls do not cover falls back to camel -> snake.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const modules = process.argv[2] ?? '/tmp/cdktf-schema/node_modules';
const PACKAGES = [
  { pkg: '@cdktf/provider-google', out: 'google.json.gz' },
  { pkg: '@cdktf/provider-google-beta', out: 'google-beta.json.gz' },
  { pkg: '@cdktf/provider-archive', out: 'archive.json.gz' },
];

const camelToSnake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Every generated .js file under lib/ (large resources keep their structs in index-structs/). */
function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : []);
}

/** camelCase getter -> Terraform name, per class, from the bindings' generated JavaScript. */
function namesFromJavaScript(libDir) {
  const byClass = new Map(); // class name -> Map(camel -> snake)
  for (const file of jsFiles(libDir)) {
    const js = readFileSync(file, 'utf8');
    // Split into classes: `class Foo extends ... {` up to the next class.
    const starts = [...js.matchAll(/^class (\w+) extends [^{]+\{/gm)];
    starts.forEach((m, i) => {
      const body = js.slice(m.index, i + 1 < starts.length ? starts[i + 1].index : js.length);
      const names = new Map();
      // get selfLink() { return this.getStringAttribute('self_link'); }, also wrapped (Fn.tolist(...)).
      for (const g of body.matchAll(/get (\w+)\(\) \{\s*return [^;]*?this\.(?:get\w*Attribute|interpolationForAttribute)\('([a-z0-9_]+)'\)/g)) names.set(g[1], g[2]);
      // this._softDeletePolicy = new StorageBucketSoftDeletePolicyOutputReference(this, "soft_delete_policy");
      // and get softDeletePolicy() { return this._softDeletePolicy; } (the field may be named otherwise).
      const fields = new Map();
      for (const g of body.matchAll(/this\.(_\w+) = new [\w.]+\(this, "([a-z0-9_]+)"/g)) fields.set(g[1], g[2]);
      for (const g of body.matchAll(/get (\w+)\(\) \{\s*return this\.(_\w+);/g)) if (fields.has(g[2])) names.set(g[1], fields.get(g[2]));
      byClass.set(m[1], names);
    });
  }
  return byClass;
}

function extract(pkgDir) {
  const jsii = JSON.parse(readFileSync(path.join(pkgDir, '.jsii'), 'utf8'));
  const types = jsii.types;
  const names = namesFromJavaScript(path.join(pkgDir, 'lib'));
  let fallbacks = 0;

  const tfName = (className, camel) => {
    const known = names.get(className)?.get(camel);
    if (known) return known;
    fallbacks++;
    return camelToSnake(camel.replace(/Attribute$/, ''));
  };

  const structOf = (type) => {
    if (type?.fqn && types[type.fqn]?.datatype) return { fqn: type.fqn, max: 1 };
    const arr = type?.union?.types?.find((t) => t.collection)?.collection ?? type?.collection;
    const fqn = arr?.elementtype?.fqn;
    if (fqn && types[fqn]?.datatype) return { fqn, max: 0 };
    return undefined;
  };

  /** Block schema from a config struct (arguments) and the class that reads it back (computed ones). */
  const block = (structFqn, readerFqn, depth = 0) => {
    const struct = types[structFqn];
    const reader = types[readerFqn];
    const readerName = readerFqn.split('.').pop();
    const out = { a: {}, b: {} };
    const settable = new Set();
    for (const p of struct?.properties ?? []) {
      settable.add(p.name);
      const name = tfName(readerName, p.name);
      const nested = structOf(p.type);
      if (nested && depth < 12) {
        out.b[name] = { ...block(nested.fqn, `${nested.fqn}OutputReference`, depth + 1), min: p.optional ? 0 : 1, max: nested.max };
      } else {
        out.a[name] = p.optional ? 'o' : 'r';
      }
    }
    for (const p of reader?.properties ?? []) {
      if (p.static || !p.immutable || p.name.endsWith('Input') || settable.has(p.name) || p.name === 'internalValue') continue;
      out.a[tfName(readerName, p.name)] = 'c';
    }
    return out;
  };

  const result = { resource: {}, data: {} };
  for (const [fqn, t] of Object.entries(types)) {
    if (t.kind !== 'class') continue;
    const kind = t.base === 'cdktf.TerraformResource' ? 'resource' : t.base === 'cdktf.TerraformDataSource' ? 'data' : undefined;
    if (!kind) continue;
    const m = /\{@link \S+ ([a-z0-9]+_[a-z0-9_]+)\}/.exec(t.docs?.summary ?? '');
    if (!m) throw new Error(`${fqn}: no Terraform type in its docs summary`);
    result[kind][m[1]] = block(`${fqn}Config`, fqn);
  }
  const version = /\/providers\/hashicorp\/[a-z-]+\/([0-9.]+)\//.exec(JSON.stringify(Object.values(types)[0].docs))?.[1];
  return { result, version, bindings: `${jsii.name}@${jsii.version}`, fallbacks };
}

const sortKeys = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v);

for (const { pkg, out } of PACKAGES) {
  const { result, version, bindings, fallbacks } = extract(path.join(modules, pkg));
  const provider = `hashicorp/${pkg.replace('@cdktf/provider-', '')}`;
  const doc = sortKeys({ provider, version, bindings, ...result });
  const gz = gzipSync(JSON.stringify(doc), { level: 9 });
  writeFileSync(path.join(HERE, out), gz);
  console.log(`${out}: ${provider} ${version} from ${bindings}: ${Object.keys(result.resource).length} resources, ${Object.keys(result.data).length} data sources, ${(gz.length / 1024).toFixed(0)} KiB gzipped (${fallbacks} names by camel->snake fallback)`);
}
