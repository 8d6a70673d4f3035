# What an operator needs after `terraform apply`.

output "topics" {
  description = "Pub/Sub topic names, by role."
  value       = { for k, t in google_pubsub_topic.main : k => t.name }
}

output "dead_letter_topics" {
  description = "Dead-letter topic per Pub/Sub-driven function, and the pull subscription that holds its messages."
  value = {
    for k, t in google_pubsub_topic.dead_letter : k => {
      topic        = t.name
      subscription = google_pubsub_subscription.dead_letter_hold[k].name
    }
  }
}

output "run_events_subscription" {
  description = "Pull subscription that keeps a week of completion and failure events."
  value       = google_pubsub_subscription.run_events_tail.name
}

output "buckets" {
  description = "Bucket names: staging (runs/{runId}/ checkpoints), output (training/{pair}/{runId}/), source (function zips)."
  value = {
    staging = google_storage_bucket.staging.name
    output  = google_storage_bucket.output.name
    source  = google_storage_bucket.source.name
  }
}

output "scratch_dataset" {
  description = "BigQuery dataset for scratch tables (they expire by themselves)."
  value       = google_bigquery_dataset.scratch.dataset_id
}

output "api_url" {
  description = "pipelineApi URL. Call it with an ID token: curl -H \"Authorization: Bearer $(gcloud auth print-identity-token)\" <url>/runs"
  value       = google_cloudfunctions2_function.fn["pipelineApi"].service_config[0].uri
}

output "function_urls" {
  description = "run.app URL of every function (all require an ID token)."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => f.service_config[0].uri }
}

output "service_accounts" {
  description = "Runtime service account of each function, plus the trigger and build accounts."
  value = merge(
    { for k, sa in google_service_account.fn : k => sa.email },
    { triggers = google_service_account.trigger.email, build = google_service_account.build.email },
  )
}

output "start_run_command" {
  description = "The command that starts a run of the first pair in var.pairs."
  value       = "gcloud pubsub topics publish ${google_pubsub_topic.main["run_requests"].name} --project=${var.project} --message=${var.pairs[0]}"
}

output "start_run_commands" {
  description = "The start command for every pair in var.pairs. For a window or a forced run, publish JSON instead: --message='{\"pair\":\"eurusd\",\"start\":\"2024-01-01T00:00:00Z\",\"end\":\"2024-07-01T00:00:00Z\",\"force\":true}'"
  value = {
    for p in var.pairs : p => "gcloud pubsub topics publish ${google_pubsub_topic.main["run_requests"].name} --project=${var.project} --message=${p}"
  }
}
