# Firestore in native mode holds all state: jobs, quota and budget ledgers, accounts, customers,
# the Stripe event log, caches.

locals {
  # Composite indexes for the queries the code makes (shared.manifest.FIRESTORE_INDEXES).
  firestore_indexes = {
    # Operators and the metrics page list jobs by status, most recently updated first.
    jobs_by_status = {
      collection = "jobs"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "updated_at", order = "DESCENDING" },
      ]
    }
    # A customer's jobs, newest first (and entitlement counts per day).
    jobs_by_customer = {
      collection = "jobs"
      fields = [
        { field_path = "customer_id", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    }
  }

  # Collections whose documents carry `expires_at` and are deleted by Firestore after it
  # (shared.manifest.TTL_COLLECTIONS): provider response caches, the Stripe event log, used OAuth
  # state nonces, the per-day upload slots of the quota ledger (kept a few days after their day), the
  # rate-limit windows' slot documents and the library of scripts kept for "cached similar".
  firestore_ttl_collections = ["cache", "stripe_events", "oauth_states", "pool_slots", "account_slots", "rate_slots", "script_library"]
}

resource "google_firestore_database" "main" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.firestore_delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"

  depends_on = [google_project_service.main]
}

resource "google_firestore_index" "main" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each = toset(local.firestore_ttl_collections)

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expires_at"

  ttl_config {}

  # Nobody queries expires_at; leaving it out of single-field indexes avoids a hot, ever-growing
  # timestamp index.
  index_config {}
}
