terraform {
  required_version = ">= 1.6, < 2.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.20, < 7.0"
    }
  }

  # State lives in a bucket created beforehand (docs/DEPLOY.md):
  #   terraform init -backend-config="bucket=STATE_BUCKET" -backend-config="prefix=ytempire"
  backend "gcs" {}
}
