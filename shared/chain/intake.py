"""Accepting a video request: validate, create the job once per idempotency key, start the chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from shared.chain import jobs
from shared.chain.graph import FIRST_STEP
from shared.chain.runner import enqueue_step, utcnow
from shared.chain.store import JobStore
from shared.config import Settings
from shared.log import get_logger
from shared.ports import TaskQueue

log = get_logger("intake")


class RequestRejected(ValueError):
    """The request is valid JSON but breaks a limit; `field` names the culprit. `details` go into the
    error body, `headers` into the reply (e.g. Retry-After)."""

    def __init__(
        self,
        field: str,
        message: str,
        status: int = 400,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.field = field
        self.status = status
        self.details = details or {}
        self.headers = headers or {}


class Admissions(Protocol):
    """Creates a job only if the customer's plan allows it, in the same transaction (shared.billing)."""

    def create_job(
        self, doc: dict[str, Any], *, channel_id: str | None, now: datetime
    ) -> tuple[dict[str, Any], bool]:
        """(the stored job, created now?); an existing job for the key is returned without a new check.
        Raises RequestRejected (402, 429) when the plan does not allow it."""
        ...


def check_limits(req: jobs.VideoRequest, settings: Settings) -> None:
    if len(req.topic) > settings.topic_max_chars:
        raise RequestRejected(
            "topic", f"topic is {len(req.topic)} characters; at most {settings.topic_max_chars}"
        )
    if req.duration_s > settings.max_duration_s:
        raise RequestRejected("duration_s", f"duration_s must be at most {settings.max_duration_s}")


def submit(
    req: jobs.VideoRequest,
    *,
    store: JobStore,
    queue: TaskQueue,
    settings: Settings,
    now: Callable[[], datetime] = utcnow,
    admissions: Admissions | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create the job (or find the one this idempotency key made) and enqueue its first step.

    With `admissions` (the video_request function always passes the billing one) the job is created only
    if the customer's plan allows it, in the same transaction; without, the chain alone (unit tests).
    The enqueue is repeated for an existing job still waiting to start: if an earlier call crashed
    between the two writes, the retry finishes its work; the task name makes a duplicate harmless.
    """
    check_limits(req, settings)
    job_id = jobs.new_job_id(req.customer_id, req.idempotency_key)
    at = now()
    new_doc = jobs.new_job_document(job_id, req, at)
    if admissions is None:
        doc, created = store.create(new_doc)
    else:
        doc, created = admissions.create_job(new_doc, channel_id=req.channel_id, now=at)
    if created or (doc["status"] == "queued" and doc["steps"][FIRST_STEP]["status"] == "pending"):
        enqueue_step(queue, doc, FIRST_STEP)
    log.info(
        "video request accepted" if created else "video request repeated",
        extra={"job_id": job_id, "customer_id": req.customer_id},
    )
    return doc, created
