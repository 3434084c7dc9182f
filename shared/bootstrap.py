"""The composition root: builds each adapter on first use, once per instance, never at import time.

A function instance calls `container()`; tests build `Container(settings, jobs=..., queue=...)` with
other adapters and install it with `use(container)` instead of patching globals. Each property imports
its client library lazily, so an entry point pays only for the clients it touches.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.config import Settings

if TYPE_CHECKING:
    from shared.billing.firestore_billing import FirestoreBilling
    from shared.billing.stripe_api import StripeGateway
    from shared.chain.runner import ChainPolicy
    from shared.chain.store import JobStore
    from shared.content.chain import RetryPolicy
    from shared.ops.budgets import Budgets
    from shared.ops.ratelimits import RateLimiter
    from shared.ports import (
        BlobStore,
        ChatModel,
        ImageGenerator,
        KeyValueCache,
        LedgerStore,
        RateSlots,
        ScriptLibrary,
        SecretStore,
        SpeechSynthesizer,
        StockMediaSearch,
        TaskQueue,
        YouTubeGateway,
    )
    from shared.youtube.accounts import FirestoreAccounts
    from shared.youtube.analytics import FirestoreChannelStats
    from shared.youtube.ledger import QuotaLedger
    from shared.youtube.oauth import NonceStore
    from shared.youtube.rotation import AccountRotation
    from shared.youtube.tokens import TokenStore
    from shared.youtube.uploader import PoolView


class Container:
    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        self.settings = settings or Settings()
        self._lock = threading.RLock()
        for name, value in overrides.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise TypeError(f"unknown adapter override: {name}")
            self.__dict__[name] = value

    def _build(self, name: str, factory: Any) -> Any:
        with self._lock:  # two threads of one instance must not build two clients
            if name not in self.__dict__:
                self.__dict__[name] = factory()
            return self.__dict__[name]

    @property
    def policy(self) -> ChainPolicy:
        from shared.chain.runner import ChainPolicy

        s = self.settings
        return ChainPolicy(
            max_attempts=s.task_max_attempts,
            lease_s={step: t + s.step_lease_margin_s for step, t in s.step_dispatch_deadline_s.items()},
            max_regenerations=s.quality_max_regenerations,
        )

    # --- Google Cloud ---------------------------------------------------------------------------------
    @cached_property
    def firestore(self) -> Any:
        def make() -> Any:
            from shared.gcp.firestore_jobs import firestore_client

            return firestore_client(self.settings)

        return self._build("_firestore_client", make)

    @cached_property
    def jobs(self) -> JobStore:
        from shared.gcp.firestore_jobs import FirestoreJobStore

        return self._build("_jobs", lambda: FirestoreJobStore(self.firestore, self.settings))

    @cached_property
    def queue(self) -> TaskQueue:
        from shared.gcp.tasks import CloudTasksQueue, tasks_client

        return self._build("_queue", lambda: CloudTasksQueue(tasks_client(self.settings), self.settings))

    @cached_property
    def blobs(self) -> BlobStore:
        from shared.gcp.storage import GcsBlobStore

        return self._build("_blobs", lambda: GcsBlobStore(self.settings))

    @cached_property
    def secrets(self) -> SecretStore:
        from shared.gcp.secrets import SecretManagerStore

        return self._build("_secrets", lambda: SecretManagerStore(self.settings))

    # --- providers ------------------------------------------------------------------------------------
    @cached_property
    def chat(self) -> ChatModel:
        from shared.content.openai_chat import OpenAIChatModel

        return self._build("_chat", lambda: OpenAIChatModel(self.settings))

    @cached_property
    def speech(self) -> SpeechSynthesizer:
        from shared.content.google_tts import GoogleSpeechSynthesizer

        return self._build("_speech", lambda: GoogleSpeechSynthesizer(self.settings))

    @cached_property
    def stock_media(self) -> StockMediaSearch:
        from shared.content.pexels import PexelsSearch

        return self._build("_stock_media", lambda: PexelsSearch(self.settings))

    # --- provider chains: more providers, shared state (issue 4) ----------------------------------------
    @cached_property
    def images(self) -> ImageGenerator:
        from shared.content.openai_images import OpenAIImageGenerator

        return self._build("_images", lambda: OpenAIImageGenerator(self.settings))

    @cached_property
    def premium_speech(self) -> SpeechSynthesizer:
        from shared.content.elevenlabs import ElevenLabsSynthesizer

        return self._build("_premium_speech", lambda: ElevenLabsSynthesizer(self.settings))

    @cached_property
    def stock_providers(self) -> list[StockMediaSearch]:
        """The media chain's providers, in order; the premium one is used only for high-value jobs."""

        def make() -> list[StockMediaSearch]:
            from shared.content.pexels import PexelsSearch
            from shared.content.pixabay import PixabaySearch
            from shared.content.shutterstock import ShutterstockSearch
            from shared.content.unsplash import UnsplashSearch

            s = self.settings
            return [PexelsSearch(s), PixabaySearch(s), UnsplashSearch(s), ShutterstockSearch(s)]

        return self._build("_stock_providers", make)

    @cached_property
    def cache(self) -> KeyValueCache:
        from shared.gcp.firestore_state import FirestoreCache

        return self._build("_cache", lambda: FirestoreCache(self.firestore, self.settings.collection_prefix))

    @cached_property
    def budget_ledger(self) -> LedgerStore:
        """The spending ledger behind the budgets (not the YouTube quota ledger, `ledger`)."""
        from shared.gcp.firestore_state import FirestoreLedger

        return self._build(
            "_budget_ledger", lambda: FirestoreLedger(self.firestore, self.settings.collection_prefix)
        )

    @cached_property
    def budgets(self) -> Budgets:
        from shared.ops.budgets import Budgets

        return self._build("_budgets", lambda: Budgets(self.budget_ledger, self.settings))

    @cached_property
    def rate_slots(self) -> RateSlots:
        from shared.gcp.firestore_state import FirestoreRateSlots

        return self._build(
            "_rate_slots", lambda: FirestoreRateSlots(self.firestore, self.settings.collection_prefix)
        )

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        from shared.ops.ratelimits import RateLimiter

        return self._build(
            "_rate_limiter", lambda: RateLimiter(self.rate_slots, self.settings.provider_rate_limits)
        )

    @cached_property
    def script_library(self) -> ScriptLibrary:
        from shared.gcp.firestore_state import FirestoreScriptLibrary

        return self._build(
            "_script_library", lambda: FirestoreScriptLibrary(self.firestore, self.settings.collection_prefix)
        )

    @cached_property
    def retry(self) -> RetryPolicy:
        """Bounded retries per provider call; a long Retry-After marks the provider limited for everyone."""
        from shared.content.chain import RetryPolicy

        return RetryPolicy.from_settings(
            self.settings, on_long_wait=lambda provider, s: self.rate_limiter.limited_for(provider, s)
        )

    def lazy(self, name: str) -> Any:
        """An adapter built on first use, so that a provider that cannot be built (no key, no credentials)
        fails inside its chain link, which then falls through, instead of failing the whole step."""
        return _Lazy(lambda: getattr(self, name))

    @cached_property
    def youtube(self) -> YouTubeGateway:
        from shared.youtube.gateway import GoogleYouTubeGateway

        return self._build(
            "_youtube", lambda: GoogleYouTubeGateway(self.settings, self.secrets, tokens=self.tokens)
        )

    # --- YouTube account pool and quota (issue 3) -------------------------------------------------------
    @cached_property
    def accounts(self) -> FirestoreAccounts:
        from shared.youtube.accounts import FirestoreAccounts

        return self._build("_accounts", lambda: FirestoreAccounts(self.firestore, self.settings))

    @cached_property
    def tokens(self) -> TokenStore:
        from shared.youtube.tokens import TokenStore

        return self._build("_tokens", lambda: TokenStore(self.settings, self.secrets))

    @cached_property
    def ledger(self) -> QuotaLedger:
        from shared.youtube.ledger import QuotaLedger

        return self._build("_ledger", lambda: QuotaLedger(self.firestore, self.settings))

    @cached_property
    def rotation(self) -> AccountRotation:
        from shared.youtube.rotation import AccountRotation

        return self._build("_rotation", lambda: AccountRotation(self.settings))

    @cached_property
    def pool_view(self) -> PoolView:
        from shared.chain.runner import utcnow
        from shared.youtube.uploader import PoolView

        return self._build("_pool_view", lambda: PoolView(self.accounts, self.ledger, self.settings, utcnow))

    @cached_property
    def analytics(self) -> Any:
        """YouTube Analytics v2 (`channel_report`): the YouTube gateway unless a test gives another."""
        return self.youtube

    @cached_property
    def channel_stats(self) -> FirestoreChannelStats:
        from shared.youtube.analytics import FirestoreChannelStats

        return self._build("_channel_stats", lambda: FirestoreChannelStats(self.firestore, self.settings))

    @cached_property
    def oauth_nonces(self) -> NonceStore:
        from shared.youtube.oauth import NonceStore

        return self._build("_oauth_nonces", lambda: NonceStore(self.firestore, self.settings))

    # --- billing (issue 5) ------------------------------------------------------------------------------
    @cached_property
    def billing(self) -> FirestoreBilling:
        from shared.billing.firestore_billing import FirestoreBilling

        return self._build("_billing", lambda: FirestoreBilling(self.firestore, self.settings))

    @property
    def admissions(self) -> FirestoreBilling:
        """video_request creates jobs through the billing store, which checks the plan in the same
        transaction."""
        return self.billing

    @cached_property
    def stripe(self) -> StripeGateway:
        from shared.billing.stripe_api import StripeGateway

        return self._build("_stripe", lambda: StripeGateway(self.settings))


class _Lazy:
    def __init__(self, factory: Any) -> None:
        self._factory = factory

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._factory(), attr)


_installed: Container | None = None
_default_lock = threading.Lock()


def container() -> Container:
    """The instance's container: the one installed by `use`, else one built from the environment."""
    global _installed
    if _installed is None:
        with _default_lock:
            if _installed is None:
                _installed = Container()
    return _installed


def use(c: Container | None) -> None:
    """Install a container for this process (tests, the local functions host); None resets."""
    global _installed
    _installed = c
