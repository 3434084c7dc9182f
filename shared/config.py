"""The one typed settings object: every number of the specification is a default here.

Values come from constructor arguments (tests), then `YTEMPIRE_*` environment variables (Cloud Functions,
set by Terraform; locally, by the local cloud launcher). Secrets are `SecretStr` and never logged.
Endpoints left empty mean "the real Google / OpenAI / Stripe service".
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.youtube.quota import DEFAULT_PROFILES, QuotaProfile

# The steps of the video chain, in order; the graph (successors, join) lives in shared.chain.graph.
STEPS: tuple[str, ...] = (
    "script",
    "voice",
    "media",
    "thumbnail",
    "render",
    "quality",
    "upload",
    "publish",
    "notify",
)


class PlanSettings(BaseModel):
    """One subscription plan: what it costs, what it allows, and its Stripe price id per billing period."""

    model_config = {"frozen": True}
    amount_usd: Decimal
    channels: int = Field(ge=1)
    videos_per_day: int = Field(ge=1, le=999)
    price_ids: dict[Literal["monthly", "yearly"], str]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YTEMPIRE_", extra="ignore", frozen=True)

    # --- Google Cloud project and endpoints -------------------------------------------------------
    project_id: str = "ytempire-local"
    region: str = "us-central1"
    # Emulator endpoints ("host:port"); empty in production.
    firestore_emulator_host: str = ""
    tasks_emulator_host: str = ""
    storage_emulator_host: str = ""
    secretmanager_endpoint: str = ""  # e.g. "http://127.0.0.1:8085" for drongo (REST transport)
    # Cloud Storage bucket for media and intermediate artefacts.
    media_bucket: str = "ytempire-local-media"
    # Firestore collection prefix lets two deployments share a database; "" in a dedicated project.
    collection_prefix: str = ""

    # --- Cloud Tasks chain --------------------------------------------------------------------------
    # Base URL of the functions: the URL of entry point E is f"{functions_base_url}/{E}".
    functions_base_url: str = "http://127.0.0.1:8080"
    queue_prefix: str = "ytempire"
    # Service account whose OIDC token Cloud Tasks attaches to step calls ("" = no token, local).
    tasks_invoker_service_account: str = ""
    # Attempts per task before the job is failed (matches the queues' retry_config max_attempts).
    task_max_attempts: int = Field(default=5, ge=1, le=100)
    # How long Cloud Tasks waits for each step's function to answer (HTTP tasks: 15 s to 30 min); every
    # step must finish within it. Terraform's queues and shared.manifest read the same numbers.
    step_dispatch_deadline_s: dict[str, int] = {
        "script": 300,
        "voice": 300,
        "media": 300,
        "thumbnail": 240,
        "render": 1800,
        "quality": 300,
        "upload": 1200,
        "publish": 120,
        "notify": 60,
    }
    # A claimed step is "running" for its deadline plus this margin; a concurrent delivery gets 503 until
    # then, and a delivery that died holding the claim is taken over after it.
    step_lease_margin_s: int = Field(default=60, ge=0)
    # A low quality score sends the job back to `script` this many times before it fails.
    quality_max_regenerations: int = Field(default=1, ge=0, le=5)

    # --- Video requests -----------------------------------------------------------------------------
    topic_max_chars: int = Field(default=200, ge=10)
    default_duration_s: int = Field(default=60, ge=10, le=3600)
    max_duration_s: int = Field(default=1200, ge=10, le=3600)

    # --- Script (OpenAI) ----------------------------------------------------------------------------
    openai_base_url: str = ""  # "" = api.openai.com
    openai_api_key: SecretStr = SecretStr("")
    openai_timeout_s: float = 60.0
    # The openai client's own retries are off: the provider chain retries (tenacity, provider_retry_*),
    # so a call is attempted a known, bounded number of times instead of (1 + client) x chain.
    openai_max_retries: int = 0
    script_model_premium: str = "gpt-4"
    script_model_economy: str = "gpt-3.5-turbo"
    script_temperature: float = 0.7
    script_max_tokens_economy: int = 2000
    script_max_tokens_premium: int = 3000
    # USD per 1k tokens, per model (seed: gpt-3.5-turbo $0.002, gpt-4 $0.03).
    openai_price_per_1k_tokens_usd: dict[str, Decimal] = {
        "gpt-4": Decimal("0.03"),
        "gpt-3.5-turbo": Decimal("0.002"),
    }
    words_per_minute: int = 150
    # Seed's PromptOptimizer (prompt_compression: true): trims filler words from the prompt template.
    script_prompt_compression: bool = True

    # --- Voice (Google Cloud TTS) -------------------------------------------------------------------
    tts_endpoint: str = ""  # "" = texttospeech.googleapis.com; locally "http://127.0.0.1:PORT"
    tts_voice_primary: str = "en-US-Neural2-J"
    tts_voice_fallback: str = "en-US-Standard-J"
    tts_language_code: str = "en-US"
    tts_max_request_bytes: int = 5000
    tts_sample_rate_hz: int = 24000
    tts_speaking_rate: float = Field(default=1.0, ge=0.25, le=4.0)
    tts_timeout_s: float = 60.0
    tts_price_per_1k_chars_usd: dict[str, Decimal] = {
        "en-US-Neural2-J": Decimal("0.016"),
        "en-US-Standard-J": Decimal("0.004"),
    }

    # --- Stock media (Pexels shape) -----------------------------------------------------------------
    pexels_base_url: str = "https://api.pexels.com"
    pexels_api_key: SecretStr = SecretStr("")
    media_min_results: int = 5
    media_stills_per_video: int = 8
    pexels_timeout_s: float = 15.0

    # --- Thumbnail / render / quality ---------------------------------------------------------------
    video_width: int = 1280
    video_height: int = 720
    # 24 fps and x264 ultrafast: chosen by measurement (README "Benchmarks"); a still's pan moves in
    # 2-pixel steps (yuv420p) about 8 times a second, so more frames add cost, not motion.
    video_fps: int = Field(default=24, ge=1, le=60)
    x264_preset: str = "ultrafast"
    thumbnail_jpeg_quality: int = Field(default=85, ge=1, le=100)
    quality_threshold: float = Field(default=0.7, ge=0, le=1)
    quality_duration_tolerance: float = 0.10
    quality_min_script_words: int = 40
    # Weights of the quality checks in the score; a failed required check keeps the score under the threshold.
    quality_weights: dict[str, float] = {
        "duration": 0.3,
        "resolution": 0.2,
        "audio": 0.2,
        "codecs": 0.1,
        "script": 0.2,
    }
    quality_required_checks: list[str] = ["duration", "resolution", "audio", "codecs", "script"]
    # Integrated loudness under which the audio counts as silent (digital silence measures about -70).
    quality_min_loudness_lufs: float = -50.0
    # Wall-clock limit of one ffmpeg render; keep it under the render queue's dispatch deadline.
    render_timeout_s: int = Field(default=900, ge=10)

    # --- YouTube -------------------------------------------------------------------------------------
    youtube_api_base_url: str = ""  # "" = www.googleapis.com; locally the YouTube sandbox
    youtube_token_uri: str = "https://oauth2.googleapis.com/token"
    youtube_auth_uri: str = "https://accounts.google.com/o/oauth2/auth"
    youtube_client_id: str = ""
    youtube_client_secret: SecretStr = SecretStr("")
    youtube_upload_chunk_bytes: int = 50 * 1024 * 1024
    youtube_default_privacy: str = "private"
    youtube_category_id: str = "22"
    # One Secret Manager secret per account holds its token JSON: f"{token_secret_prefix}{account_id}".
    token_secret_prefix: str = "youtube-token-"
    # Refresh an access token when it expires within this many seconds; attempts on transient failures.
    token_refresh_buffer_s: int = Field(default=300, ge=0)
    token_refresh_attempts: int = Field(default=3, ge=1, le=10)
    # Socket timeout of one YouTube HTTP call (one upload chunk, one API call, one token refresh).
    youtube_http_timeout_s: float = Field(default=120.0, gt=0)

    # --- Notifications ------------------------------------------------------------------------------
    notify_from_email: str = "noreply@ytempire.com"

    # --- Billing (issue 5) --------------------------------------------------------------------------
    stripe_api_key: SecretStr = SecretStr("")
    # Signing secret of the Stripe webhook endpoint (whsec_...); every delivery is verified against it.
    stripe_webhook_secret: SecretStr = SecretStr("")
    stripe_api_base: str = ""  # "" = api.stripe.com; locally localstripe ("http://127.0.0.1:PORT")
    # A delivery whose signature timestamp is older than this is refused (Stripe's default tolerance).
    stripe_webhook_tolerance_s: int = Field(default=300, ge=1)
    # localstripe speaks the 2017 API: subscription items name a Plan (not a Price) and the first
    # invoice's client secret is on `payment_intent` (not `confirmation_secret`). Only locally true.
    stripe_legacy_api: bool = False
    stripe_timeout_s: float = Field(default=20.0, gt=0)
    # Attempts per Stripe call on rate limits, 5xx and connection errors, with jittered exponential backoff;
    # after the last one the operation is recorded in `billing_actions` for manual processing.
    stripe_max_attempts: int = Field(default=4, ge=1, le=10)
    stripe_retry_base_s: float = Field(default=0.5, ge=0)
    stripe_retry_max_s: float = Field(default=8.0, ge=0)
    # Seed 4.3 / 8.3: Starter $97 (5 channels, 15 videos/day), Growth $297 (10, 30), Scale $797 (25, 75).
    plans: dict[str, PlanSettings] = {
        "starter": PlanSettings(
            amount_usd=Decimal("97"),
            channels=5,
            videos_per_day=15,
            price_ids={"monthly": "price_starter_monthly", "yearly": "price_starter_yearly"},
        ),
        "growth": PlanSettings(
            amount_usd=Decimal("297"),
            channels=10,
            videos_per_day=30,
            price_ids={"monthly": "price_growth_monthly", "yearly": "price_growth_yearly"},
        ),
        "scale": PlanSettings(
            amount_usd=Decimal("797"),
            channels=25,
            videos_per_day=75,
            price_ids={"monthly": "price_scale_monthly", "yearly": "price_scale_yearly"},
        ),
    }
    # A past-due customer keeps making videos this long after the first failed payment.
    billing_grace_period_days: float = Field(default=3, ge=0)
    # The day a daily video limit counts in (YouTube's quota day, too).
    billing_timezone: str = "America/Los_Angeles"
    checkout_success_url: str = "https://app.ytempire.com/billing/success?session_id={CHECKOUT_SESSION_ID}"
    checkout_cancel_url: str = "https://app.ytempire.com/billing/cancel"
    # How long the Stripe event log keeps an event id (Firestore TTL on expires_at); Stripe retries
    # a delivery for up to 3 days.
    stripe_event_retention_days: int = Field(default=30, ge=4)
    # A delivery that recorded an event but died before applying it is taken over after this long.
    stripe_event_lease_s: int = Field(default=60, ge=1)

    # --- Account pool and quota (issue 3) ------------------------------------------------------------
    # Quota pools: one per Google Cloud project, i.e. per OAuth client. pool -> OAuth client id; a pool not
    # listed uses youtube_client_id (one project: every account in one pool, the production default).
    youtube_oauth_clients: dict[str, str] = {}
    # Client secrets of the clients above, as a JSON object {client_id: secret}; a client not in it uses
    # youtube_client_secret.
    youtube_client_secrets: SecretStr = SecretStr("")
    # Quota profiles by name (shared.youtube.quota): the seed's single 10,000-unit bucket, and YouTube's
    # bucketed scheme (videos.insert and search.list counted in calls). Another profile is a JSON value of
    # YTEMPIRE_QUOTA_PROFILES, no code change.
    quota_profiles: dict[str, QuotaProfile] = dict(DEFAULT_PROFILES)
    quota_default_profile: str = "seed"
    quota_pool_profiles: dict[str, str] = {}  # pool -> profile name, for pools not on the default
    # How the caps bind (README "Quota"): "categories" = each category's share is a budget, the total stays
    # under the safe limit (seed: 4 uploads per pool-day); "safe_limit" = only the safe limit binds (5).
    quota_binding: Literal["categories", "safe_limit"] = "categories"
    # Daily upload cap per account, by tier (seed: 5 active, 2 reserve).
    account_daily_upload_cap: dict[str, int] = {"active": 5, "reserve": 2}
    # The seed's calculate_account_score: weights, the normalisers it divides by, reserve penalty.
    rotation_weights: dict[str, float] = {"quota": 0.4, "uploads": 0.3, "errors": 0.2, "rest": 0.1}
    rotation_uploads_norm: int = Field(default=5, ge=1)  # (5 - uploads_today) / 5
    rotation_rest_hours: float = Field(default=4.0, gt=0)  # min(hours_since_use / 4, 1)
    rotation_reserve_factor: float = Field(default=0.1, ge=0, le=1)
    # Active accounts scoring at least this (score / 100) are tried before the ones below it.
    rotation_health_threshold: float = Field(default=0.7, ge=0, le=1)
    # quotaExceeded: next account, up to this many active tries, then the reserve accounts, then defer.
    rotation_max_tries: int = Field(default=15, ge=1)
    rotation_max_reserve_tries: int = Field(default=5, ge=0)
    # Concurrent pickers choose at random among this many top candidates instead of all taking the best.
    rotation_spread: int = Field(default=3, ge=1)
    # How long one instance reuses its view of the pool (accounts and today's usage) when ranking.
    rotation_snapshot_ttl_s: float = Field(default=2.0, ge=0)
    # Error history: error_rate is an exponential moving average with this weight per call outcome; this
    # many failures in a row cool the account down for account_failure_cooldown_s.
    account_error_rate_alpha: float = Field(default=0.2, gt=0, le=1)
    account_max_consecutive_failures: int = Field(default=5, ge=1)
    account_failure_cooldown_s: int = Field(default=3600, ge=0)
    upload_limit_cooldown_s: int = Field(default=24 * 3600, ge=0)  # uploadLimitExceeded: 24 h
    # An auth error (401 after refreshing) is retried with a fresh token this many times.
    youtube_auth_attempts: int = Field(default=3, ge=1)
    # A 5xx or dropped connection mid-upload resumes the same session this many times in one delivery.
    youtube_upload_resume_attempts: int = Field(default=3, ge=0)
    # Ledger: optimistic commits retried with jittered exponential back-off on contention.
    ledger_max_attempts: int = Field(default=60, ge=1)
    ledger_backoff_base_s: float = Field(default=0.005, ge=0)
    ledger_backoff_max_s: float = Field(default=0.25, ge=0)
    # Onboarding (oauth_start / oauth_callback): state signing key, state lifetime, scopes, redirect.
    oauth_state_secret: SecretStr = SecretStr("")
    oauth_state_ttl_s: int = Field(default=600, ge=30, le=3600)
    oauth_redirect_uri: str = ""  # "" = the oauth_callback function's URL
    youtube_oauth_scopes: list[str] = [
        "https://www.googleapis.com/auth/youtube.upload",
        "https://www.googleapis.com/auth/youtube",
        "https://www.googleapis.com/auth/youtube.force-ssl",
        # Not in the seed, but YouTube Analytics v2 refuses channel reports without it.
        "https://www.googleapis.com/auth/yt-analytics.readonly",
    ]
    # Publishing: the privacy the publish step gives a video once its thumbnail and metadata are set;
    # an account needing re-authorisation defers the publish by this long.
    youtube_publish_privacy: str = "public"
    publish_reauth_retry_s: int = Field(default=3600, ge=60)
    # Analytics (YouTube Analytics v2 reports.query): "" = youtubeanalytics.googleapis.com.
    youtube_analytics_base_url: str = ""
    analytics_lookback_days: int = Field(default=7, ge=1, le=90)
    analytics_metrics: str = (
        "views,estimatedMinutesWatched,averageViewDuration,subscribersGained,likes,shares,comments"
    )

    @field_validator(
        "youtube_oauth_clients",
        "quota_profiles",
        "quota_pool_profiles",
        "account_daily_upload_cap",
        "rotation_weights",
        "youtube_oauth_scopes",
        mode="before",
    )
    @classmethod
    def _json_text(cls, value: object) -> object:
        """The environment's JSON text is accepted as a constructor argument too (the local cloud passes
        its environment to Settings(...) that way)."""
        return json.loads(value) if isinstance(value, str) and value.lstrip()[:1] in ("{", "[") else value

    @model_validator(mode="after")
    def _known_profiles(self) -> Settings:
        names = {self.quota_default_profile, *self.quota_pool_profiles.values()}
        unknown = sorted(names - set(self.quota_profiles))
        if unknown:
            raise ValueError(f"quota profiles {unknown} are not defined in quota_profiles")
        return self

    # --- Provider chains, caches and budgets (issue 4) ----------------------------------------------
    # Each provider call is attempted at most this many times (exponential backoff with jitter) before
    # its chain falls through to the next provider; a timeout counts like any other transient failure.
    provider_retry_attempts: int = Field(default=3, ge=1, le=10)
    provider_retry_initial_s: float = Field(default=0.5, ge=0)
    provider_retry_max_s: float = Field(default=8.0, ge=0)
    # A 429 whose Retry-After is longer than this is not waited for: the provider is marked limited
    # until then in Firestore (every instance skips it) and the chain falls through at once.
    provider_retry_after_max_s: float = Field(default=10.0, ge=0)
    # Requests per window (seconds) per provider, held across instances by slot documents in Firestore.
    # Pexels 200/hour, Pixabay 100/minute (their documented limits); Unsplash's demo tier 50/hour.
    provider_rate_limits: dict[str, tuple[int, int]] = {
        "pexels": (200, 3600),
        "pixabay": (100, 60),
        "unsplash": (50, 3600),
        "shutterstock": (100, 60),
    }

    # Budgets (seed "Cost_Controls", "Cost_Tracking"): reserved before a call, settled after, in Firestore
    # transactions. Days and months are UTC.
    budget_llm_per_video_usd: Decimal = Decimal("0.40")
    budget_openai_per_day_usd: Decimal = Decimal("50.00")
    budget_all_per_day_usd: Decimal = Decimal("150.00")
    budget_all_per_month_usd: Decimal = Decimal("4500.00")
    budget_per_video_usd: Decimal = Decimal("3.00")  # seed: per_video < $3.00
    # Prompt tokens are estimated from the prompt's characters (reservation = prompt + max_tokens, priced).
    llm_chars_per_token_estimate: float = Field(default=3.0, gt=0)

    # Script chain: premium model (premium jobs) -> economy model -> cached similar script -> template.
    llm_cache_ttl_s: int = Field(default=3600, ge=0)  # response cache keyed by model + prompt
    script_library_ttl_s: int = Field(default=30 * 86400, ge=0)  # scripts kept for "cached similar"
    script_similar_min_score: float = Field(default=0.5, ge=0, le=1)  # keyword overlap (Jaccard)

    # Voice chain: ElevenLabs (premium jobs) -> Neural2-J -> Standard-J -> cached segments -> silence.
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    elevenlabs_api_key: SecretStr = SecretStr("")
    elevenlabs_model_id: str = "eleven_monolingual_v1"
    elevenlabs_timeout_s: float = 60.0
    elevenlabs_max_request_chars: int = 5000
    elevenlabs_monthly_char_limit: int = Field(default=100_000, ge=0)
    elevenlabs_price_per_1k_chars_usd: Decimal = Decimal("0.30")
    # Voices by the request's style (seed 8.2); styles not listed use the "professional" voice.
    elevenlabs_voices: dict[str, str] = {
        "professional": "21m00Tcm4TlvDq8ikWAM",
        "casual": "AZnzlk1XvdvUeBnXmlld",
        "energetic": "EXAVITQu4vr4xnSDxMaL",
        "calm": "ErXwobaYiN019PkySvjV",
    }
    # Synthesized segments are kept in Cloud Storage under this prefix, keyed by voice + text.
    tts_cache_prefix: str = "cache/tts/"
    # Seed TTSOptimizer.COMMON_PHRASES: synthesized once per voice, then served from the segment cache.
    tts_common_phrases: list[str] = [
        "Don't forget to like and subscribe",
        "Hit the notification bell",
        "Thanks for watching",
        "Leave a comment below",
        "Let's dive in",
    ]

    # Media chain: Pexels -> Pixabay -> Unsplash (stills) -> premium stock (high-value jobs only).
    pixabay_base_url: str = "https://pixabay.com"
    pixabay_api_key: SecretStr = SecretStr("")
    unsplash_base_url: str = "https://api.unsplash.com"
    unsplash_access_key: SecretStr = SecretStr("")
    shutterstock_base_url: str = "https://api.shutterstock.com"
    shutterstock_api_token: SecretStr = SecretStr("")
    stock_timeout_s: float = 15.0
    search_cache_ttl_s: int = Field(default=86400, ge=0)  # Pexels and Pixabay require caching results
    premium_stock_price_usd: Decimal = Decimal("0.50")  # per licensed asset
    premium_stock_max_assets_per_video: int = Field(default=2, ge=0)
    media_high_value_qualities: list[str] = ["premium"]  # the requests that may use premium stock
    media_max_download_bytes: int = Field(default=50 * 1024 * 1024, ge=1)

    # Thumbnail chain: OpenAI image generation -> the Pillow template; 1280x720 JPEG 85% (+ WebP copy).
    thumbnail_width: int = 1280
    thumbnail_height: int = 720
    thumbnail_image_model: str = "dall-e-3"
    thumbnail_image_size: str = "1792x1024"
    openai_image_price_usd: dict[str, Decimal] = {
        "dall-e-3:1024x1024": Decimal("0.04"),
        "dall-e-3:1792x1024": Decimal("0.08"),
        "gpt-image-1:1536x1024": Decimal("0.063"),
    }
    thumbnail_cache_ttl_s: int = Field(default=86400, ge=0)
    thumbnail_webp: bool = True  # also store a WebP copy (YouTube's thumbnails.set takes JPEG/PNG only)

    # Render encoder settings beyond the preset (see video_fps / x264_preset above).
    x264_tune: str = ""
    x264_crf: int = Field(default=23, ge=0, le=51)
    x264_params: str = ""
    render_audio_bitrate: str = "128k"
    # Background music under the narration (ducked while the voice speaks): a gs:// URI, "" for none.
    render_music_uri: str = ""


def function_url(settings: Settings, entry_point: str) -> str:
    return f"{settings.functions_base_url.rstrip('/')}/{entry_point}"
