output "function_urls" {
  description = "Entry point => function URL (https://REGION-PROJECT.cloudfunctions.net/NAME)."
  value       = { for name, f in module.function : name => f.url }
}

output "function_service_accounts" {
  description = "Entry point => runtime service account email."
  value       = { for name, f in module.function : name => f.service_account_email }
}

output "functions_base_url" {
  description = "Base of every function URL (YTEMPIRE_FUNCTIONS_BASE_URL)."
  value       = local.functions_base_url
}

output "queue_names" {
  description = "Step => Cloud Tasks queue id."
  value       = { for step, q in google_cloud_tasks_queue.step : step => q.name }
}

output "media_bucket" {
  description = "Bucket for media and intermediate artefacts."
  value       = google_storage_bucket.media.name
}

output "source_bucket" {
  description = "Bucket holding the function source archives."
  value       = google_storage_bucket.source.name
}

output "source_object" {
  description = "Source archive deployed, named by its content hash."
  value       = google_storage_bucket_object.source.name
}

output "access_log_bucket" {
  description = "Bucket receiving the other buckets' access logs."
  value       = google_storage_bucket.access_logs.name
}

output "secret_ids" {
  description = "Setting => Secret Manager secret id to add a value to (gcloud secrets versions add)."
  value       = { for field, s in google_secret_manager_secret.settings : field => s.secret_id }
}

output "tasks_invoker_service_account" {
  description = "Identity Cloud Tasks uses to call the step functions."
  value       = google_service_account.tasks_invoker.email
}

output "scheduler_invoker_service_account" {
  description = "Identity Cloud Scheduler uses to call the scheduled functions."
  value       = google_service_account.scheduler_invoker.email
}
