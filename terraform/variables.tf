variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id is a Google Cloud project id: 6-30 lower case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, queues, scheduler jobs and buckets."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region is a Google Cloud region such as us-central1."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database (a multi-region such as nam5 or a region); fixed once created."
  type        = string
  default     = "nam5"
}

variable "firestore_delete_protection" {
  description = "Refuse to delete the Firestore database (job records, ledgers, billing state)."
  type        = bool
  default     = true
}

variable "source_archive_path" {
  description = "Path of the deployable zip made by `python -m infra.package --out build/` (build/function-source-<hash>.zip)."
  type        = string

  validation {
    condition     = endswith(var.source_archive_path, ".zip")
    error_message = "source_archive_path is the .zip written by python -m infra.package."
  }
}

variable "source_bucket_name" {
  description = "Bucket for function source archives; null means \"<project_id>-function-source\"."
  type        = string
  default     = null

  validation {
    condition     = var.source_bucket_name == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.source_bucket_name))
    error_message = "source_bucket_name is a valid bucket name (3-63 lower case letters, digits, dots, hyphens, underscores)."
  }
}

variable "media_bucket_name" {
  description = "Bucket for media and intermediate artefacts; null means \"<project_id>-media\"."
  type        = string
  default     = null

  validation {
    condition     = var.media_bucket_name == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.media_bucket_name))
    error_message = "media_bucket_name is a valid bucket name (3-63 lower case letters, digits, dots, hyphens, underscores)."
  }
}

variable "intermediate_media_retention_days" {
  description = "Days before a job's media (objects under jobs/: script, narration, stills, thumbnail, render) are deleted. Keep it longer than a job can wait for upload quota."
  type        = number
  default     = 14

  validation {
    condition     = var.intermediate_media_retention_days >= 1 && var.intermediate_media_retention_days <= 365
    error_message = "intermediate_media_retention_days is between 1 and 365."
  }
}

variable "access_log_retention_days" {
  description = "Days bucket access logs are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days is at least 1."
  }
}

variable "queue_prefix" {
  description = "Prefix of the Cloud Tasks queue ids (one queue per step: <prefix>-<step>); the functions get it as YTEMPIRE_QUEUE_PREFIX."
  type        = string
  default     = "ytempire"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}$", var.queue_prefix))
    error_message = "queue_prefix is lower case letters, digits and hyphens, starting with a letter, at most 41 characters."
  }
}

variable "min_instance_count" {
  description = "Instances every function keeps warm. 0 (the default) costs nothing while idle, at the price of cold starts."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instance_count >= 0 && var.min_instance_count <= 10
    error_message = "min_instance_count is between 0 and 10."
  }
}

variable "max_instance_count" {
  description = "Upper bound on instances of any one function (each function's own bound in functions.tf is sized to its queue; a lower value here throttles it)."
  type        = number
  default     = 20

  validation {
    condition     = var.max_instance_count >= 1 && var.max_instance_count <= 1000
    error_message = "max_instance_count is between 1 and 1000."
  }
}

variable "api_invoker_members" {
  description = "IAM members allowed to call the private HTTP functions (video_request, job_status, ...), e.g. \"serviceAccount:frontend@P.iam.gserviceaccount.com\"."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.api_invoker_members : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):", m))])
    error_message = "Each member is an IAM principal such as user:EMAIL or serviceAccount:EMAIL (never allUsers)."
  }
}

variable "settings_env" {
  description = "Extra non-secret settings for every function, as YTEMPIRE_* environment variables (e.g. YTEMPIRE_YOUTUBE_CLIENT_ID)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.settings_env) : can(regex("^YTEMPIRE_[A-Z0-9_]+$", k))])
    error_message = "settings_env keys are YTEMPIRE_* environment variable names (see shared/config.py)."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}
