variable "name" {
  description = "Function name; also its Python entry point in main.py unless entry_point is set."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,26}$", var.name))
    error_message = "name must be lower case letters, digits and underscores, at most 27 characters (the service account id is \"fn-\" + name)."
  }
}

variable "entry_point" {
  description = "Python function called by the runtime; null means the function name."
  type        = string
  default     = null
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
  default     = ""
}

variable "project_id" {
  description = "Google Cloud project the function and its service account live in."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "runtime" {
  description = "Cloud Functions runtime."
  type        = string
  default     = "python311"

  validation {
    condition     = var.runtime == "python311"
    error_message = "The code targets Python 3.11 (pyproject requires-python); change both together."
  }
}

variable "source_bucket" {
  description = "Bucket holding the source archive."
  type        = string
}

variable "source_object" {
  description = "Source archive object, named by its content hash so a code change redeploys."
  type        = string
}

variable "build_service_account" {
  description = "Service account id (projects/P/serviceAccounts/EMAIL) Cloud Build uses to build the function."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository id (projects/P/locations/R/repositories/NAME) for the built image."
  type        = string
}

variable "memory" {
  description = "Memory per instance, e.g. 512Mi or 4Gi."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory is a number followed by Mi or Gi."
  }
}

variable "cpu" {
  description = "vCPUs per instance, as a string (\"1\", \"2\", \"4\")."
  type        = string

  validation {
    condition     = contains(["1", "2", "4", "6", "8"], var.cpu)
    error_message = "cpu is one of 1, 2, 4, 6, 8 (request concurrency above 1 needs at least 1 vCPU)."
  }
}

variable "timeout_s" {
  description = "Request timeout in seconds (HTTP functions: at most 3600)."
  type        = number

  validation {
    condition     = var.timeout_s >= 1 && var.timeout_s <= 3600
    error_message = "timeout_s is between 1 and 3600."
  }
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000
    error_message = "concurrency is between 1 and 1000."
  }
}

variable "min_instances" {
  description = "Instances kept warm (0 = scale to zero, no idle cost)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instances >= 0
    error_message = "min_instances is 0 or more."
  }
}

variable "max_instances" {
  description = "Upper bound on instances."
  type        = number

  validation {
    condition     = var.max_instances >= 1
    error_message = "max_instances is at least 1."
  }
}

variable "ingress" {
  description = "Network ingress: ALLOW_INTERNAL_ONLY for functions only Cloud Tasks or Cloud Scheduler call, ALLOW_ALL for APIs and webhooks."
  type        = string

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress is ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "public" {
  description = "Whether anyone may invoke the function (allUsers run.invoker). Only webhooks and OAuth callbacks."
  type        = bool
  default     = false
}

variable "env" {
  description = "Plain environment variables (never secrets)."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variable name => Secret Manager secret id; the function's service account gets secretAccessor on exactly these secrets."
  type        = map(string)
  default     = {}
}
