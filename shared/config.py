"""The one typed settings object: every number of the specification is a default here.

Values come from constructor arguments (tests), then `YTEMPIRE_*` environment variables (Cloud Functions,
set by Terraform; locally, by the local cloud launcher). Secrets are `SecretStr` and never logged.
Endpoints left empty mean "the real Google / OpenAI / Stripe service".
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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
