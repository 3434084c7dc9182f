output "name" {
  description = "Function name."
  value       = google_cloudfunctions2_function.main.name
}

output "url" {
  description = "Function URL (https://REGION-PROJECT.cloudfunctions.net/NAME)."
  value       = google_cloudfunctions2_function.main.url
}

output "uri" {
  description = "URI of the function's Cloud Run service; Cloud Tasks and Cloud Scheduler call this one."
  value       = google_cloudfunctions2_function.main.service_config[0].uri
}

output "service_name" {
  description = "Cloud Run service behind the function, for run.invoker bindings."
  value       = google_cloudfunctions2_function.main.service_config[0].service
}

output "service_account_email" {
  description = "Email of the function's runtime service account."
  value       = google_service_account.main.email
}

output "service_account_member" {
  description = "IAM member string of the function's runtime service account."
  value       = google_service_account.main.member
}
