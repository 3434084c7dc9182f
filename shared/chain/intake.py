"""Accepting a video request: validate, create the job once per idempotency key, start the chain."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.chain import jobs
from shared.chain.graph import FIRST_STEP
from shared.chain.runner import enqueue_step, utcnow
from shared.chain.store import JobStore
from shared.config import Settings
from shared.log import get_logger
from shared.ports import TaskQueue

log = get_logger("intake")


class RequestRejected(ValueError):
    """The request is valid JSON but breaks a limit; `field` names the culprit."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


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
) -> tuple[dict[str, Any], bool]:
    """Create the job (or find the one this idempotency key made) and enqueue its first step.

    The enqueue is repeated for an existing job still waiting to start: if an earlier call crashed
    between the two writes, the retry finishes its work; the task name makes a duplicate harmless.
    """
    check_limits(req, settings)
    job_id = jobs.new_job_id(req.customer_id, req.idempotency_key)
    doc, created = store.create(jobs.new_job_document(job_id, req, now()))
    if created or (doc["status"] == "queued" and doc["steps"][FIRST_STEP]["status"] == "pending"):
        enqueue_step(queue, doc, FIRST_STEP)
    log.info(
        "video request accepted" if created else "video request repeated",
        extra={"job_id": job_id, "customer_id": req.customer_id},
    )
    return doc, created
