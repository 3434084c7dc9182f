"""Ports: the small interfaces domain code needs from the outside world.

One Protocol per external system; adapters in shared/gcp, shared/content, shared/youtube implement them
against the real client libraries, unit tests implement them with hand-written fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Protocol


class ProviderError(Exception):
    """A provider call failed. `transient` says whether trying again later may succeed."""

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        provider: str = "",
        reason: str = "",
        retry_after_s: float | None = None,
    ):
        super().__init__(message)
        self.transient = transient
        self.provider = provider
        self.reason = reason
        self.retry_after_s = retry_after_s  # what the provider asked for (Retry-After), when it did


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's delay in seconds (the delta-seconds form; an HTTP date counts as unknown)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# --- Cloud Storage ------------------------------------------------------------------------------------
class BlobStore(Protocol):
    """Media and artefacts; URIs are `gs://bucket/path`."""

    def put_bytes(self, path: str, data: bytes, content_type: str) -> str: ...
    def put_file(self, path: str, local_path: Path, content_type: str) -> str: ...
    def put_stream(self, path: str, stream: BinaryIO, content_type: str) -> str:
        """Upload from a stream in bounded chunks (never the whole object in memory)."""
        ...

    def get_bytes(self, uri: str) -> bytes: ...
    def download_to(self, uri: str, local_path: Path) -> Path: ...
    def exists(self, uri: str) -> bool: ...


# --- Secret Manager -----------------------------------------------------------------------------------
class SecretStore(Protocol):
    def get(self, name: str) -> str:
        """Latest enabled version's value; raises KeyError when the secret does not exist."""
        ...

    def put(self, name: str, value: str) -> None:
        """Create the secret if needed, add a version, destroy the older versions."""
        ...


# --- Cloud Tasks --------------------------------------------------------------------------------------
class TaskQueue(Protocol):
    def enqueue(self, step: str, job_id: str, *, task_id: str, schedule_time: datetime | None = None) -> bool:
        """Enqueue `{job_id, step}` to the step's queue under a deterministic task id.

        Returns False when a task of that name already exists (a duplicate enqueue), True otherwise.
        """
        ...


# --- Script (LLM) -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int


class ChatModel(Protocol):
    def complete(
        self, *, model: str, system: str, user: str, temperature: float, max_tokens: int
    ) -> ChatResult: ...


# --- Voice --------------------------------------------------------------------------------------------
class SpeechSynthesizer(Protocol):
    def synthesize(self, text: str, *, voice: str, language_code: str, sample_rate_hz: int) -> bytes:
        """Return mono 16-bit PCM WAV bytes (LINEAR16 with header) for `text` (< the byte limit)."""
        ...


# --- Stock media --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaItem:
    provider: str
    item_id: str
    url: str
    width: int
    height: int
    kind: str = "photo"  # photo | video


@dataclass(frozen=True)
class Fetched:
    """A download in progress: read `stream` (bounded chunks) while the context is open."""

    stream: BinaryIO
    content_type: str
    size_bytes: int | None = None


class StockMediaSearch(Protocol):
    name: str

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]: ...

    def fetch(self, item: MediaItem) -> AbstractContextManager[Fetched]:
        """Open the item's file for streaming (a licensed download for paid providers)."""
        ...


# --- Image generation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratedImage:
    data: bytes  # PNG/JPEG/WebP bytes as the provider sent them
    model: str
    size: str


class ImageGenerator(Protocol):
    def generate(self, prompt: str, *, model: str, size: str) -> GeneratedImage: ...


# --- Shared state: caches, counters with limits, rate-limit slots ----------------------------------------
class KeyValueCache(Protocol):
    """Small JSON values with a time to live (Firestore `cache` collection; its TTL policy deletes)."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The value stored under `key` if it has not expired."""
        ...

    def put(self, key: str, value: dict[str, Any], ttl_s: float) -> None: ...


class ScriptLibrary(Protocol):
    """Scripts a model wrote, kept a while so a later job on a similar topic can fall back to one."""

    def add(self, entry_id: str, entry: dict[str, Any], ttl_s: float) -> None: ...
    def candidates(self, keywords: list[str], limit: int = 50) -> list[dict[str, Any]]:
        """Unexpired entries sharing at least one keyword (`entry["keywords"]`)."""
        ...


# A ledger transition reads the current documents (absent ones as {}) and returns (result, writes):
# writes maps document ids to their new content; ids not in it are left alone.
LedgerTransition = Callable[[dict[str, dict[str, Any]]], tuple[Any, dict[str, dict[str, Any]]]]


class LedgerStore(Protocol):
    def transact(self, doc_ids: list[str], transition: LedgerTransition) -> Any:
        """Run `transition` atomically over the documents (one transaction)."""
        ...


class RateSlots(Protocol):
    """Counting slots of a rate-limit window, shared by every instance."""

    def claim(self, window_key: str, limit: int, ttl_s: float) -> bool:
        """Claim one of `limit` slots of the window; False when every slot is taken."""
        ...

    def limited_until(self, provider: str) -> datetime | None: ...
    def set_limited_until(self, provider: str, until: datetime) -> None: ...


# --- YouTube ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoMetadata:
    title: str
    description: str
    tags: list[str] = field(default_factory=list)
    category_id: str = "22"
    privacy_status: str = "private"


@dataclass(frozen=True)
class UploadOutcome:
    video_id: str
    resumed: bool  # True when an earlier session was resumed or found finished


class YouTubeGateway(Protocol):
    def upload(
        self,
        account_id: str,
        file_path: Path,
        metadata: VideoMetadata,
        *,
        session_uri: str | None,
        on_session: Any,
    ) -> UploadOutcome:
        """Resumable upload. With `session_uri`, ask that session for its state and resume it (or
        return the finished video). Without, open a session and call `on_session(uri)` *before the
        first byte* is sent."""
        ...

    def set_thumbnail(self, account_id: str, video_id: str, image_path: Path) -> None: ...
    def channel_id(self, account_id: str) -> str: ...


# --- Money helpers ------------------------------------------------------------------------------------
def usd(value: str | int | Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.000001"))
