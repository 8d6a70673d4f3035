// terraform/*.tf checked against the google providers' schema (terraform/schema/, provider 6.50
// with the 7.x changes that touch resources used here), without the provider binaries:
// every resource and data source type, argument and nested block exists, required ones are present,
// at-most-once blocks are not repeated, no computed-only attribute is set, and every reference to a
// resource or data source attribute names one that exists. Then the real files are mutated, one
// defect at a time, to show each kind of defect is caught.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { checkTerraform, loadSchemas, type Hcl, type ProviderName, type ProviderSchema } from './providerSchema.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TF_DIR = path.join(ROOT, 'terraform');
const SCHEMA_DIR = path.join(TF_DIR, 'schema');

interface Mutation {
  what: string;
  file: string;
  from: string | RegExp;
  to: string;
  /** A problem the checker must report for this mutation (so it is not caught by accident). */
  expect: RegExp;
}

/** One defect each, applied to the first match in the real file. */
const MUTATIONS: Mutation[] = [
  { what: 'rename an argument', file: 'main.tf', from: 'uniform_bucket_level_access = true', to: 'uniform_bucket_access = true', expect: /no argument or block "uniform_bucket_access"/ },
  { what: 'drop a required argument', file: 'main.tf', from: /^\s*location\s*= var\.region # the storage trigger.*\n/m, to: '', expect: /google_storage_bucket\.staging: required argument "location" is missing/ },
  { what: 'set a computed-only attribute', file: 'main.tf', from: /(resource "google_storage_bucket" "staging" \{\n)/, to: '$1  self_link = "x"\n', expect: /"self_link" is computed only/ },
  { what: 'repeat an at-most-once block', file: 'main.tf', from: /( {2}soft_delete_policy \{\n {4}retention_duration_seconds = 0\n {2}\}\n)/, to: '$1$1', expect: /block "soft_delete_policy" may appear at most once, found 2/ },
  { what: 'misspell a resource type', file: 'main.tf', from: 'resource "google_pubsub_topic" "main"', to: 'resource "google_pubsub_topik" "main"', expect: /no resource type "google_pubsub_topik"/ },
  { what: 'misspell a data source type', file: 'main.tf', from: 'data "google_project" "this"', to: 'data "google_projekt" "this"', expect: /no data source type "google_projekt"/ },
  { what: 'reference an attribute that does not exist', file: 'iam.tf', from: /google_service_account\.fn\[each\.value\.fn\]\.member\b/, to: 'google_service_account.fn[each.value.fn].members', expect: /google_service_account has no attribute "members"/ },
  { what: 'reference a nested attribute that does not exist', file: 'outputs.tf', from: 'service_config[0].uri', to: 'service_config[0].url', expect: /google_cloudfunctions2_function has no attribute "url"/ },
  { what: 'reference a data source attribute that does not exist', file: 'iam.tf', from: 'data.google_project.this.number', to: 'data.google_project.this.project_number', expect: /google_project has no attribute "project_number"/ },
  { what: 'reference an undeclared resource', file: 'main.tf', from: 'google_storage_bucket.source.name', to: 'google_storage_bucket.sources.name', expect: /google_storage_bucket\.sources is not declared/ },
  { what: 'misspell a nested block argument', file: 'main.tf', from: 'minimum_backoff = "10s"', to: 'min_backoff = "10s"', expect: /retry_policy: the schema has no argument or block "min_backoff"/ },
  { what: 'drop a required nested argument', file: 'main.tf', from: /^\s*push_endpoint = .*\n/m, to: '', expect: /push_config: required argument "push_endpoint" is missing/ },
  { what: 'drop a required nested block', file: 'main.tf', from: /\n\s*action \{\n\s*type = "Delete"\n\s*\}/, to: '', expect: /lifecycle_rule(\[0\])?: required block "action" is missing/ },
  { what: 'misspell a block', file: 'main.tf', from: 'expiration_policy {', to: 'expiry_policy {', expect: /no argument or block "expiry_policy"/ },
  { what: 'misspell a dynamic block', file: 'main.tf', from: 'dynamic "event_trigger"', to: 'dynamic "event_triggers"', expect: /dynamic "event_triggers": the schema has no block/ },
  { what: 'write a block as an argument', file: 'main.tf', from: /retry_config \{\n\s*retry_count = 0\n\s*\}/, to: 'retry_config = { retry_count = 0 }', expect: /"retry_config" is a block/ },
  { what: 'set an attribute that 7.x made output only', file: 'main.tf', from: /(\n\s*available_cpu\s*= each\.value\.cpu\n)/, to: '$1    service = "bqx"\n', expect: /service_config: "service" is computed only/ },
  { what: 'use a beta-only resource without the beta provider', file: 'iam.tf', from: /\n\s*provider = google-beta\n/, to: '\n', expect: /google 6\.50\.0 has no resource type "google_project_service_identity"/ },
  { what: 'misspell a Firestore index field argument', file: 'main.tf', from: 'field_path = fields.value.path', to: 'field = fields.value.path', expect: /fields: the schema has no argument or block "field"/ },
  { what: 'misspell an archive_file argument', file: 'main.tf', from: 'output_file_mode = "0644"', to: 'file_mode = "0644"', expect: /archive_file\.source: the schema has no argument or block "file_mode"/ },
  { what: 'reference an archive_file attribute that does not exist', file: 'main.tf', from: 'data.archive_file.source.output_md5', to: 'data.archive_file.source.md5', expect: /archive_file has no attribute "md5"/ },
  { what: 'set a computed attribute of a data source', file: 'main.tf', from: /(data "google_project" "this" \{\n)/, to: '$1  number = "1"\n', expect: /data\.google_project\.this: "number" is computed only/ },
];

describe('terraform/ against the provider schema (offline)', function () {
  let schemas: Record<ProviderName, ProviderSchema>;
  const texts: Record<string, string> = {};
  const parsed: Record<string, Hcl> = {};

  before(async function () {
    schemas = loadSchemas(SCHEMA_DIR);
    for (const name of readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort()) {
      texts[name] = readFileSync(path.join(TF_DIR, name), 'utf8');
      parsed[name] = await parse(name, texts[name]!);
    }
  });

  it('uses the extracted schema of google and google-beta 6.50.0, with the 7.x changes', function () {
    assert.equal(schemas.google.provider, 'hashicorp/google');
    assert.equal(schemas['google-beta'].provider, 'hashicorp/google-beta');
    assert.equal(schemas.archive.version, '2.7.1', 'hashicorp/archive 2.7.x, as versions.tf pins');
    for (const s of [schemas.google, schemas['google-beta']]) {
      assert.equal(s.version, '6.50.0');
      assert.ok(Object.keys(s.resource).length > 1000 && Object.keys(s.data).length > 300, `${s.provider}: the schema looks truncated`);
    }
    const fn = schemas.google.resource.google_cloudfunctions2_function!;
    assert.equal(fn.b.event_trigger!.a.event_type, 'r', '7.x: event_trigger.event_type is required');
    assert.equal(fn.b.service_config!.a.service, 'c', '7.x: service_config.service is output only');
    assert.match(readFileSync(path.join(TF_DIR, 'versions.tf'), 'utf8'), /source\s*=\s*"hashicorp\/google"\s*\n\s*version\s*=\s*"~> 7\.0"/, 'versions.tf pins google ~> 7.0, which the changes file describes');
  });

  it('every resource, data source, argument, block and reference in terraform/ matches the schema', function () {
    const { problems, counts } = checkTerraform(parsed, schemas);
    assert.deepEqual(problems, [], `terraform/ does not match the provider schema:\n${problems.join('\n')}`);
    console.log(`      checked ${counts.resources} resources (${counts.resourceTypes} types), ${counts.dataSources} data sources (${counts.dataSourceTypes} types), ` +
      `${counts.arguments} arguments, ${counts.blocks} nested blocks, ${counts.references} references`);
    assert.ok(counts.resources >= 20 && counts.references >= 30, 'expected the whole configuration to be checked');
    assert.deepEqual(counts.unchecked, [], 'every resource and data source has its provider\'s schema');
  });

  it('catches each seeded defect in a mutated copy of the real files', async function () {
    const missed: string[] = [];
    for (const m of MUTATIONS) {
      const original = texts[m.file]!;
      const mutated = original.replace(m.from, m.to);
      assert.notEqual(mutated, original, `mutation "${m.what}" did not apply: ${m.from} is not in ${m.file} any more; update the mutation`);
      const files = { ...parsed, [m.file]: await parse(m.file, mutated) };
      const { problems } = checkTerraform(files, schemas);
      if (!problems.some((p) => m.expect.test(p))) missed.push(`${m.what} (${m.file}): reported ${JSON.stringify(problems)}`);
    }
    console.log(`      caught ${MUTATIONS.length - missed.length} of ${MUTATIONS.length} mutations`);
    assert.deepEqual(missed, [], `mutations not caught:\n${missed.join('\n')}`);
  });
});
