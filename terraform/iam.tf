# Identities and roles. One service account per function, one for everything that calls a function
# (push subscriptions, the Eventarc trigger, the scheduler), one for Cloud Build.
# Rule: every role on the narrowest resource that exists (bucket, topic, dataset, service, service
# account). The few project-level grants say why no narrower resource exists. No basic roles, no
# admin roles, no allUsers or allAuthenticatedUsers anywhere (test/terraform checks all three).
#
# What each function touches comes from shared/chain/*.ts, and test/terraform/grants.test.ts holds
# every grant below against what the functions do: it runs the chain's paths (a first version, a
# refresh, a run reusing every checkpoint, a --no-reuse build with follow-ups, retention, the API's
# reruns, a failed run) with each access recorded by the function that made it.
#   startRun         reads catalog + label stats, writes the run manifest (staging), reads the previous
#                    dataset (output) to share its unchanged shards, fans out extracts, or claims the
#                    merge at once when every checkpoint is reused
#   extractFeature   reads one feature table, writes parquet + marker (staging); polls long work with
#                    a follow-up request, and fails the run when it runs past its limit
#   checkpointLanded reads marker and parquet footers (staging), indexes the checkpoint for reuse
#                    (staging: an entry a newer checkpoint of the same content replaces), claims the merge
#   mergeRun         loads checkpoints (staging), joins in scratch, exports to output, writes the report;
#                    keeps its merge state in staging; polls long work with a follow-up request
#   pipelineApi      starts runs, reruns (drops a feature's checkpoint files, reads the run's and the
#                    shared dataset's output, re-sends work)
#   reconcile        reads manifests (staging), re-sends extracts or the merge, fails stalled runs, and
#                    applies retention (deletes old runs' checkpoints and datasets in both buckets)
# All six read and write run records in Firestore; failRun/publishOutcome publish to run-events.

# =============================================================================================
# Service accounts
# =============================================================================================

resource "google_service_account" "fn" {
  for_each = local.functions

  account_id   = each.value.name
  display_name = "bqx ${each.key}"
  description  = "Runtime identity of the ${each.key} function: only the roles in iam.tf."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "trigger" {
  account_id   = "${var.name_prefix}-trigger"
  display_name = "bqx triggers"
  description  = "Identity of the push subscriptions, the Eventarc storage trigger and the reconcile schedule: may only invoke bqx functions."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  account_id   = "${var.name_prefix}-build"
  display_name = "bqx function builds"
  description  = "Cloud Build identity for the bqx functions: reads the source, writes images to one repository, writes build logs."

  depends_on = [google_project_service.enabled]
}

# Google-managed service agents this stack relies on.
data "google_storage_project_service_account" "gcs" {
  project = var.project

  depends_on = [google_project_service.enabled]
}

resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

# =============================================================================================
# Function roles, as tables: one line per grant, each with its reason
# =============================================================================================

locals {
  grant_buckets = {
    staging = google_storage_bucket.staging.name
    output  = google_storage_bucket.output.name
  }

  grant_datasets = {
    features = var.features_dataset
    labels   = var.labels_dataset
    scratch  = google_bigquery_dataset.scratch.dataset_id
  }

  # Project level: only these two, because neither has a narrower resource to grant on.
  function_project_roles = [
    # BigQuery creates jobs in a project, not in a dataset: jobUser lets the function run queries,
    # loads and exports; which tables it may read or write is decided by the dataset grants below.
    { fn = "startRun", role = "roles/bigquery.jobUser" },
    { fn = "extractFeature", role = "roles/bigquery.jobUser" },
    { fn = "mergeRun", role = "roles/bigquery.jobUser" },
    # Firestore has no per-collection IAM: datastore.user (read/write documents, no admin) on the
    # project is the narrowest grant for the run store.
    { fn = "startRun", role = "roles/datastore.user" },
    { fn = "extractFeature", role = "roles/datastore.user" },
    { fn = "checkpointLanded", role = "roles/datastore.user" },
    { fn = "mergeRun", role = "roles/datastore.user" },
    { fn = "pipelineApi", role = "roles/datastore.user" },
    { fn = "reconcile", role = "roles/datastore.user" },
  ]

  function_bucket_roles = [
    # startRun writes runs/{runId}/manifest.json, and deletes it when it loses the race for the pair.
    { fn = "startRun", bucket = "staging", role = "roles/storage.objectUser" },
    # startRun reads the pair's previous dataset (its _manifest.json and shard listings) to share the
    # shards nothing changed in: without it every refresh would rebuild every shard.
    { fn = "startRun", bucket = "output", role = "roles/storage.objectViewer" },
    # extractFeature writes parquet checkpoints (BigQuery exports them as this account) and rewrites
    # the completion marker, which needs create + delete: objectUser, not admin.
    { fn = "extractFeature", bucket = "staging", role = "roles/storage.objectUser" },
    # checkpointLanded reads the marker, then byte ranges (footers) of the parquet files, and indexes
    # a valid checkpoint for reuse (checkpoints/index/...): an entry whose checkpoint a newer one of
    # the same content supersedes (a --no-reuse build) is replaced, which takes delete as well as
    # create (objectCreator alone cannot replace an object).
    { fn = "checkpointLanded", bucket = "staging", role = "roles/storage.objectUser" },
    # mergeRun reads checkpoints (BigQuery LOAD DATA runs as this account) and the manifest, and
    # keeps its merge state and cost estimate under runs/{runId}/ (adapters/gcp/mergeState.ts).
    { fn = "mergeRun", bucket = "staging", role = "roles/storage.objectUser" },
    # mergeRun exports column groups to training/{pair}/{runId}/ and writes _manifest.json and the
    # report; a retried export replaces its own partial files.
    { fn = "mergeRun", bucket = "output", role = "roles/storage.objectUser" },
    # pipelineApi's rerun of named features deletes their checkpoint folders and reads manifests ...
    { fn = "pipelineApi", bucket = "staging", role = "roles/storage.objectUser" },
    # ... and reads the run's own output (what an earlier merge wrote) and the dataset it shares
    # shards with (still there, and sound?) before reopening the run.
    { fn = "pipelineApi", bucket = "output", role = "roles/storage.objectViewer" },
    # reconcile reads run manifests to know which features are missing, and applies retention to
    # every pair: older runs' checkpoints and scratch go from staging, their datasets from output.
    { fn = "reconcile", bucket = "staging", role = "roles/storage.objectUser" },
    { fn = "reconcile", bucket = "output", role = "roles/storage.objectUser" },
  ]

  function_topic_roles = [
    # startRun fans out one extract request per feature ...
    { fn = "startRun", topic = "extract_requests", role = "roles/pubsub.publisher" },
    # ... and fails a run a forced request supersedes (failure event) ...
    { fn = "startRun", topic = "run_events", role = "roles/pubsub.publisher" },
    # ... and sends the merge request itself when every checkpoint is reused (nothing to land).
    { fn = "startRun", topic = "merge_requests", role = "roles/pubsub.publisher" },
    # extractFeature polls an export still running after BQX_JOB_WAIT_SECONDS with a follow-up
    # request to its own topic, and fails the run when it runs past BQX_PENDING_LIMIT_HOURS.
    { fn = "extractFeature", topic = "extract_requests", role = "roles/pubsub.publisher" },
    { fn = "extractFeature", topic = "run_events", role = "roles/pubsub.publisher" },
    # checkpointLanded sends the one merge request when the last feature lands ...
    { fn = "checkpointLanded", topic = "merge_requests", role = "roles/pubsub.publisher" },
    # ... and fails the run on an invalid checkpoint.
    { fn = "checkpointLanded", topic = "run_events", role = "roles/pubsub.publisher" },
    # mergeRun publishes the completion or failure event, and polls a merge still running after
    # BQX_JOB_WAIT_SECONDS with a follow-up request to its own topic.
    { fn = "mergeRun", topic = "run_events", role = "roles/pubsub.publisher" },
    { fn = "mergeRun", topic = "merge_requests", role = "roles/pubsub.publisher" },
    # pipelineApi starts runs: POST /runs publishes the request here and startRun does the work
    # (so the API needs no BigQuery role) ...
    { fn = "pipelineApi", topic = "run_requests", role = "roles/pubsub.publisher" },
    # ... and reruns: missing/named features go back to extract, a merge rerun to merge.
    { fn = "pipelineApi", topic = "extract_requests", role = "roles/pubsub.publisher" },
    { fn = "pipelineApi", topic = "merge_requests", role = "roles/pubsub.publisher" },
    # reconcile re-sends extract requests, or claims / re-sends the merge, or fails the run.
    { fn = "reconcile", topic = "extract_requests", role = "roles/pubsub.publisher" },
    { fn = "reconcile", topic = "merge_requests", role = "roles/pubsub.publisher" },
    { fn = "reconcile", topic = "run_events", role = "roles/pubsub.publisher" },
  ]

  function_dataset_roles = [
    # startRun lists the feature tables and their columns (INFORMATION_SCHEMA): metadata only.
    { fn = "startRun", dataset = "features", role = "roles/bigquery.metadataViewer" },
    # startRun counts label rows in the window (labelStats) and lists label tables.
    { fn = "startRun", dataset = "labels", role = "roles/bigquery.dataViewer" },
    # extractFeature reads one feature table's rows and exports them.
    { fn = "extractFeature", dataset = "features", role = "roles/bigquery.dataViewer" },
    # mergeRun joins every group against the label rows of the window.
    { fn = "mergeRun", dataset = "labels", role = "roles/bigquery.dataViewer" },
    # mergeRun creates, fills and drops its staged join tables in the scratch dataset.
    { fn = "mergeRun", dataset = "scratch", role = "roles/bigquery.dataEditor" },
  ]
}

# Reason per line in local.function_project_roles (jobUser, datastore.user; nothing broader).
resource "google_project_iam_member" "functions" {
  for_each = { for g in local.function_project_roles : "${g.fn}/${g.role}" => g }

  project = var.project
  role    = each.value.role
  member  = google_service_account.fn[each.value.fn].member
}

# Reason per line in local.function_bucket_roles.
resource "google_storage_bucket_iam_member" "functions" {
  for_each = { for g in local.function_bucket_roles : "${g.fn}/${g.bucket}/${g.role}" => g }

  bucket = local.grant_buckets[each.value.bucket]
  role   = each.value.role
  member = google_service_account.fn[each.value.fn].member
}

# Reason per line in local.function_topic_roles.
resource "google_pubsub_topic_iam_member" "functions" {
  for_each = { for g in local.function_topic_roles : "${g.fn}/${g.topic}/${g.role}" => g }

  topic  = google_pubsub_topic.main[each.value.topic].name
  role   = each.value.role
  member = google_service_account.fn[each.value.fn].member
}

# Reason per line in local.function_dataset_roles.
resource "google_bigquery_dataset_iam_member" "functions" {
  for_each = { for g in local.function_dataset_roles : "${g.fn}/${g.dataset}/${g.role}" => g }

  project    = var.project
  dataset_id = local.grant_datasets[each.value.dataset]
  role       = each.value.role
  member     = google_service_account.fn[each.value.fn].member
}

# =============================================================================================
# Invocation
# =============================================================================================

# The trigger account may invoke each function that is driven by Pub/Sub, Eventarc or the
# scheduler, on that function's Cloud Run service only. pipelineApi is not among them.
resource "google_cloud_run_v2_service_iam_member" "trigger_invokes" {
  for_each = { for k, f in local.functions : k => f if f.trigger != "http" || k == "reconcile" }

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.trigger.member
}

# Eventarc requires its trigger's account to hold eventReceiver on the project (there is no
# per-trigger grant); it lets the account receive events, nothing else.
resource "google_project_iam_member" "trigger_receives_events" {
  project = var.project
  role    = "roles/eventarc.eventReceiver"
  member  = google_service_account.trigger.member
}

# The people and tools named in var.api_invokers may call pipelineApi (validated: never allUsers
# or allAuthenticatedUsers), on its service only.
resource "google_cloud_run_v2_service_iam_member" "api_invokers" {
  for_each = toset(var.api_invokers)

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.fn["pipelineApi"].name
  role     = "roles/run.invoker"
  member   = each.value
}

# =============================================================================================
# Service agents
# =============================================================================================

# Eventarc storage triggers: Cloud Storage publishes object notifications to a topic that Eventarc
# creates and names, so the Cloud Storage service agent needs publisher on the project (the topic
# does not exist before the trigger, so no topic-level grant is possible).
resource "google_project_iam_member" "gcs_agent_publishes" {
  project = var.project
  role    = "roles/pubsub.publisher"
  member  = data.google_storage_project_service_account.gcs.member
}

# Pub/Sub moves undeliverable messages to the dead-letter topics as its service agent: publisher
# on those topics only.
resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  for_each = google_pubsub_topic.dead_letter

  topic  = each.value.name
  role   = "roles/pubsub.publisher"
  member = google_project_service_identity.pubsub.member
}

# ... and must be able to acknowledge (remove) the message from the source subscription when it
# forwards it: subscriber on those subscriptions only.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_forwards_dead_letters" {
  for_each = google_pubsub_subscription.push

  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = google_project_service_identity.pubsub.member
}

# Push subscriptions sign their OIDC tokens as the trigger account; the Pub/Sub service agent must
# be allowed to mint tokens for that one account (not for any other in the project).
resource "google_service_account_iam_member" "pubsub_agent_mints_trigger_tokens" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_project_service_identity.pubsub.member
}

# =============================================================================================
# Build account
# =============================================================================================

# Build logs go to Cloud Logging, which has no narrower resource for writing entries.
resource "google_project_iam_member" "build" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# Cloud Functions copies the uploaded source into its own bucket gcf-v2-sources-<number>-<region>
# and builds from there. That bucket is created by the first deploy, so the grant is project level
# with a condition that limits it to that one bucket; objectUser (not admin) because the build
# reads the source and may write build metadata next to it.
resource "google_project_iam_member" "build_uses_gcf_sources" {
  project = var.project
  role    = "roles/storage.objectUser"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-v2-sources-only"
    description = "Only the Cloud Functions source bucket of this project and region."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}\")"
  }
}

# The build reads the zip Terraform uploaded.
resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# The build pushes the function images to this stack's repository only.
resource "google_artifact_registry_repository_iam_member" "build_writes_images" {
  project    = var.project
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}
