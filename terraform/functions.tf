# Every Cloud Function, from one map. Each key is an entry point of functions/main.py, and each entry says
# what that function is and may do; tests/unit/test_deploy_consistency.py checks the map against the code
# (shared/manifest.py) so neither side can gain or lose a function, queue, secret or schedule alone.
#
#   kind            step (its queue delivers to it), http (callers with IAM, or public), scheduled (Cloud Scheduler)
#   memory, cpu, timeout_s, concurrency, max_instances   sizing; a step's max_instances x concurrency covers
#                   its queue's max_concurrent_dispatches, so Cloud Tasks never meets a full function
#   public          allUsers may invoke (only stripe_webhook and oauth_callback ever)
#   firestore       read | write: roles/datastore.viewer | roles/datastore.user
#   media           none | read | write on the media bucket
#   secrets         Settings SecretStr fields it reads (secrets.tf), as YTEMPIRE_<FIELD> secret references
#   youtube_tokens  reads and adds versions of the per-account youtube-token-* secrets
#   enqueues        steps whose queues it creates tasks in
#   schedule        cron (UTC) for scheduled functions, else null
locals {
  functions = {
    video_request = {
      description    = "Intake: validates a video request, creates the job, enqueues the script step."
      kind           = "http"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 60
      concurrency    = 40
      max_instances  = 10
      public         = false
      firestore      = "write"
      media          = "none"
      secrets        = []
      youtube_tokens = false
      enqueues       = ["script"]
      schedule       = null
    }
    job_status = {
      description    = "Reads a job document: status, per-step progress, video id, cost."
      kind           = "http"
      memory         = "256Mi"
      cpu            = "1"
      timeout_s      = 30
      concurrency    = 80
      max_instances  = 10
      public         = false
      firestore      = "read"
      media          = "none"
      secrets        = []
      youtube_tokens = false
      enqueues       = []
      schedule       = null
    }
    step_script = {
      description    = "Writes the script with OpenAI; fans out to voice, media and thumbnail."
      kind           = "step"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 360
      concurrency    = 4
      max_instances  = 3
      public         = false
      firestore      = "write"
      media          = "write"
      secrets        = ["openai_api_key"]
      youtube_tokens = false
      enqueues       = ["script", "voice", "media", "thumbnail"]
      schedule       = null
    }
    step_voice = {
      description    = "Narrates the script: ElevenLabs (premium), Google Cloud Text-to-Speech, cached segments."
      kind           = "step"
      memory         = "1Gi"
      cpu            = "1"
      timeout_s      = 360
      concurrency    = 1
      max_instances  = 5
      public         = false
      firestore      = "write"
      media          = "write"
      secrets        = ["elevenlabs_api_key"]
      youtube_tokens = false
      enqueues       = ["voice", "render"]
      schedule       = null
    }
    step_media = {
      description    = "Finds and stores stock footage and stills."
      kind           = "step"
      memory         = "1Gi"
      cpu            = "1"
      timeout_s      = 360
      concurrency    = 1
      max_instances  = 5
      public         = false
      firestore      = "write"
      media          = "write"
      secrets        = ["pexels_api_key", "pixabay_api_key", "unsplash_access_key", "shutterstock_api_token"]
      youtube_tokens = false
      enqueues       = ["media", "render"]
      schedule       = null
    }
    step_thumbnail = {
      description    = "Renders the 1280x720 thumbnail."
      kind           = "step"
      memory         = "1Gi"
      cpu            = "1"
      timeout_s      = 300
      concurrency    = 1
      max_instances  = 5
      public         = false
      firestore      = "write"
      media          = "write"
      secrets        = ["openai_api_key"]
      youtube_tokens = false
      enqueues       = ["thumbnail", "render"]
      schedule       = null
    }
    step_render = {
      description    = "Renders the MP4 with ffmpeg: footage, narration, captions."
      kind           = "step"
      memory         = "4Gi"
      cpu            = "2"
      timeout_s      = 1860
      concurrency    = 1
      max_instances  = 4
      public         = false
      firestore      = "write"
      media          = "write"
      secrets        = []
      youtube_tokens = false
      enqueues       = ["render", "quality"]
      schedule       = null
    }
    step_quality = {
      description    = "Scores the rendered video; sends a low score back to script once."
      kind           = "step"
      memory         = "1Gi"
      cpu            = "1"
      timeout_s      = 360
      concurrency    = 1
      max_instances  = 5
      public         = false
      firestore      = "write"
      media          = "read"
      secrets        = []
      youtube_tokens = false
      enqueues       = ["quality", "upload", "script"]
      schedule       = null
    }
    step_upload = {
      description    = "Uploads the video to YouTube (resumable) through the account pool."
      kind           = "step"
      memory         = "2Gi"
      cpu            = "1"
      timeout_s      = 1260
      concurrency    = 1
      max_instances  = 2
      public         = false
      firestore      = "write"
      media          = "read"
      secrets        = ["youtube_client_secret", "youtube_client_secrets"]
      youtube_tokens = true
      enqueues       = ["upload", "publish"]
      schedule       = null
    }
    step_publish = {
      description    = "Sets the thumbnail and metadata of the uploaded video."
      kind           = "step"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 180
      concurrency    = 1
      max_instances  = 3
      public         = false
      firestore      = "write"
      media          = "read"
      secrets        = ["youtube_client_secret", "youtube_client_secrets"]
      youtube_tokens = true
      enqueues       = ["publish", "notify"]
      schedule       = null
    }
    step_notify = {
      description    = "Records the completion notification."
      kind           = "step"
      memory         = "256Mi"
      cpu            = "1"
      timeout_s      = 120
      concurrency    = 10
      max_instances  = 1
      public         = false
      firestore      = "write"
      media          = "none"
      secrets        = []
      youtube_tokens = false
      enqueues       = ["notify"]
      schedule       = null
    }
    create_checkout = {
      description    = "Billing: creates a Stripe Checkout Session (subscription) for a plan."
      kind           = "http"
      memory         = "256Mi"
      cpu            = "1"
      timeout_s      = 60
      concurrency    = 40
      max_instances  = 5
      public         = false
      firestore      = "write"
      media          = "none"
      secrets        = ["stripe_api_key"]
      youtube_tokens = false
      enqueues       = []
      schedule       = null
    }
    stripe_webhook = {
      description    = "Billing: Stripe webhook; verifies the signature, applies each event once to entitlements."
      kind           = "http"
      memory         = "256Mi"
      cpu            = "1"
      timeout_s      = 30
      concurrency    = 80
      max_instances  = 10
      public         = true
      firestore      = "write"
      media          = "none"
      secrets        = ["stripe_webhook_secret"]
      youtube_tokens = false
      enqueues       = []
      schedule       = null
    }
    # --- account pool (issue 3) ---
    oauth_start = {
      description    = "Onboarding: the Google authorization URL for an account (signed state, PKCE)."
      kind           = "http"
      memory         = "256Mi"
      cpu            = "1"
      timeout_s      = 30
      concurrency    = 20
      max_instances  = 2
      public         = false
      firestore      = "read"
      media          = "none"
      secrets        = ["oauth_state_secret"]
      youtube_tokens = false
      enqueues       = []
      schedule       = null
    }
    oauth_callback = {
      description    = "Onboarding: checks the state, exchanges the code, stores the token, binds the channel."
      kind           = "http"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 60
      concurrency    = 10
      max_instances  = 2
      public         = true
      firestore      = "write"
      media          = "none"
      secrets        = ["oauth_state_secret", "youtube_client_secret", "youtube_client_secrets"]
      youtube_tokens = true
      enqueues       = []
      schedule       = null
    }
    token_refresh = {
      description    = "Refreshes every YouTube token expiring within 5 minutes; revoked ones need re-auth."
      kind           = "scheduled"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 120
      concurrency    = 1
      max_instances  = 1
      public         = false
      firestore      = "write"
      media          = "none"
      secrets        = ["youtube_client_secret", "youtube_client_secrets"]
      youtube_tokens = true
      enqueues       = []
      schedule       = "* * * * *"
    }
    analytics_sync = {
      description    = "Pulls channel statistics from YouTube Analytics v2 into Firestore."
      kind           = "scheduled"
      memory         = "512Mi"
      cpu            = "1"
      timeout_s      = 900
      concurrency    = 1
      max_instances  = 1
      public         = false
      firestore      = "write"
      media          = "none"
      secrets        = ["youtube_client_secret", "youtube_client_secrets"]
      youtube_tokens = true
      enqueues       = []
      schedule       = "0 11 * * *"
    }
  }
}

module "function" {
  source   = "./modules/http_function"
  for_each = local.functions

  name        = each.key
  description = each.value.description
  project_id  = var.project_id
  region      = var.region

  source_bucket         = google_storage_bucket.source.name
  source_object         = google_storage_bucket_object.source.name
  build_service_account = google_service_account.build.id
  docker_repository     = google_artifact_registry_repository.functions.id

  memory        = each.value.memory
  cpu           = each.value.cpu
  timeout_s     = each.value.timeout_s
  concurrency   = each.value.concurrency
  min_instances = var.min_instance_count
  max_instances = min(each.value.max_instances, var.max_instance_count)

  # Cloud Tasks and Cloud Scheduler count as internal callers; only APIs and webhooks face the internet.
  ingress = contains(["step", "scheduled"], each.value.kind) ? "ALLOW_INTERNAL_ONLY" : "ALLOW_ALL"
  public  = each.value.public

  # Operators' settings first: what the deployment itself determines always wins.
  env = merge(var.settings_env, local.common_env)
  secret_env = {
    for field in each.value.secrets : "YTEMPIRE_${upper(field)}" => google_secret_manager_secret.settings[field].secret_id
  }

  depends_on = [google_project_service.main]
}
