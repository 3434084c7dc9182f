# The APIs the system uses. Disabling one on destroy would break anything else in the project that uses
# it, so destroy leaves them on.
locals {
  apis = toset([
    "artifactregistry.googleapis.com",     # function images
    "cloudbuild.googleapis.com",           # builds function images
    "cloudfunctions.googleapis.com",       # the functions
    "cloudresourcemanager.googleapis.com", # project lookups (data.google_project)
    "cloudscheduler.googleapis.com",       # scheduled functions
    "cloudtasks.googleapis.com",           # the video chain
    "firestore.googleapis.com",            # all state
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # OIDC tokens for Cloud Tasks and Cloud Scheduler
    "logging.googleapis.com",              # structured logs
    "run.googleapis.com",                  # gen2 functions run on Cloud Run
    "secretmanager.googleapis.com",        # API keys and YouTube tokens
    "storage.googleapis.com",              # media and source archives
    "texttospeech.googleapis.com",         # narration
    "youtube.googleapis.com",              # uploads and metadata (OAuth client of this project)
    "youtubeanalytics.googleapis.com",     # channel statistics
  ])
}

resource "google_project_service" "main" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
