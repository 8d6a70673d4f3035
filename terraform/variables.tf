# Inputs. Names and defaults mirror CONFIG_DEFAULTS in shared/config.ts (test/terraform checks it),
# and each validation repeats the loader's rule so a bad value fails at plan, not at cold start.

# ---------------------------------------------------------------------------------------------
# Project and places
# ---------------------------------------------------------------------------------------------

variable "project" {
  description = "Google Cloud project id that holds everything (BQX_PROJECT)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a Google Cloud project id: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region for the functions, buckets, triggers and scheduler. The staging bucket lives here, and the storage trigger must be in the bucket's region."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west4."
  }
}

variable "bigquery_location" {
  description = "BigQuery location of the feature and label datasets (BQX_LOCATION). The scratch dataset is created here too, because a query cannot join tables from two locations."
  type        = string
  default     = "us-central1"

  validation {
    # Same pattern as the loader (shared/config.ts): lower-case, so write multi-regions as "us" or "eu".
    condition     = can(regex("^[a-z]+(-[a-z0-9]+)*$", var.bigquery_location))
    error_message = "bigquery_location must be a lower-case BigQuery location such as us-central1, us or eu (the loader rejects upper case)."
  }

  validation {
    # BigQuery loads checkpoints from the staging bucket and exports into both buckets, which live in
    # var.region. Its documented location rule for loads and exports: a dataset in a region needs a
    # bucket in that same region; a dataset in the EU multi-region needs a bucket in the EU (London
    # europe-west2 and Zurich europe-west6 are in Europe but not in the EU multi-region). The US
    # multi-region is documented to accept a bucket anywhere; this refuses regions outside the US all
    # the same, because every run moves hundreds of GB between the buckets and BigQuery and a
    # cross-continent pair would bill transfer on all of it.
    condition = (
      var.bigquery_location == var.region ||
      (var.bigquery_location == "us" && startswith(var.region, "us-")) ||
      (var.bigquery_location == "eu" && contains([
        "europe-central2", "europe-north1", "europe-north2", "europe-southwest1", "europe-west1", "europe-west3",
        "europe-west4", "europe-west8", "europe-west9", "europe-west10", "europe-west12",
      ], var.region))
    )
    error_message = "bigquery_location \"${var.bigquery_location}\" and region \"${var.region}\" (where the buckets are) are not a combination BigQuery loads from and exports to: use the same region for both, or bigquery_location \"us\" with a us-* region, or \"eu\" with a region in the EU (e.g. europe-west1, europe-west4)."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (run store). null = the region."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^[a-z]+[a-z0-9-]*[0-9]$", var.firestore_location))
    error_message = "firestore_location must be a Firestore location such as us-central1, nam5 or eur3, or null for the region."
  }
}

variable "manage_firestore_database" {
  description = "Create the (default) Firestore database in native mode. Set false when the project already has one (it must be in native mode)."
  type        = bool
  default     = true
}

variable "name_prefix" {
  description = "Prefix of function, service account, subscription and scheduler names."
  type        = string
  default     = "bqx"

  validation {
    # Service account ids are 6-30 characters; the longest suffix here is "-checkpoint-landed" (18).
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name_prefix))
    error_message = "name_prefix must be 2-10 lower-case letters or digits, starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on every bucket, dataset, topic and function."
  type        = map(string)
  default     = { app = "bqx" }
}

# ---------------------------------------------------------------------------------------------
# Buckets (no defaults in the loader: derived from the project id unless given)
# ---------------------------------------------------------------------------------------------

variable "staging_bucket" {
  description = "Bucket for runs/{runId}/ checkpoints (BQX_STAGING_BUCKET). null = \"<project>-bqx-staging\"."
  type        = string
  default     = null

  validation {
    condition     = var.staging_bucket == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.staging_bucket))
    error_message = "staging_bucket must be a Cloud Storage bucket name (3-63 lower-case letters, digits, dots, hyphens, underscores) or null."
  }
}

variable "output_bucket" {
  description = "Bucket for training/{pair}/{runId}/ outputs (BQX_OUTPUT_BUCKET). null = \"<project>-bqx-output\"."
  type        = string
  default     = null

  validation {
    condition     = var.output_bucket == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.output_bucket))
    error_message = "output_bucket must be a Cloud Storage bucket name (3-63 lower-case letters, digits, dots, hyphens, underscores) or null."
  }
}

variable "source_bucket" {
  description = "Bucket that holds the function source zips, one object per content hash. null = \"<project>-bqx-source\"."
  type        = string
  default     = null

  validation {
    condition     = var.source_bucket == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.source_bucket))
    error_message = "source_bucket must be a Cloud Storage bucket name or null."
  }
}

# A backstop for what retention (`bqx gc`, the reconciler) left behind. It cannot hit a kept
# dataset: datasets live in the output bucket, which has no age rule. The worst it does is delete
# checkpoints the newest run still lists, so a run over a month later extracts them again instead
# of reusing them (a cost, never a wrong or missing dataset). 30 days spans weekly retraining.
variable "staging_retention_days" {
  description = "Days after which objects under runs/ in the staging bucket (checkpoints, run manifests, merge records) are deleted, whatever retention did. Keep it longer than a run can take, including reconciler retries, and longer than the time between two runs of a pair if checkpoints are to be reused. A refresh needs the run manifest of the version it follows (runs/{runId}/manifest.json): once this rule has deleted it, --refresh is refused, saying so, and the pair needs a full build; keep it longer than the time between two refreshes."
  type        = number
  default     = 30

  validation {
    condition     = var.staging_retention_days >= 1 && var.staging_retention_days <= 365 && floor(var.staging_retention_days) == var.staging_retention_days
    error_message = "staging_retention_days must be a whole number of days from 1 to 365."
  }
}

variable "force_destroy_buckets" {
  description = "Allow terraform destroy to delete non-empty buckets. Leave false outside throw-away projects."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

variable "features_dataset" {
  description = "Existing BigQuery dataset with the feature tables (BQX_FEATURES_DATASET). Not created here; functions get read access to it."
  type        = string
  default     = "bqx_ml_v3_features_v2"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.features_dataset))
    error_message = "features_dataset must be a dataset name (letters, digits, underscores)."
  }
}

variable "labels_dataset" {
  description = "Existing BigQuery dataset with the label tables (BQX_LABELS_DATASET). Not created here; functions get read access to it."
  type        = string
  default     = "bqx_ml_v3_analytics_v2"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.labels_dataset))
    error_message = "labels_dataset must be a dataset name (letters, digits, underscores)."
  }
}

variable "scratch_dataset" {
  description = "BigQuery dataset created here for scratch tables (BQX_SCRATCH_DATASET); tables in it expire by themselves."
  type        = string
  default     = "bqx_scratch"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*$", var.scratch_dataset))
    error_message = "scratch_dataset must be a dataset name (letters, digits, underscores)."
  }
}

variable "scratch_ttl_hours" {
  description = "Default table expiration of the scratch dataset, in hours (BQX_SCRATCH_TTL_HOURS)."
  type        = number
  default     = 24

  validation {
    condition     = var.scratch_ttl_hours >= 1 && var.scratch_ttl_hours <= 8760 && floor(var.scratch_ttl_hours) == var.scratch_ttl_hours
    error_message = "scratch_ttl_hours must be a whole number from 1 to 8760 (the loader's range)."
  }
}

# ---------------------------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------------------------

variable "topic_run_requests" {
  description = "Topic whose messages start a run (BQX_TOPIC_RUN_REQUESTS)."
  type        = string
  default     = "bqx-run-requests"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.topic_run_requests)) && !startswith(lower(var.topic_run_requests), "goog")
    error_message = "topic_run_requests must be a Pub/Sub topic name (3-255 characters, starting with a letter, not with \"goog\")."
  }
}

variable "topic_extract_requests" {
  description = "Topic with one message per feature to extract (BQX_TOPIC_EXTRACT_REQUESTS)."
  type        = string
  default     = "bqx-extract-requests"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.topic_extract_requests)) && !startswith(lower(var.topic_extract_requests), "goog")
    error_message = "topic_extract_requests must be a Pub/Sub topic name (3-255 characters, starting with a letter, not with \"goog\")."
  }
}

variable "topic_merge_requests" {
  description = "Topic with one merge request per run (BQX_TOPIC_MERGE_REQUESTS)."
  type        = string
  default     = "bqx-merge-requests"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.topic_merge_requests)) && !startswith(lower(var.topic_merge_requests), "goog")
    error_message = "topic_merge_requests must be a Pub/Sub topic name (3-255 characters, starting with a letter, not with \"goog\")."
  }
}

variable "topic_run_events" {
  description = "Topic that receives completion and failure events (BQX_TOPIC_RUN_EVENTS)."
  type        = string
  default     = "bqx-run-events"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$", var.topic_run_events)) && !startswith(lower(var.topic_run_events), "goog")
    error_message = "topic_run_events must be a Pub/Sub topic name (3-255 characters, starting with a letter, not with \"goog\")."
  }
}

variable "max_delivery_attempts" {
  description = "Deliveries of one message to an event function before Pub/Sub moves it to the dead-letter topic."
  type        = number
  default     = 5

  validation {
    # Pub/Sub accepts 5-100.
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (the Pub/Sub limits)."
  }
}

variable "dead_letter_retention_days" {
  description = "How long the hold subscriptions keep dead-lettered messages for inspection and replay."
  type        = number
  default     = 7

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 31 && floor(var.dead_letter_retention_days) == var.dead_letter_retention_days
    error_message = "dead_letter_retention_days must be a whole number from 1 to 31 (the Pub/Sub limit)."
  }
}

# ---------------------------------------------------------------------------------------------
# Pipeline behaviour (passed to the functions as BQX_* variables)
# ---------------------------------------------------------------------------------------------

variable "currencies" {
  description = "Currencies in market-priority order (BQX_CURRENCIES); a pair is base+quote with base before quote."
  type        = list(string)
  default     = ["eur", "gbp", "aud", "nzd", "usd", "cad", "chf", "jpy"]

  validation {
    condition     = length(var.currencies) >= 2 && length(distinct(var.currencies)) == length(var.currencies) && alltrue([for c in var.currencies : can(regex("^[a-z]{3}$", c))])
    error_message = "currencies must list at least two distinct three-letter lower-case currency codes."
  }
}

variable "pairs" {
  description = "Pairs this deployment serves; used for the start-run commands in the outputs."
  type        = list(string)
  default     = ["eurusd"]

  validation {
    condition = length(var.pairs) >= 1 && alltrue([
      for p in var.pairs : can(regex("^[a-z]{6}$", p)) && try(index(var.currencies, substr(p, 0, 3)) < index(var.currencies, substr(p, 3, 3)), false)
    ])
    error_message = "pairs must be six-letter pairs whose base and quote are both in currencies, base listed before quote (e.g. eurusd)."
  }
}

variable "max_bytes_billed" {
  description = "Per-query guard: BigQuery fails any query that would bill more bytes than this (BQX_MAX_BYTES_BILLED)."
  type        = number
  default     = 5000000000000

  validation {
    condition     = var.max_bytes_billed >= 1 && floor(var.max_bytes_billed) == var.max_bytes_billed && var.max_bytes_billed <= 9007199254740991
    error_message = "max_bytes_billed must be a whole number of bytes, at least 1 (and a safe integer)."
  }
}

variable "cost_per_tb_usd" {
  description = "Price per TiB scanned, used only for the cost estimate in run events (BQX_COST_PER_TB_USD)."
  type        = number
  default     = 6.25

  validation {
    condition     = var.cost_per_tb_usd >= 0
    error_message = "cost_per_tb_usd must not be negative."
  }
}

variable "max_attempts" {
  description = "Times the reconciler re-sends a missing step before it fails the run (BQX_MAX_ATTEMPTS)."
  type        = number
  default     = 5

  validation {
    condition     = var.max_attempts >= 1 && var.max_attempts <= 100 && floor(var.max_attempts) == var.max_attempts
    error_message = "max_attempts must be a whole number from 1 to 100."
  }
}

variable "shard" {
  description = "Time shards of every dataset: UTC calendar month, ISO week or day (BQX_SHARD)."
  type        = string
  default     = "month"

  validation {
    condition     = contains(["month", "week", "day"], var.shard)
    error_message = "shard must be one of month, week, day."
  }
}

variable "group_columns" {
  description = "Width of a dataset's column groups, whole table families each (BQX_GROUP_COLUMNS): narrower groups rewrite less when a family changes, and make more EXPORT DATA jobs (one per shard and group)."
  type        = number
  default     = 1000

  validation {
    condition     = var.group_columns >= 100 && var.group_columns <= 10000 && floor(var.group_columns) == var.group_columns
    error_message = "group_columns must be a whole number from 100 to 10000."
  }
}

variable "keep" {
  description = "Succeeded datasets kept per pair by the reconciler's retention (BQX_KEEP)."
  type        = number
  default     = 3

  validation {
    condition     = var.keep >= 1 && var.keep <= 1000 && floor(var.keep) == var.keep
    error_message = "keep must be a whole number from 1 to 1000."
  }
}

variable "stall_seconds" {
  description = "A run that has not moved for this long is treated as stalled by the reconciler (BQX_STALL_SECONDS)."
  type        = number
  default     = 900

  validation {
    condition     = var.stall_seconds >= 1 && var.stall_seconds <= 86400 && floor(var.stall_seconds) == var.stall_seconds
    error_message = "stall_seconds must be a whole number from 1 to 86400."
  }
}

variable "log_level" {
  description = "Function log level (BQX_LOG_LEVEL)."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warn, error."
  }
}

variable "settings" {
  description = "More bqx settings for every function, by their BQX_* names (README, Configuration): quality gates (BQX_GATES), time folds (BQX_FOLD_*), the profile (BQX_PROFILE*), table rules and the rest that has no variable of its own here. The functions validate the values when they start, as bqx does; a name set by another variable here, or that only the embedded runtime reads, is refused."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for name in keys(var.settings) : contains([
      "BQX_LABEL_TABLE_PREFIX", "BQX_TABLE_RULES", "BQX_METADATA_COLUMNS", "BQX_MAX_GROUP_COLUMNS", "BQX_JOIN_BATCH_TABLES",
      "BQX_DISK_CHECK", "BQX_PENDING_LIMIT_HOURS", "BQX_PROFILE", "BQX_PROFILE_WARMUP_ROWS", "BQX_PROFILE_STALE_SHARE", "BQX_GATES",
      "BQX_FOLD_TRAIN_DAYS", "BQX_FOLD_VALIDATION_DAYS", "BQX_FOLD_TEST_DAYS", "BQX_FOLD_STEP_DAYS", "BQX_FOLD_PURGE_MINUTES", "BQX_FOLD_EMBARGO_MINUTES",
    ], name)])
    error_message = "settings takes BQX_LABEL_TABLE_PREFIX, BQX_TABLE_RULES, BQX_METADATA_COLUMNS, BQX_MAX_GROUP_COLUMNS, BQX_JOIN_BATCH_TABLES, BQX_DISK_CHECK, BQX_PENDING_LIMIT_HOURS, BQX_PROFILE, BQX_PROFILE_WARMUP_ROWS, BQX_PROFILE_STALE_SHARE, BQX_GATES and BQX_FOLD_*; the other BQX_* names have a variable of their own here (or are the embedded runtime's)."
  }
}

variable "job_wait_seconds" {
  description = "How long a function waits for one BigQuery job before it acknowledges and sends a follow-up message that polls it again (BQX_JOB_WAIT_SECONDS). Functions with a shorter timeout get min(this, timeout - 30)."
  type        = number
  default     = 480

  validation {
    # extractFeature and mergeRun are the functions that wait on long BigQuery jobs: their timeout must leave 30 s
    # after the wait to record the outcome, or every slow job would be cut off mid-write.
    condition = (
      var.job_wait_seconds >= 10 && floor(var.job_wait_seconds) == var.job_wait_seconds &&
      var.job_wait_seconds + 30 <= var.timeouts["extractFeature"] &&
      var.job_wait_seconds + 30 <= var.timeouts["mergeRun"]
    )
    error_message = "job_wait_seconds must be a whole number >= 10 and at least 30 s below the extractFeature and mergeRun timeouts."
  }
}

# ---------------------------------------------------------------------------------------------
# Function sizing (per function on purpose; memory, CPU and concurrency are in main.tf with reasons)
# ---------------------------------------------------------------------------------------------

variable "max_instances" {
  description = "Upper bound on instances per function. List all six functions."
  type        = map(number)
  default = {
    startRun         = 5   # one run per pair at a time; a handful covers every pair starting together
    extractFeature   = 100 # the fan-out: hundreds of features per run, each a BigQuery export
    checkpointLanded = 50  # a burst of finalize events per run; each call is short
    mergeRun         = 3   # heavy BigQuery joins; few at once keeps slot use and bytes billed in check
    pipelineApi      = 5   # operator traffic only
    reconcile        = 1   # one sweeper: two at once would only duplicate re-sends
  }

  validation {
    condition = (
      sort(keys(var.max_instances)) == sort(["startRun", "extractFeature", "checkpointLanded", "mergeRun", "pipelineApi", "reconcile"]) &&
      alltrue([for n in values(var.max_instances) : n >= 1 && n <= 1000 && floor(n) == n])
    )
    error_message = "max_instances must give a whole number from 1 to 1000 for each of startRun, extractFeature, checkpointLanded, mergeRun, pipelineApi, reconcile."
  }
}

variable "timeouts" {
  description = "Function timeout in seconds. Event functions: at most 540, since a Pub/Sub push waits at most 600 s (ack deadline) and Eventarc event functions are capped at 540."
  type        = map(number)
  default = {
    startRun         = 300
    extractFeature   = 540
    checkpointLanded = 120
    mergeRun         = 540
    pipelineApi      = 60
    reconcile        = 300
  }

  validation {
    condition = (
      sort(keys(var.timeouts)) == sort(["startRun", "extractFeature", "checkpointLanded", "mergeRun", "pipelineApi", "reconcile"]) &&
      alltrue([for k in ["startRun", "extractFeature", "checkpointLanded", "mergeRun"] : var.timeouts[k] >= 60 && var.timeouts[k] <= 540]) &&
      alltrue([for k in ["pipelineApi", "reconcile"] : var.timeouts[k] >= 60 && var.timeouts[k] <= 1770]) &&
      alltrue([for n in values(var.timeouts) : floor(n) == n])
    )
    error_message = "timeouts must give whole seconds for all six functions: 60-540 for startRun, extractFeature, checkpointLanded, mergeRun; 60-1770 for pipelineApi and reconcile (the scheduler's 1800 s deadline less 30 s)."
  }
}

# ---------------------------------------------------------------------------------------------
# Reconciler schedule and API access
# ---------------------------------------------------------------------------------------------

variable "reconcile_schedule" {
  description = "Cron schedule (Cloud Scheduler syntax) on which the reconciler runs."
  type        = string
  default     = "*/10 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.reconcile_schedule))) == 5
    error_message = "reconcile_schedule must be a five-field cron expression, e.g. \"*/10 * * * *\"."
  }
}

variable "reconcile_time_zone" {
  description = "Time zone of reconcile_schedule."
  type        = string
  default     = "Etc/UTC"
}

variable "api_invokers" {
  description = "Principals allowed to call pipelineApi, e.g. [\"group:fx-ml@example.com\"]. Never allUsers or allAuthenticatedUsers."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for m in var.api_invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", m)) && !contains(["allusers", "allauthenticatedusers"], lower(m))
    ])
    error_message = "api_invokers must be IAM members such as user:..., group:... or serviceAccount:...; allUsers and allAuthenticatedUsers are refused."
  }
}
