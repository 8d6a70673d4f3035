# bqx on Google Cloud: the chain in ../shared/DESIGN.md, deployed.
#
#   run-requests ──push──> startRun ──> extract-requests ──push──> extractFeature (x N)
#        staging bucket finalize ──Eventarc──> checkpointLanded ──> merge-requests ──push──> mergeRun
#   every step ──> run-events        Cloud Scheduler ──OIDC──> reconcile        operators ──> pipelineApi
#
# Sections: 1 locals · 2 APIs · 3 buckets · 4 function source · 5 Pub/Sub · 6 Firestore ·
#           7 BigQuery · 8 Artifact Registry · 9 functions · 10 push subscriptions · 11 scheduler
# IAM is in iam.tf, the .gcloudignore translation in gcloudignore.tf.
#
# Dead letters, the decision: a 2nd-gen function's event_trigger makes Eventarc create and own the
# Pub/Sub subscription, and neither google_cloudfunctions2_function nor google_eventarc_trigger can
# set a dead-letter policy on it (hashicorp/terraform-provider-google#25069, open). So the three
# Pub/Sub-driven functions get no event_trigger; instead each has an explicit push subscription
# (section 10) with dead_letter_policy, exponential retry and an OIDC token, pointed at the
# function's run.app URL. Pub/Sub redelivers on any non-2xx answer, which is the same contract as
# RETRY_POLICY_RETRY: the handler throws (500) to retry and returns (204) to drop bad input.
# The storage trigger has no such alternative (Eventarc owns the notification topic for direct
# Cloud Storage events), so checkpointLanded keeps its Eventarc trigger with RETRY_POLICY_RETRY and
# no dead-letter topic; Eventarc retries with backoff for 24 h, and a landing that is still lost is
# recovered by reconcile: it re-sends the feature's extract request, and extractFeature rewrites the
# marker of a complete checkpoint, which fires the finalize event again (shared/chain).

# =============================================================================================
# 1. Locals
# =============================================================================================

data "google_project" "this" {
  project_id = var.project

  # Read after the APIs are on: a fresh project may not have the Resource Manager API yet.
  depends_on = [google_project_service.enabled]
}

locals {
  staging_bucket = coalesce(var.staging_bucket, "${var.project}-bqx-staging")
  output_bucket  = coalesce(var.output_bucket, "${var.project}-bqx-output")
  source_bucket  = coalesce(var.source_bucket, "${var.project}-bqx-source")

  # Topic key -> name. The keys are what local.functions refers to.
  topic_names = {
    run_requests     = var.topic_run_requests
    extract_requests = var.topic_extract_requests
    merge_requests   = var.topic_merge_requests
    run_events       = var.topic_run_events
  }

  # A function's BQX_JOB_WAIT_SECONDS is min(job_wait_seconds, timeout - this), so every function
  # stops waiting on BigQuery while it still has time to record the outcome and answer.
  job_wait_margin_seconds = 30

  # Every entry point exported by functions/index.ts, keyed by its export name (= entry_point).
  # All entries have the same attributes (topic = null where none), so this is a map of one object type.
  #   trigger: "pubsub"  pushed from topic `topic` by a subscription with a dead-letter topic
  #            "storage" Eventarc object.v1.finalized on the staging bucket
  #            "http"    called over HTTPS with an ID token
  # cpu "1" on every function: concurrency above 1 needs a whole CPU, and a BigQuery client plus
  # parquet footer parsing are CPU-bound enough that a fractional CPU only adds latency.
  functions = {
    startRun = {
      name    = "${var.name_prefix}-start-run"
      trigger = "pubsub"
      topic   = "run_requests"
      # Discovers a few hundred tables and fans out one message per feature: small, one run at a
      # time per instance so the pair claim and the manifest freeze never share an instance.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 1
      timeout       = var.timeouts["startRun"]
      max_instances = var.max_instances["startRun"]
      ingress       = "ALLOW_INTERNAL_ONLY" # only Pub/Sub push reaches it
    }
    extractFeature = {
      name    = "${var.name_prefix}-extract-feature"
      trigger = "pubsub"
      topic   = "extract_requests"
      # The fan-out: many instances, one feature each (concurrency 1). Each invocation waits on one
      # BigQuery export for up to BQX_JOB_WAIT_SECONDS and counts duplicate keys, so sharing an
      # instance would only make one slow table hold up others. 1 GiB for the key counting.
      memory        = "1Gi"
      cpu           = "1"
      concurrency   = 1
      timeout       = var.timeouts["extractFeature"]
      max_instances = var.max_instances["extractFeature"]
      ingress       = "ALLOW_INTERNAL_ONLY"
    }
    checkpointLanded = {
      name    = "${var.name_prefix}-checkpoint-landed"
      trigger = "storage"
      topic   = null
      # Many short calls in a burst (one per checkpoint object): it reads a parquet footer and
      # writes one record, mostly waiting on I/O, so 8 requests share an instance and the burst
      # needs fewer cold starts. Handlers are idempotent and keep no per-request global state.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 8
      timeout       = var.timeouts["checkpointLanded"]
      max_instances = var.max_instances["checkpointLanded"]
      ingress       = "ALLOW_INTERNAL_ONLY" # only Eventarc reaches it
    }
    mergeRun = {
      name    = "${var.name_prefix}-merge-run"
      trigger = "pubsub"
      topic   = "merge_requests"
      # Few instances, one merge each: it plans column groups for thousands of columns, drives the
      # staged joins and exports, and verifies rows and keys. 2 GiB for the plan and the manifest.
      memory        = "2Gi"
      cpu           = "1"
      concurrency   = 1
      timeout       = var.timeouts["mergeRun"]
      max_instances = var.max_instances["mergeRun"]
      ingress       = "ALLOW_INTERNAL_ONLY"
    }
    pipelineApi = {
      name    = "${var.name_prefix}-pipeline-api"
      trigger = "http"
      topic   = null
      # Small JSON API for operators (status, rerun): light requests, so one instance serves many.
      memory        = "256Mi"
      cpu           = "1"
      concurrency   = 20
      timeout       = var.timeouts["pipelineApi"]
      max_instances = var.max_instances["pipelineApi"]
      ingress       = "ALLOW_ALL" # called by people and tools; IAM (api_invokers) decides who
    }
    reconcile = {
      name    = "${var.name_prefix}-reconcile"
      trigger = "http"
      topic   = null
      # One sweep at a time (max_instances 1, concurrency 1): two sweeps would race to re-send the
      # same missing messages. Sized for listing many runs and checkpoint prefixes.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 1
      timeout       = var.timeouts["reconcile"]
      max_instances = var.max_instances["reconcile"]
      ingress       = "ALLOW_INTERNAL_ONLY" # only Cloud Scheduler reaches it
    }
  }

  pubsub_functions = { for k, f in local.functions : k => f if f.trigger == "pubsub" }

  services = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])
}

# =============================================================================================
# 2. APIs
# =============================================================================================

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project
  service = each.value
  # Destroying this stack must not switch off APIs that other things in the project may use.
  disable_on_destroy = false
}

# =============================================================================================
# 3. Buckets (all: uniform bucket-level access, public access prevention enforced)
# =============================================================================================

resource "google_storage_bucket" "staging" {
  name                        = local.staging_bucket
  location                    = var.region # the storage trigger must be in the bucket's region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy_buckets
  labels                      = var.labels

  # Checkpoints are rewritten on retry and are worthless after the merge: no old versions kept.
  versioning {
    enabled = false
  }

  # Soft delete (on by default, 7 days) would keep and bill every overwritten or deleted checkpoint;
  # Google advises turning it off on buckets BigQuery exports into, which this one is.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  # runs/{runId}/... checkpoints are deleted once no run can still need them.
  lifecycle_rule {
    condition {
      age            = var.staging_retention_days
      matches_prefix = ["runs/"]
    }
    action {
      type = "Delete"
    }
  }

  # Uploads that never finished (a function killed mid-write) would otherwise be billed forever.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket" "output" {
  name                        = local.output_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy_buckets
  labels                      = var.labels

  # training/{pair}/{runId}/... is written once per run id and never overwritten.
  versioning {
    enabled = false
  }

  # No age rule here on purpose: a kept dataset may be any age (a pair not rebuilt for a year),
  # and its shards may be shared by reference with newer versions, so only retention, which reads
  # what each kept dataset lists, deletes under training/. Only unfinished uploads expire.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # BigQuery exports the merged column groups here; a retried export replaces its files, and soft
  # delete would keep (and bill) each replaced file for 7 days. Google advises it off for exports.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket" "source" {
  name                        = local.source_bucket
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only zips that Terraform can rebuild from the repository
  labels                      = var.labels

  versioning {
    enabled = false
  }

  depends_on = [google_project_service.enabled]
}

# =============================================================================================
# 4. Function source: the repository minus .gcloudignore, stored under its hash
# =============================================================================================

data "archive_file" "source" {
  type             = "zip"
  source_dir       = local.repo_root
  output_path      = "${path.module}/.build/bqx-source.zip" # inside terraform/, which is always excluded
  output_file_mode = "0644"                                 # same hash on every machine
  excludes         = local.source_excludes

  lifecycle {
    precondition {
      condition     = length(local.gcloudignore_unsupported) == 0
      error_message = "The .gcloudignore has lines archive_file cannot honour (negations or #!include): ${join(", ", local.gcloudignore_unsupported)}. List the paths to leave out explicitly."
    }
  }
}

resource "google_storage_bucket_object" "source" {
  # Named by content hash: a source change is a new object, so every function redeploys; no change,
  # no redeploy. Cloud Build compiles the TypeScript (package.json "gcp-build") on deploy.
  name         = "${data.archive_file.source.output_md5}.zip"
  bucket       = google_storage_bucket.source.name
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

# =============================================================================================
# 5. Pub/Sub: the four topics, a dead-letter topic per pushed topic, and places to read both
# =============================================================================================

resource "google_pubsub_topic" "main" {
  for_each = local.topic_names

  name   = each.value
  labels = var.labels

  depends_on = [google_project_service.enabled]
}

# One dead-letter topic per Pub/Sub-driven function (startRun, extractFeature, mergeRun).
resource "google_pubsub_topic" "dead_letter" {
  for_each = local.pubsub_functions

  name   = "${local.topic_names[each.value.topic]}-dead-letter"
  labels = var.labels

  depends_on = [google_project_service.enabled]
}

# A topic with no subscription drops what it receives, so each dead-letter topic gets a pull
# subscription that keeps the messages for inspection and replay
# (gcloud pubsub subscriptions pull <name> --auto-ack).
resource "google_pubsub_subscription" "dead_letter_hold" {
  for_each = local.pubsub_functions

  name                       = "${google_pubsub_topic.dead_letter[each.key].name}-hold"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  labels                     = var.labels

  expiration_policy {
    ttl = "" # never expires, even when nobody pulls for weeks
  }
}

# Completion and failure events: kept for a week so an operator (or a later consumer) can read them.
resource "google_pubsub_subscription" "run_events_tail" {
  name                       = "${var.name_prefix}-run-events-tail"
  topic                      = google_pubsub_topic.main["run_events"].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

# =============================================================================================
# 6. Firestore (run store), native mode
# =============================================================================================

resource "google_firestore_database" "run_store" {
  count = var.manage_firestore_database ? 1 : 0

  project                 = var.project
  name                    = "(default)" # the run store adapter uses the default database
  location_id             = coalesce(var.firestore_location, var.region)
  type                    = "FIRESTORE_NATIVE"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON" # terraform destroy leaves run history in place

  depends_on = [google_project_service.enabled]
}

# Composite indexes for the run store's queries (shared/adapters/gcp/firestoreRunStore.ts). Without
# one, Firestore answers FAILED_PRECONDITION and GET /pairs/{pair} fails with 500. Single-field
# queries (runs by state) use the automatic single-field indexes. test/terraform/firestoreIndexes
# records the adapter's queries and checks each composite one against this list.
locals {
  firestore_indexes = {
    # lastRun(pair): runs where pair == ? order by createdAt desc, limit 1.
    runs_by_pair_newest_first = {
      collection = "runs"
      fields     = [{ path = "pair", order = "ASCENDING" }, { path = "createdAt", order = "DESCENDING" }]
    }
  }
}

# Refusals (refusals/{messageId}: why startRun refused a request, for `bqx run --target gcp` and GET
# /requests/{id}) carry `expireAt`, 30 days after the refusal: Firestore's TTL policy deletes them.
resource "google_firestore_field" "refusals_expire" {
  project    = var.project
  database   = "(default)"
  collection = "refusals"
  field      = "expireAt"

  ttl_config {}
  index_config {} # not indexed: nothing queries it

  depends_on = [google_project_service.enabled, google_firestore_database.run_store]
}

resource "google_firestore_index" "run_store" {
  for_each = local.firestore_indexes

  project    = var.project
  database   = "(default)"
  collection = each.value.collection

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.path
      order      = fields.value.order
    }
  }

  depends_on = [google_project_service.enabled, google_firestore_database.run_store]
}

# =============================================================================================
# 7. BigQuery: the scratch dataset (the feature and label datasets already exist)
# =============================================================================================

resource "google_bigquery_dataset" "scratch" {
  dataset_id  = var.scratch_dataset
  location    = var.bigquery_location # same location as the features, or joins cannot read both
  description = "bqx scratch tables: per-run join stages; every table expires by itself."
  labels      = var.labels

  # A crashed merge leaves no lasting scratch: tables expire scratch_ttl_hours after creation.
  default_table_expiration_ms = var.scratch_ttl_hours * 3600 * 1000
  delete_contents_on_destroy  = true

  depends_on = [google_project_service.enabled]
}

# =============================================================================================
# 8. Artifact Registry: our own image repository, so the build account writes to one repository
# =============================================================================================

resource "google_artifact_registry_repository" "functions" {
  location      = var.region
  repository_id = "${var.name_prefix}-functions"
  format        = "DOCKER"
  description   = "Images Cloud Build makes from the bqx function source."
  labels        = var.labels

  cleanup_policy_dry_run = false
  # Each function is its own image; keeping its 10 newest versions always keeps the one deployed.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.enabled]
}

# =============================================================================================
# 9. Functions (2nd gen), one per entry point
# =============================================================================================

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions

  name        = each.value.name
  location    = var.region
  description = "bqx ${each.key} (${each.value.trigger})"
  labels      = var.labels

  build_config {
    runtime           = "nodejs22"
    entry_point       = each.key
    docker_repository = google_artifact_registry_repository.functions.id
    service_account   = google_service_account.build.id

    # No signature-type build variable: each Pub/Sub-pushed function registers itself with
    # cloudEvent('<name>', ...), and the Functions Framework takes the signature from that
    # registration, so it turns a Pub/Sub push body into the messagePublished CloudEvent Eventarc
    # would send (see the decision at the top of this file; test/terraform checks the registrations).

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = each.value.concurrency
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.fn[each.key].email

    # What loadConfig (shared/config.ts) reads on GCP; names must exist in CONFIG_DEFAULTS. The
    # deployer's var.settings come first: a name set here as well keeps this value (the variable's
    # validation refuses those names anyway).
    environment_variables = merge(var.settings, {
      BQX_RUNTIME                = "gcp"
      BQX_PROJECT                = var.project
      BQX_LOCATION               = var.bigquery_location
      BQX_STAGING_BUCKET         = google_storage_bucket.staging.name
      BQX_OUTPUT_BUCKET          = google_storage_bucket.output.name
      BQX_FEATURES_DATASET       = var.features_dataset
      BQX_LABELS_DATASET         = var.labels_dataset
      BQX_SCRATCH_DATASET        = google_bigquery_dataset.scratch.dataset_id
      BQX_SCRATCH_TTL_HOURS      = format("%d", var.scratch_ttl_hours)
      BQX_MAX_BYTES_BILLED       = format("%d", var.max_bytes_billed)
      BQX_COST_PER_TB_USD        = tostring(var.cost_per_tb_usd)
      BQX_CURRENCIES             = join(",", var.currencies)
      BQX_TOPIC_RUN_REQUESTS     = google_pubsub_topic.main["run_requests"].name
      BQX_TOPIC_EXTRACT_REQUESTS = google_pubsub_topic.main["extract_requests"].name
      BQX_TOPIC_MERGE_REQUESTS   = google_pubsub_topic.main["merge_requests"].name
      BQX_TOPIC_RUN_EVENTS       = google_pubsub_topic.main["run_events"].name
      BQX_JOB_WAIT_SECONDS       = format("%d", min(var.job_wait_seconds, each.value.timeout - local.job_wait_margin_seconds))
      BQX_MAX_ATTEMPTS           = format("%d", var.max_attempts)
      BQX_STALL_SECONDS          = format("%d", var.stall_seconds)
      BQX_SHARD                  = var.shard
      BQX_GROUP_COLUMNS          = format("%d", var.group_columns)
      BQX_KEEP                   = format("%d", var.keep)
      BQX_LOG_LEVEL              = var.log_level
    })
  }

  # Only the storage-driven function has an Eventarc trigger (see the decision at the top).
  # Note: Eventarc cannot filter direct Cloud Storage events by prefix, so every object finalized
  # in the staging bucket arrives; the handler ignores objects that are not checkpoints.
  dynamic "event_trigger" {
    for_each = each.value.trigger == "storage" ? [each.value] : []
    content {
      trigger_region        = var.region
      event_type            = "google.cloud.storage.object.v1.finalized"
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.trigger.email

      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.staging.name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = each.value.trigger != "pubsub" || each.value.timeout <= 540
      error_message = "${each.key}: a Pub/Sub-pushed function's timeout must be at most 540 s, so the ack deadline (timeout + 30 s) stays within Pub/Sub's 600 s."
    }
  }

  # Roles must exist before the first deploy and the first event; Terraform orders the grants,
  # it does not sleep for them.
  depends_on = [
    google_project_service.enabled,
    google_firestore_database.run_store,
    google_project_iam_member.gcs_agent_publishes,
    google_project_iam_member.trigger_receives_events,
    google_project_iam_member.build,
    google_project_iam_member.build_uses_gcf_sources,
    google_project_iam_member.functions,
    google_artifact_registry_repository_iam_member.build_writes_images,
    google_storage_bucket_iam_member.build_reads_source,
    google_storage_bucket_iam_member.functions,
    google_pubsub_topic_iam_member.functions,
    google_bigquery_dataset_iam_member.functions,
  ]
}

# =============================================================================================
# 10. Push subscriptions for the Pub/Sub-driven functions, with dead letters
# =============================================================================================

resource "google_pubsub_subscription" "push" {
  for_each = local.pubsub_functions

  name   = "${each.value.name}-push"
  topic  = google_pubsub_topic.main[each.value.topic].id
  labels = var.labels

  # Longer than the function may run, so Pub/Sub never redelivers a message that is still being
  # worked on (at most 540 + 30 = 570 s, inside Pub/Sub's 600 s).
  ack_deadline_seconds       = each.value.timeout + 30
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  # A failed delivery (any non-2xx) is retried with exponential backoff ...
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  # ... at most max_delivery_attempts times, then parked on the dead-letter topic.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  push_config {
    # The path names the topic: the Functions Framework reads it into the CloudEvent source.
    push_endpoint = "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}/projects/${var.project}/topics/${google_pubsub_topic.main[each.value.topic].name}"

    oidc_token {
      service_account_email = google_service_account.trigger.email
      audience              = google_cloudfunctions2_function.fn[each.key].service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.trigger_invokes,
    google_service_account_iam_member.pubsub_agent_mints_trigger_tokens,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}

# =============================================================================================
# 11. Cloud Scheduler: the reconciler
# =============================================================================================

resource "google_cloud_scheduler_job" "reconcile" {
  name        = "${var.name_prefix}-reconcile"
  region      = var.region
  description = "Finds stalled bqx runs, re-sends what is missing, fails runs out of attempts."
  schedule    = var.reconcile_schedule
  time_zone   = var.reconcile_time_zone

  attempt_deadline = "${var.timeouts["reconcile"] + 30}s"

  # No retries: the next tick is the retry, and overlapping sweeps would only duplicate re-sends.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.fn["reconcile"].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.trigger.email
      audience              = google_cloudfunctions2_function.fn["reconcile"].service_config[0].uri
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_v2_service_iam_member.trigger_invokes,
  ]
}
