# Who may do what. Every function runs as its own service account (modules/http_function), holding only
# the roles below that its entry in local.functions asks for; each grant says why.

locals {
  firestore_roles = {
    read  = "roles/datastore.viewer" # reads documents only (job status, metrics)
    write = "roles/datastore.user"   # reads and writes documents in transactions (jobs, ledgers)
  }
  media_roles = {
    read  = "roles/storage.objectViewer" # reads what earlier steps stored
    write = "roles/storage.objectUser"   # creates, reads and replaces objects; no bucket or IAM admin
  }

  # (function, step) for every queue a function creates tasks in.
  enqueue_grants = merge([
    for name, f in local.functions : {
      for step in f.enqueues : "${name}/${step}" => { function = name, step = step }
    }
  ]...)
  enqueuers           = toset([for name, f in local.functions : name if length(f.enqueues) > 0])
  youtube_token_users = toset([for name, f in local.functions : name if f.youtube_tokens])
  media_users         = { for name, f in local.functions : name => f.media if f.media != "none" }
  # The functions Cloud Tasks delivers to: exactly the targets of the step queues.
  queue_targets       = toset([for step, q in local.queues : q.function])
  scheduled_functions = toset([for name, f in local.functions : name if f.kind == "scheduled"])
  # Private HTTP APIs x the members allowed to call them.
  api_invoker_grants = {
    for pair in setproduct([for name, f in local.functions : name if f.kind == "http" && !f.public], var.api_invoker_members) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] }
  }

  # Secret Manager resource names use the project number; tokens are secrets named <prefix><account>.
  youtube_token_condition = "resource.name.startsWith(\"projects/${data.google_project.main.number}/secrets/${local.token_secret_prefix}\")"
}

# --- Invokers -----------------------------------------------------------------------------------------

resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "tasks-invoker"
  display_name = "Cloud Tasks invoker"
  description  = "Identity Cloud Tasks signs step calls with; may invoke the step functions and nothing else."
}

# roles/run.invoker on each step function's service: Cloud Tasks delivers the chain's tasks with this
# identity, and these are the only functions it may call.
resource "google_cloud_run_v2_service_iam_member" "tasks_invoker" {
  for_each = local.queue_targets

  project  = var.project_id
  location = var.region
  name     = module.function[each.key].service_name
  role     = "roles/run.invoker"
  member   = google_service_account.tasks_invoker.member
}

resource "google_service_account" "scheduler_invoker" {
  project      = var.project_id
  account_id   = "scheduler-invoker"
  display_name = "Cloud Scheduler invoker"
  description  = "Identity Cloud Scheduler signs its calls with; may invoke the scheduled functions only."
}

# roles/run.invoker on each scheduled function: Cloud Scheduler's OIDC token carries this identity.
resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  for_each = local.scheduled_functions

  project  = var.project_id
  location = var.region
  name     = module.function[each.key].service_name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler_invoker.member
}

# roles/run.invoker on the private HTTP APIs for the callers named in var.api_invoker_members.
resource "google_cloud_run_v2_service_iam_member" "api_invoker" {
  for_each = local.api_invoker_grants

  project  = var.project_id
  location = var.region
  name     = module.function[each.value.function].service_name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# --- Function runtime grants --------------------------------------------------------------------------

# Firestore holds every function's state; Firestore IAM stops at the database, so this is project-level.
resource "google_project_iam_member" "firestore" {
  for_each = local.functions

  project = var.project_id
  role    = local.firestore_roles[each.value.firestore]
  member  = module.function[each.key].service_account_member
}

# Media bucket access for the steps that read or write media (see local.media_roles).
resource "google_storage_bucket_iam_member" "media" {
  for_each = local.media_users

  bucket = google_storage_bucket.media.name
  role   = local.media_roles[each.value]
  member = module.function[each.key].service_account_member
}

# roles/cloudtasks.enqueuer on each queue the function creates tasks in (its successors, its own queue
# for deferral, and the entry step for video_request), and on no other queue.
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.enqueue_grants

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.step[each.value.step].name
  role     = "roles/cloudtasks.enqueuer"
  member   = module.function[each.value.function].service_account_member
}

# roles/iam.serviceAccountUser on the tasks invoker only: creating a task that carries an OIDC token for
# that account requires acting as it.
resource "google_service_account_iam_member" "tasks_invoker_user" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = module.function[each.key].service_account_member
}

# roles/secretmanager.secretAccessor on the YouTube token secrets only (IAM condition on the name
# prefix): uploading and publishing read the channel's OAuth token.
resource "google_project_iam_member" "youtube_token_reader" {
  for_each = local.youtube_token_users

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = module.function[each.key].service_account_member

  condition {
    title       = "youtube-token-secrets"
    description = "Only secrets named ${local.token_secret_prefix}<account>."
    expression  = local.youtube_token_condition
  }
}

# roles/secretmanager.secretVersionManager on the same secrets only: a token refresh adds a version and
# destroys the older ones. No access to any other secret, and no secret creation or IAM changes.
resource "google_project_iam_member" "youtube_token_writer" {
  for_each = local.youtube_token_users

  project = var.project_id
  role    = "roles/secretmanager.secretVersionManager"
  member  = module.function[each.key].service_account_member

  condition {
    title       = "youtube-token-secrets"
    description = "Only secrets named ${local.token_secret_prefix}<account>."
    expression  = local.youtube_token_condition
  }
}

# --- Function builds ----------------------------------------------------------------------------------

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "function-build"
  display_name = "Cloud Functions build"
  description  = "Identity Cloud Build uses to build the function images from the source archive."
}

# Build logs go to Cloud Logging.
resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

# Pushes the built images to the functions' repository, and only there.
resource "google_artifact_registry_repository_iam_member" "build_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# Reads the source archive.
resource "google_storage_bucket_iam_member" "build_source" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# Cloud Functions stages the archive and build cache in its own gcf-v2-* buckets; the build reads and
# writes there, and nowhere else in Cloud Storage.
resource "google_project_iam_member" "build_staging" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-staging-buckets"
    description = "Only the buckets Cloud Functions creates for sources and build caches."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-\")"
  }
}
