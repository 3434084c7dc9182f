provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge({ app = "ytempire", managed-by = "terraform" }, var.labels)
}

data "google_project" "main" {
  project_id = var.project_id
}

locals {
  source_bucket_name = coalesce(var.source_bucket_name, "${var.project_id}-function-source")
  media_bucket_name  = coalesce(var.media_bucket_name, "${var.project_id}-media")

  # gen2 functions answer at https://REGION-PROJECT.cloudfunctions.net/NAME, known before they exist,
  # so the code can build any function's URL from this base (shared.config.function_url).
  functions_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"

  # Settings every function reads (shared/config.py, env prefix YTEMPIRE_).
  common_env = {
    YTEMPIRE_PROJECT_ID                    = var.project_id
    YTEMPIRE_REGION                        = var.region
    YTEMPIRE_MEDIA_BUCKET                  = google_storage_bucket.media.name
    YTEMPIRE_FUNCTIONS_BASE_URL            = local.functions_base_url
    YTEMPIRE_QUEUE_PREFIX                  = var.queue_prefix
    YTEMPIRE_TASKS_INVOKER_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
    YTEMPIRE_TASK_MAX_ATTEMPTS             = tostring(local.task_max_attempts)
    YTEMPIRE_TOKEN_SECRET_PREFIX           = local.token_secret_prefix
  }
}
