"""The step runner: one delivery of one Cloud Tasks task, idempotent under at-least-once delivery.

Outcome → status code (the retry protocol):
  done, or already done (successors re-enqueued)      → 200
  deferred (new task with schedule_time)              → 200
  permanent failure, or the last attempt failing      → 200, job failed + dead-letter record
  transient failure                                    → 503 (Cloud Tasks retries with backoff)
  another delivery is running this step right now     → 503 with Retry-After
  unknown job                                          → 404
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.chain import jobs
from shared.chain.graph import FIRST_STEP, predecessors
from shared.chain.store import JobNotFound, JobStore
from shared.log import get_logger, log_context
from shared.ports import ProviderError, TaskQueue

log = get_logger("chain")


class Deferred(Exception):
    """The step cannot run now (e.g. no quota until the Pacific-time reset); run it again at `until`."""

    def __init__(self, until: datetime, reason: str):
        super().__init__(reason)
        self.until = until
        self.reason = reason


class PermanentFailure(Exception):
    """Retrying will not help: the job fails with this reason."""


class TransientFailure(Exception):
    """Trying again later may succeed."""


class Regenerate(Exception):
    """The output is not good enough: run the chain again from `script` with this feedback."""

    def __init__(self, feedback: str):
        super().__init__(feedback)
        self.feedback = feedback


@dataclass
class StepContext:
    """What a step handler gets besides the job: a way to persist progress before a side effect."""

    job: dict[str, Any]
    store: JobStore
    now: Callable[[], datetime]
    # True on the task's last attempt: a transient failure now fails the job, so a step gives back
    # what it holds (e.g. a quota reservation) before raising.
    last_attempt: bool = False

    def save(self, **fields: Any) -> None:
        self.store.set_fields(self.job["job_id"], fields, self.now())
        self.job.update(fields)


class StepHandler(Protocol):
    def __call__(self, ctx: StepContext) -> jobs.StepOutput: ...


@dataclass
class StepResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ChainPolicy:
    max_attempts: int = 5
    lease_s: dict[str, int] = field(default_factory=dict)  # per step; steps not listed get default_lease_s
    default_lease_s: int = 900
    max_regenerations: int = 1

    def lease_for(self, step: str) -> int:
        return self.lease_s.get(step, self.default_lease_s)


def utcnow() -> datetime:
    return datetime.now(UTC)


def enqueue_step(
    queue: TaskQueue,
    doc: dict[str, Any],
    step: str,
    *,
    suffix: str = "",
    schedule_time: datetime | None = None,
) -> None:
    queue.enqueue(
        step,
        doc["job_id"],
        task_id=jobs.task_id(doc["job_id"], step, doc["generation"], suffix),
        schedule_time=schedule_time,
    )


def _enqueue_successors(queue: TaskQueue, doc: dict[str, Any], step: str) -> list[str]:
    nexts = list(jobs.successors_to_enqueue(doc, step))
    for nxt in nexts:
        enqueue_step(queue, doc, nxt)
    return nexts


def run_step(
    step: str,
    job_id: str,
    *,
    retry_count: int,
    handler: StepHandler,
    store: JobStore,
    queue: TaskQueue,
    policy: ChainPolicy,
    now: Callable[[], datetime] = utcnow,
) -> StepResponse:
    with log_context(job_id=job_id, step=step):
        try:
            claim = store.transact(job_id, lambda d: jobs.claim_step(d, step, now(), policy.lease_for(step)))
        except JobNotFound:
            log.warning("task for unknown job")
            return StepResponse(404, {"error": f"job {job_id} not found"})

        if claim.kind == "job_failed":
            return StepResponse(200, {"job_id": job_id, "step": step, "result": "ignored: job failed"})
        if claim.kind == "not_ready":
            return StepResponse(
                200,
                {
                    "job_id": job_id,
                    "step": step,
                    "result": "ignored: predecessors not done",
                    "waiting_for": [
                        p for p in predecessors(step) if claim.doc["steps"][p]["status"] != "done"
                    ],
                },
            )
        if claim.kind == "done":
            nexts = _enqueue_successors(queue, claim.doc, step)
            log.info("redelivered done step; successors re-enqueued", extra={"successors": nexts})
            return StepResponse(
                200, {"job_id": job_id, "step": step, "result": "already done", "enqueued": nexts}
            )
        if claim.kind == "busy":
            return StepResponse(
                503,
                {"job_id": job_id, "step": step, "result": "busy: another delivery runs it"},
                {"Retry-After": str(min(claim.retry_after_s, 60))},
            )

        doc = claim.doc
        last_attempt = retry_count + 1 >= policy.max_attempts
        ctx = StepContext(job=doc, store=store, now=now, last_attempt=last_attempt)
        try:
            out = handler(ctx)
        except Deferred as d:
            until, reason = d.until, d.reason
            store.transact(job_id, lambda cur: (None, jobs.defer_step(cur, step, until, reason, now())))
            enqueue_step(queue, doc, step, suffix=f"d{int(until.timestamp())}", schedule_time=until)
            log.info("step deferred", extra={"until": until.isoformat(), "reason": reason})
            return StepResponse(
                200,
                {
                    "job_id": job_id,
                    "step": step,
                    "result": "deferred",
                    "until": until.isoformat(),
                    "reason": reason,
                },
            )
        except Regenerate as r:
            return _regenerate(step, doc, r.feedback, store=store, queue=queue, policy=policy, now=now)
        except PermanentFailure as e:
            return _fail(step, doc, str(e), store=store, now=now, retry_count=retry_count)
        except ProviderError as e:
            if not e.transient:
                return _fail(
                    step,
                    doc,
                    f"{e.provider or 'provider'}: {e}",
                    store=store,
                    now=now,
                    retry_count=retry_count,
                )
            return _transient(
                step,
                doc,
                f"{e.provider or 'provider'}: {e}",
                last_attempt,
                store=store,
                now=now,
                retry_count=retry_count,
            )
        except TransientFailure as e:
            return _transient(step, doc, str(e), last_attempt, store=store, now=now, retry_count=retry_count)
        except Exception as e:  # a bug or an unclassified failure: log it, retry, give up on the last attempt
            log.exception("step crashed")
            resp = _transient(
                step,
                doc,
                f"{type(e).__name__}: {e}",
                last_attempt,
                store=store,
                now=now,
                retry_count=retry_count,
            )
            if resp.status != 200:
                resp.status = 500
            return resp

        completion = store.transact(job_id, lambda cur: jobs.complete_step(cur, step, out, now()))
        done_doc = completion.doc
        nexts = _enqueue_successors(queue, done_doc, step)
        log.info(
            "step done",
            extra={
                "provider": out.provider,
                "cost_usd": str(out.cost_usd),
                "successors": nexts,
                "join_ready": completion.join_ready,
            },
        )
        return StepResponse(200, {"job_id": job_id, "step": step, "result": "done", "enqueued": nexts})


def _transient(
    step: str,
    doc: dict,
    reason: str,
    last_attempt: bool,
    *,
    store: JobStore,
    now: Callable[[], datetime],
    retry_count: int,
) -> StepResponse:
    if last_attempt:
        return _fail(
            step,
            doc,
            f"gave up after {retry_count + 1} attempts: {reason}",
            store=store,
            now=now,
            retry_count=retry_count,
        )
    store.transact(doc["job_id"], lambda cur: (None, jobs.release_step(cur, step, reason, now())))
    log.warning("transient failure; Cloud Tasks will retry", extra={"reason": reason})
    return StepResponse(503, {"job_id": doc["job_id"], "step": step, "result": "retry", "reason": reason})


def _fail(
    step: str, doc: dict, reason: str, *, store: JobStore, now: Callable[[], datetime], retry_count: int
) -> StepResponse:
    job_id = doc["job_id"]
    store.transact(job_id, lambda cur: (None, jobs.fail_job(cur, step, reason, now())))
    store.record_dead_letter(
        job_id,
        step,
        {
            "job_id": job_id,
            "step": step,
            "reason": reason,
            "retry_count": retry_count,
            "at": now(),
        },
    )
    log.error("job failed", extra={"reason": reason})
    return StepResponse(200, {"job_id": job_id, "step": step, "result": "failed", "reason": reason})


def _regenerate(
    step: str,
    doc: dict,
    feedback: str,
    *,
    store: JobStore,
    queue: TaskQueue,
    policy: ChainPolicy,
    now: Callable[[], datetime],
) -> StepResponse:
    if doc.get("regenerations", 0) >= policy.max_regenerations:
        return _fail(
            step,
            doc,
            f"quality still too low after regeneration: {feedback}",
            store=store,
            now=now,
            retry_count=0,
        )

    def to_next_generation(cur: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        new = jobs.regenerate(cur, feedback, now())
        return new, new  # (the result, the document to write)

    new = store.transact(doc["job_id"], to_next_generation)
    enqueue_step(queue, new, FIRST_STEP)
    log.info("regenerating from script", extra={"feedback": feedback, "generation": new["generation"]})
    return StepResponse(
        200, {"job_id": doc["job_id"], "step": step, "result": "regenerate", "generation": new["generation"]}
    )
