"""Job store on Firestore: one small document per job, every state change in a transaction."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from shared.chain.store import JobNotFound, Transition
from shared.config import Settings


def firestore_client(settings: Settings) -> firestore.Client:
    """The client reads the emulator address only from the environment; set it from the settings."""
    if settings.firestore_emulator_host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = settings.firestore_emulator_host
    return firestore.Client(project=settings.project_id)


def _contended(exc: BaseException) -> bool:
    # Aborted: lost a race on the document; ValueError: the client gave up after its own attempts.
    return isinstance(exc, gexc.Aborted | gexc.Conflict) or (
        isinstance(exc, ValueError) and "Failed to commit transaction" in str(exc)
    )


class FirestoreJobStore:
    def __init__(self, client: firestore.Client, settings: Settings) -> None:
        self._db = client
        prefix = settings.collection_prefix
        self._jobs = client.collection(f"{prefix}jobs")
        self._dead = client.collection(f"{prefix}dead_letters")
        self._outbox = client.collection(f"{prefix}outbox")

    def create(self, doc: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        ref = self._jobs.document(doc["job_id"])
        try:
            ref.create(doc)
            return doc, True
        except gexc.AlreadyExists:
            snap = ref.get()
            return snap.to_dict(), False

    def get(self, job_id: str) -> dict[str, Any] | None:
        snap = self._jobs.document(job_id).get()
        return snap.to_dict() if snap.exists else None

    @retry(
        retry=retry_if_exception(_contended),
        wait=wait_random_exponential(multiplier=0.05, max=2),
        stop=stop_after_attempt(8),
        reraise=True,
    )
    def transact(self, job_id: str, transition: Transition) -> Any:
        ref = self._jobs.document(job_id)

        @firestore.transactional
        def run(txn: firestore.Transaction) -> Any:
            snap = ref.get(transaction=txn)
            if not snap.exists:
                raise JobNotFound(job_id)
            result, new = transition(snap.to_dict())
            if new is not None:
                txn.set(ref, new)
            return result

        return run(self._db.transaction(max_attempts=5))

    def set_fields(self, job_id: str, fields: dict[str, Any], now: datetime) -> None:
        self._jobs.document(job_id).update({**fields, "updated_at": now})

    def record_dead_letter(self, job_id: str, step: str, record: dict[str, Any]) -> None:
        with contextlib.suppress(gexc.AlreadyExists):  # already recorded by an earlier delivery
            self._dead.document(f"{job_id}-{step}").create(record)

    def append_outbox(self, key: str, record: dict[str, Any]) -> bool:
        try:
            self._outbox.document(key).create(record)
            return True
        except gexc.AlreadyExists:
            return False

    def list_jobs(self, limit: int = 50) -> list[dict[str, Any]]:
        query = self._jobs.order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit)
        return [s.to_dict() for s in query.stream()]

    def dead_letters(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._dead.stream()]

    def outbox(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._outbox.stream()]
