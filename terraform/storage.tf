# Buckets: uniform bucket-level access, public access prevented, versioned, access-logged, and
# lifecycle rules so intermediate artefacts and old versions do not accumulate cost.

resource "google_storage_bucket" "access_logs" {
  #checkov:skip=CKV_GCP_62:This bucket is the access-log sink of the other buckets; logging it to itself is what CKV_GCP_63 forbids, and logging it elsewhere only moves the question.
  project                     = var.project_id
  name                        = "${var.project_id}-access-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.access_log_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 1
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.main]
}

# Media: scripts, narration, stills, thumbnails and renders. Every artefact of a job lives under
# jobs/<job_id>/ (shared.manifest.MEDIA_ARTEFACT_PREFIX) and is only needed until the video is
# published on YouTube, so it expires.
resource "google_storage_bucket" "media" {
  project                     = var.project_id
  name                        = local.media_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }

  lifecycle_rule {
    condition {
      age            = var.intermediate_media_retention_days
      matches_prefix = ["jobs/"]
    }
    action {
      type = "Delete"
    }
  }

  # Overwritten or deleted objects are not worth paying for beyond a recovery window.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 3
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.main]
}

# Function source archives, one object per content hash.
resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = local.source_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  logging {
    log_bucket = google_storage_bucket.access_logs.name
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.main]
}

# The object name is the archive's content hash (the same name infra/package.py gives the file), so an
# unchanged tree keeps the same object and the functions are not rebuilt, and any change redeploys.
resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "function-source-${substr(filesha256(var.source_archive_path), 0, 16)}.zip"
  source       = var.source_archive_path
  content_type = "application/zip"
}

# Function images built from the archive; only recent ones are kept.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images hold the function code and its open-source dependencies, never data or secrets; Google-managed encryption suffices and a customer-managed key would add a KMS key to run and pay for.
  project       = var.project_id
  location      = var.region
  repository_id = "ytempire-functions"
  description   = "Images of the YTEMPIRE Cloud Functions."
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 3
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.main]
}
