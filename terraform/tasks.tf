# One Cloud Tasks queue per step (shared.chain.graph.queue_id: "<prefix>-<step>"), so each integration has
# its own rate limit and retry policy. Each queue routes every task to its step's function whatever URL
# the task carries (uri_override, enforced) and signs it with the tasks invoker's identity token.
#
# Cloud Tasks has no queue-level dispatch deadline: the code sets each task's deadline from
# shared.manifest.DISPATCH_DEADLINE_S, which the consistency test holds equal to dispatch_deadline_s here,
# and below the function's timeout.
#
# Backoff: a delivery that finds its step claimed by another (running, or crashed) gets 503 until the
# claim's lease (the step's dispatch deadline + Settings.step_lease_margin_s) runs out, so the retries of one
# task must span more than that lease, or a crashed attempt would leave its job stuck. With max_doublings 4,
# the 4 retries of 5 attempts wait 1+2+4+8 = 15 x min_backoff (capped by max_backoff) in all: 64 s gives
# 960 s > 360 s for a 300 s step; render needs 150 s (2,250 s > 1,860 s) (checked by the consistency test).
locals {
  # Attempts per task before the step gives up and fails the job (= Settings.task_max_attempts, which the
  # functions also receive as YTEMPIRE_TASK_MAX_ATTEMPTS).
  task_max_attempts = 5

  queues = {
    # OpenAI chat completions: a few calls per job, each up to openai_timeout_s; the org's
    # requests/tokens per minute are the limit, so dispatch gently and let 429s back off.
    script = {
      function                  = "step_script"
      max_dispatches_per_second = 1
      max_concurrent_dispatches = 10
      dispatch_deadline_s       = 300
      min_backoff_s             = 64
      max_backoff_s             = 600
    }
    # Google Cloud TTS: generous per-minute quota; a job makes a handful of <=5,000-byte requests.
    voice = {
      function                  = "step_voice"
      max_dispatches_per_second = 5
      max_concurrent_dispatches = 5
      dispatch_deadline_s       = 300
      min_backoff_s             = 64
      max_backoff_s             = 600
    }
    # Pexels allows 200 requests/hour: 0.05 dispatches/s is 180 steps/hour, and results are cached 24 h
    # (Pixabay, 100 requests/minute, takes what Pexels refuses).
    media = {
      function                  = "step_media"
      max_dispatches_per_second = 0.05
      max_concurrent_dispatches = 5
      dispatch_deadline_s       = 300
      min_backoff_s             = 120
      max_backoff_s             = 1800
    }
    # Thumbnail: local template today, OpenAI images later (a few per minute per key at low tiers).
    thumbnail = {
      function                  = "step_thumbnail"
      max_dispatches_per_second = 0.5
      max_concurrent_dispatches = 5
      dispatch_deadline_s       = 240
      min_backoff_s             = 64
      max_backoff_s             = 600
    }
    # Render: CPU-bound ffmpeg, the longest step; the Cloud Tasks maximum deadline (30 min).
    render = {
      function                  = "step_render"
      max_dispatches_per_second = 0.2
      max_concurrent_dispatches = 4
      dispatch_deadline_s       = 1800
      min_backoff_s             = 150
      max_backoff_s             = 1800
    }
    # Quality: ffprobe-level checks, quick.
    quality = {
      function                  = "step_quality"
      max_dispatches_per_second = 2
      max_concurrent_dispatches = 5
      dispatch_deadline_s       = 300
      min_backoff_s             = 64
      max_backoff_s             = 600
    }
    # YouTube uploads: bounded concurrency (each holds a large resumable session and quota is daily);
    # a retried upload resumes its session, so back off long enough for a flaky path to recover.
    upload = {
      function                  = "step_upload"
      max_dispatches_per_second = 0.1
      max_concurrent_dispatches = 2
      dispatch_deadline_s       = 1200
      min_backoff_s             = 120
      max_backoff_s             = 1800
    }
    # thumbnails.set and videos.update: charged quota calls, few and small.
    publish = {
      function                  = "step_publish"
      max_dispatches_per_second = 0.5
      max_concurrent_dispatches = 3
      dispatch_deadline_s       = 120
      min_backoff_s             = 64
      max_backoff_s             = 900
    }
    # Notification records (email later).
    notify = {
      function                  = "step_notify"
      max_dispatches_per_second = 5
      max_concurrent_dispatches = 10
      dispatch_deadline_s       = 60
      min_backoff_s             = 64
      max_backoff_s             = 600
    }
  }
}

resource "google_cloud_tasks_queue" "step" {
  for_each = local.queues

  project  = var.project_id
  location = var.region
  name     = "${var.queue_prefix}-${each.key}"

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = local.task_max_attempts
    max_retry_duration = "0s" # attempts, not age, end a task
    min_backoff        = "${each.value.min_backoff_s}s"
    max_backoff        = "${each.value.max_backoff_s}s"
    max_doublings      = 4
  }

  http_target {
    http_method = "POST"

    uri_override {
      scheme                    = "HTTPS"
      host                      = trimprefix(module.function[each.value.function].uri, "https://")
      uri_override_enforce_mode = "ALWAYS"
    }

    oidc_token {
      service_account_email = google_service_account.tasks_invoker.email
      audience              = module.function[each.value.function].uri
    }
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.main]
}
