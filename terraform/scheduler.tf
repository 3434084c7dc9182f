# A Cloud Scheduler job for every scheduled function (kind = "scheduled" in local.functions: token_refresh
# every minute, analytics_sync daily; health checks come with their issue). Each call carries an OIDC
# token of the scheduler invoker, the only identity allowed to call these functions.

resource "google_cloud_scheduler_job" "function" {
  for_each = { for name, f in local.functions : name => f if f.kind == "scheduled" }

  project          = var.project_id
  region           = var.region
  name             = "${var.queue_prefix}-${replace(each.key, "_", "-")}"
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "${min(each.value.timeout_s, 1800)}s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "10s"
  }

  http_target {
    http_method = "POST"
    uri         = module.function[each.key].uri

    oidc_token {
      service_account_email = google_service_account.scheduler_invoker.email
      audience              = module.function[each.key].uri
    }
  }

  depends_on = [google_project_service.main]
}
