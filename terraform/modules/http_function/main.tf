# One gen2 HTTP Cloud Function with its own service account. The account gets here only what every
# function of this kind needs (read its own secrets); what a function does beyond that is granted by the
# caller, next to the reason (../../iam.tf).

locals {
  account_id = "fn-${replace(var.name, "_", "-")}"
}

resource "google_service_account" "main" {
  project      = var.project_id
  account_id   = local.account_id
  display_name = "Cloud Function ${var.name}"
  description  = "Runtime identity of the ${var.name} function; holds only the roles that function needs."
}

# roles/secretmanager.secretAccessor on each secret referenced as an environment variable: the runtime
# resolves the reference with the function's identity when an instance starts.
resource "google_secret_manager_secret_iam_member" "secret_env" {
  for_each = var.secret_env

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.main.member
}

resource "google_cloudfunctions2_function" "main" {
  #checkov:skip=CKV_GCP_124:Ingress comes from var.ingress per function: internal-only for Cloud Tasks and Cloud Scheduler targets, ALLOW_ALL only for APIs behind IAM and signed webhooks (see functions.tf).
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description

  build_config {
    runtime           = var.runtime
    entry_point       = coalesce(var.entry_point, var.name)
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_s
    max_instance_request_concurrency = var.concurrency
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.main.email
    environment_variables            = var.env

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # A revision whose identity cannot read its secrets never becomes ready.
  depends_on = [google_secret_manager_secret_iam_member.secret_env]
}

# allUsers may invoke: only for endpoints that authenticate callers themselves (Stripe signatures,
# OAuth state). Everything else is invoked with an identity token.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.main.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
