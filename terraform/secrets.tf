# One Secret Manager secret per SecretStr field of shared.config.Settings, created WITHOUT a value:
# values are added with `gcloud secrets versions add` (docs/DEPLOY.md) and so never enter Terraform
# state. Functions receive them as YTEMPIRE_<FIELD> secret references (functions.tf), and each function's
# service account may read exactly the secrets its entry in local.functions lists.
#
# YouTube account tokens are different: one secret per account (<token_secret_prefix><account>), created
# (empty) by the operator's `ytempire accounts add` — no function may create secrets — and given versions
# by onboarding and refreshes; see the conditional grants in iam.tf.

locals {
  # = Settings.token_secret_prefix; the functions also receive it as YTEMPIRE_TOKEN_SECRET_PREFIX.
  token_secret_prefix = "youtube-token-"

  secrets = {
    openai_api_key        = "OpenAI API key: scripts (and thumbnail images)."
    pexels_api_key        = "Pexels API key: stock media search."
    youtube_client_secret = "OAuth client secret of the YouTube app: token refresh and onboarding."
    stripe_api_key        = "Stripe secret API key: checkout sessions (create_checkout)."
    stripe_webhook_secret = "Signing secret (whsec_...) of the Stripe webhook endpoint: stripe_webhook verifies every delivery."
    # account pool (issue 3)
    youtube_client_secrets = "JSON {client_id: secret} of the OAuth clients of further quota pools (projects)."
    oauth_state_secret     = "HMAC key signing the OAuth state of onboarding (oauth_start / oauth_callback)."
    # provider chains (issue 4)
    pixabay_api_key        = "Pixabay API key: stock media search (second in the media chain)."
    unsplash_access_key    = "Unsplash access key: stills (third in the media chain)."
    shutterstock_api_token = "Shutterstock API token: premium stock for high-value jobs."
    elevenlabs_api_key     = "ElevenLabs API key: premium narration."
  }
}

resource "google_secret_manager_secret" "settings" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = replace(each.key, "_", "-")

  annotations = {
    description = each.value
    setting     = "YTEMPIRE_${upper(each.key)}"
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.main]
}
