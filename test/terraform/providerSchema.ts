// Checks parsed Terraform (hcl2json output) against the providers' schema (google, google-beta,
// archive), extracted into
// terraform/schema/ (see its README). Returns every problem found instead of throwing at the first,
// so one run reports all of them and the mutation test can ask "was this change caught?".

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

/** "r" required, "o" optional (maybe computed too), "c" computed only. */
export type Mode = 'r' | 'o' | 'c';

export interface Block {
  a: Record<string, Mode>;
  b: Record<string, NestedBlock>;
}

export interface NestedBlock extends Block {
  min: number;
  /** 1: at most once; 0: repeatable. */
  max: number;
}

export interface ProviderSchema {
  provider: string;
  version: string;
  bindings: string;
  resource: Record<string, Block>;
  data: Record<string, Block>;
}

interface Change {
  kind: 'resource' | 'data';
  type: string;
  path: string[];
  mode: Mode;
  why: string;
}

// hcl2json gives plain JSON: blocks are arrays of objects, expressions are "${...}" strings.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Hcl = any;

export interface CheckResult {
  problems: string[];
  counts: { resources: number; resourceTypes: number; dataSources: number; dataSourceTypes: number; arguments: number; blocks: number; references: number; unchecked: string[] };
}

/** Terraform's own arguments on every resource and data source, not in any provider schema. */
const META_ARGUMENTS = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);

function applyChange(schema: ProviderSchema, change: Change): void {
  let block: Block | undefined = schema[change.kind][change.type];
  for (const step of change.path.slice(0, -1)) block = block?.b[step];
  const name = change.path.at(-1)!;
  if (!block || !(name in block.a)) throw new Error(`provider-7.x-changes.json: ${change.type}.${change.path.join('.')} is not in ${schema.provider} ${schema.version}`);
  block.a[name] = change.mode;
}

export type ProviderName = 'google' | 'google-beta' | 'archive';

/** Each provider's schema keyed by its local name; google and google-beta with the 7.x changes applied. */
export function loadSchemas(schemaDir: string): Record<ProviderName, ProviderSchema> {
  const read = (file: string) => JSON.parse(gunzipSync(readFileSync(path.join(schemaDir, file))).toString('utf8')) as ProviderSchema;
  const schemas = { google: read('google.json.gz'), 'google-beta': read('google-beta.json.gz'), archive: read('archive.json.gz') };
  const changes = (JSON.parse(readFileSync(path.join(schemaDir, 'provider-7.x-changes.json'), 'utf8')) as { changes: Change[] }).changes;
  for (const schema of [schemas.google, schemas['google-beta']]) for (const change of changes) applyChange(schema, change);
  return schemas;
}

/** Every string anywhere in a parsed value. */
function strings(value: Hcl): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** Checks one resource/data body (or nested block body) against its schema block. */
function checkBody(body: Hcl, schema: Block, where: string, top: boolean, out: CheckResult): void {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    out.problems.push(`${where}: expected a block body`);
    return;
  }
  const dynamic: Record<string, Hcl[]> = body.dynamic ?? {};
  for (const [key, value] of Object.entries<Hcl>(body)) {
    if (top && META_ARGUMENTS.has(key)) continue;
    if (key === 'dynamic') {
      for (const [name, list] of Object.entries<Hcl[]>(dynamic)) {
        const nested = schema.b[name];
        if (!nested) {
          out.problems.push(`${where}: dynamic "${name}": the schema has no block "${name}"`);
          continue;
        }
        if (nested.max === 1 && (name in body || list.length > 1)) out.problems.push(`${where}: block "${name}" may appear at most once, but is also given by dynamic "${name}"`);
        for (const d of list) {
          out.counts.blocks++;
          const content = d?.content;
          if (!Array.isArray(content) || content.length !== 1) out.problems.push(`${where}: dynamic "${name}" needs exactly one content block`);
          else checkBody(content[0], nested, `${where}.${name}`, false, out);
        }
      }
      continue;
    }
    const nested = schema.b[key];
    if (nested) {
      if (!Array.isArray(value) || value.some((v) => !v || typeof v !== 'object' || Array.isArray(v))) {
        out.problems.push(`${where}: "${key}" is a block (write ${key} { ... }), not an argument`);
        continue;
      }
      if (nested.max === 1 && value.length > 1) out.problems.push(`${where}: block "${key}" may appear at most once, found ${value.length}`);
      value.forEach((v, i) => {
        out.counts.blocks++;
        checkBody(v, nested, `${where}.${key}${value.length > 1 ? `[${i}]` : ''}`, false, out);
      });
      continue;
    }
    const mode = schema.a[key];
    if (!mode) out.problems.push(`${where}: the schema has no argument or block "${key}"`);
    else if (mode === 'c') out.problems.push(`${where}: "${key}" is computed only (read it, never set it)`);
    else out.counts.arguments++;
  }
  for (const [name, mode] of Object.entries(schema.a)) {
    if (mode === 'r' && !(name in body)) out.problems.push(`${where}: required argument "${name}" is missing`);
  }
  for (const [name, nested] of Object.entries(schema.b)) {
    if (nested.min >= 1 && !(name in body) && !(name in dynamic)) out.problems.push(`${where}: required block "${name}" is missing`);
  }
}

/** Checks `google_x.name[...].attr[...].sub` against the schema, as deep as blocks go. */
function checkReference(ref: string, type: string, rest: string, schema: Block, out: CheckResult): void {
  out.counts.references++;
  const steps = [...rest.replace(/\[[^\]]*\]/g, '').matchAll(/\.([a-z0-9_]+)/g)].map((m) => m[1]!);
  let block: Block = schema;
  for (const step of steps) {
    if (step in block.b) {
      block = block.b[step]!;
      continue;
    }
    if (!(step in block.a)) out.problems.push(`reference ${ref}: ${type} has no attribute "${step}" there`);
    return; // an attribute: whatever follows indexes into its value, which the schema does not describe
  }
}

/**
 * Checks parsed .tf files: resource and data source types, arguments, blocks, required ones,
 * at-most-once blocks, computed-only attributes, and references to resource/data attributes.
 */
export function checkTerraform(files: Record<string, Hcl>, schemas: Record<string, ProviderSchema>): CheckResult {
  const out: CheckResult = { problems: [], counts: { resources: 0, resourceTypes: 0, dataSources: 0, dataSourceTypes: 0, arguments: 0, blocks: 0, references: 0, unchecked: [] } };
  const declared = new Map<string, Block | undefined>(); // "type.name" or "data.type.name" -> schema
  const types = { resource: new Set<string>(), data: new Set<string>() };

  for (const [file, json] of Object.entries(files)) {
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries<Hcl>(json[kind] ?? {})) {
        for (const [name, bodies] of Object.entries<Hcl[]>(byName)) {
          const address = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
          const body = bodies[0];
          // Terraform's rule: the `provider` meta-argument, else the type's prefix before the first "_".
          const provider = typeof body?.provider === 'string' ? body.provider.replace(/^\$\{|\}$/g, '').split('.')[0] : type.split('_')[0]!;
          if (!(provider in schemas)) {
            out.counts.unchecked.push(address);
            declared.set(address, undefined);
            continue;
          }
          const schema = schemas[provider]![kind][type];
          declared.set(address, schema);
          if (!schema) {
            out.problems.push(`${file}: ${address}: ${provider} ${schemas[provider]!.version} has no ${kind === 'data' ? 'data source' : 'resource'} type "${type}"`);
            continue;
          }
          types[kind].add(type);
          if (kind === 'resource') out.counts.resources++;
          else out.counts.dataSources++;
          checkBody(body, schema, `${file}: ${address}`, true, out);
        }
      }
    }
  }
  out.counts.resourceTypes = types.resource.size;
  out.counts.dataSourceTypes = types.data.size;

  // References, wherever an expression can hold one.
  const prefixes = Object.keys(schemas).filter((p) => !p.includes('-')).join('|');
  const reference = new RegExp(`(?<![\\w.-])(data\\.)?((?:${prefixes})_[a-z0-9_]+)\\.([a-z0-9_]+)((?:\\[[^\\]]*\\])?(?:\\.[a-z0-9_]+(?:\\[[^\\]]*\\])?)*)`, 'g');
  for (const [file, json] of Object.entries(files)) {
    for (const s of strings(json).filter((x) => x.includes('${'))) {
      for (const m of s.matchAll(reference)) {
        const address = `${m[1] ?? ''}${m[2]}.${m[3]}`;
        if (!declared.has(address)) {
          out.problems.push(`${file}: reference ${m[0]}: ${address} is not declared`);
          continue;
        }
        const schema = declared.get(address);
        if (schema) checkReference(`${file}: ${m[0]}`, m[2]!, m[4]!, schema, out);
      }
    }
  }
  return out;
}
