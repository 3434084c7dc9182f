"""The job store port: the transactional operations the chain engine needs from its database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

# A transition reads the current document and returns (result, new document or None for "no write").
Transition = Callable[[dict[str, Any]], tuple[Any, dict[str, Any] | None]]


class JobNotFound(KeyError):
    pass


class JobStore(Protocol):
    def create(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create the job if absent; returns (the stored document, whether it was created now)."""
        ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def transact(self, job_id: str, transition: Transition) -> Any:
        """Run `transition` atomically on the job's document; raises JobNotFound when absent."""
        ...

    def set_fields(self, job_id: str, fields: dict[str, Any], now: datetime) -> None:
        """Merge top-level fields (e.g. the upload session) outside a transaction."""
        ...

    def record_dead_letter(self, job_id: str, step: str, record: dict[str, Any]) -> None:
        """Cloud Tasks has no dead-letter queue: keep what was given up on, once per job and step."""
        ...

    def append_outbox(self, key: str, record: dict[str, Any]) -> bool:
        """Create-if-absent a notification record; False when it already existed."""
        ...

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]: ...
