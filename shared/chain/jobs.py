"""The job document and its state transitions, as pure functions over the document dict.

The Firestore adapter runs each transition inside a transaction (read → transition → write); the unit
tests' in-memory store runs the same functions under a lock, so the rules exist once.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.chain.graph import JOIN_INPUTS, JOIN_STEP, SUCCESSORS, predecessors
from shared.config import STEPS

JobStatus = Literal["queued", "running", "deferred", "published", "failed"]
StepStatus = Literal["pending", "running", "done", "deferred", "failed"]
TERMINAL: frozenset[str] = frozenset({"failed"})


# --- the request a customer makes ------------------------------------------------------------------
class VideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    topic: str = Field(min_length=3, max_length=200)
    style: str = Field(default="educational", min_length=1, max_length=40)
    duration_s: int = Field(default=60, ge=10, le=3600)
    quality: Literal["standard", "premium"] = "standard"
    channel_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)


def micros(amount: Decimal) -> int:
    return int((amount * 1_000_000).to_integral_value())


def from_micros(value: int) -> Decimal:
    return (Decimal(value) / Decimal(1_000_000)).quantize(Decimal("0.000001"))


def new_job_id(customer_id: str, idempotency_key: str | None) -> str:
    """Deterministic for an idempotency key (the same key returns the same job), random otherwise."""
    if idempotency_key:
        return hashlib.sha256(f"{customer_id}\x00{idempotency_key}".encode()).hexdigest()[:32]
    return uuid.uuid4().hex


def task_id(job_id: str, step: str, generation: int, suffix: str = "") -> str:
    """Deterministic Cloud Tasks task id with a hashed prefix (spreads names over the keyspace)."""
    base = f"{job_id}-{step}-g{generation}{('-' + suffix) if suffix else ''}"
    return f"{hashlib.sha256(base.encode()).hexdigest()[:8]}-{base}"


def new_job_document(job_id: str, req: VideoRequest, now: datetime) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "customer_id": req.customer_id,
        "idempotency_key": req.idempotency_key,
        "request": req.model_dump(exclude={"customer_id", "idempotency_key"}),
        "status": "queued",
        "generation": 0,
        "regenerations": 0,
        "feedback": None,
        "created_at": now,
        "updated_at": now,
        "steps": {s: _fresh_step() for s in STEPS},
        "joins": {},
        "account_id": None,
        "upload": None,
        "youtube_video_id": None,
        "total_cost_micros": 0,
        "failure": None,
    }


def _fresh_step() -> dict[str, Any]:
    return {
        "status": "pending",
        "attempts": 0,
        "provider": None,
        "outputs": {},
        "cost_micros": 0,
        "started_at": None,
        "finished_at": None,
        "lease_until": None,
        "error": None,
    }


# --- transitions ---------------------------------------------------------------------------------------
ClaimKind = Literal["claimed", "done", "busy", "not_ready", "job_failed"]


@dataclass
class Claim:
    kind: ClaimKind
    doc: dict[str, Any]
    retry_after_s: int = 0


def claim_step(doc: dict[str, Any], step: str, now: datetime, lease_s: int) -> tuple[Claim, dict | None]:
    """Decide what a delivery of `step` does; returns the claim and the new document (None = no write)."""
    st = doc["steps"][step]
    if doc["status"] in TERMINAL:
        return Claim("job_failed", doc), None
    if st["status"] == "done":
        return Claim("done", doc), None
    if any(doc["steps"][p]["status"] != "done" for p in predecessors(step)):
        # A stale or early task (e.g. from before a regeneration): the real predecessor enqueues us.
        return Claim("not_ready", doc), None
    lease_until = st.get("lease_until")
    if st["status"] == "running" and lease_until is not None and lease_until > now:
        return Claim("busy", doc, retry_after_s=max(1, int((lease_until - now).total_seconds()))), None
    new = copy.deepcopy(doc)
    ns = new["steps"][step]
    ns["status"] = "running"
    ns["attempts"] += 1
    ns["started_at"] = now
    ns["lease_until"] = now + timedelta(seconds=lease_s)
    ns["error"] = None
    if new["status"] in ("queued", "deferred"):
        new["status"] = "running"
    new["updated_at"] = now
    return Claim("claimed", new), new


@dataclass
class StepOutput:
    """What a step produced: outputs (URIs, figures), who served it, what it cost, job-level fields."""

    outputs: dict[str, Any] = field(default_factory=dict)
    provider: str = ""
    cost_usd: Decimal = Decimal(0)
    job_updates: dict[str, Any] = field(default_factory=dict)


@dataclass
class Completion:
    already_done: bool
    join_ready: bool
    doc: dict[str, Any]


JOB_UPDATABLE = frozenset({"account_id", "youtube_video_id", "status", "upload", "notified"})


def complete_step(
    doc: dict[str, Any], step: str, out: StepOutput, now: datetime
) -> tuple[Completion, dict | None]:
    if doc["steps"][step]["status"] == "done":
        return Completion(True, False, doc), None
    new = copy.deepcopy(doc)
    ns = new["steps"][step]
    ns.update(
        status="done",
        provider=out.provider,
        outputs=out.outputs,
        cost_micros=micros(out.cost_usd),
        finished_at=now,
        lease_until=None,
        error=None,
    )
    bad = set(out.job_updates) - JOB_UPDATABLE
    if bad:
        raise ValueError(f"step {step} may not update job fields {sorted(bad)}")
    new.update(out.job_updates)
    new["total_cost_micros"] = sum(s["cost_micros"] for s in new["steps"].values()) + new.get(
        "earlier_generations_cost_micros", 0
    )
    new["updated_at"] = now
    if "status" not in out.job_updates and new["status"] in ("running", "deferred", "queued"):
        new["status"] = "running"
    join_ready = False
    if step in JOIN_INPUTS:
        key = f"g{new['generation']}"
        if all(new["steps"][s]["status"] == "done" for s in JOIN_INPUTS) and not new["joins"].get(key):
            new["joins"][key] = now
            join_ready = True
    return Completion(False, join_ready, new), new


def release_step(doc: dict[str, Any], step: str, error: str, now: datetime) -> dict | None:
    """A transient failure: the step goes back to pending so the retried task can claim it at once."""
    if doc["steps"][step]["status"] != "running":
        return None
    new = copy.deepcopy(doc)
    new["steps"][step].update(status="pending", lease_until=None, error=error[:500])
    new["updated_at"] = now
    return new


def defer_step(doc: dict[str, Any], step: str, until: datetime, reason: str, now: datetime) -> dict:
    new = copy.deepcopy(doc)
    new["steps"][step].update(status="deferred", lease_until=None, error=f"deferred: {reason}"[:500])
    new["status"] = "deferred"
    new["deferred_until"] = until
    new["updated_at"] = now
    return new


def fail_job(doc: dict[str, Any], step: str, reason: str, now: datetime) -> dict | None:
    if doc["status"] == "failed":
        return None
    new = copy.deepcopy(doc)
    new["steps"][step].update(status="failed", lease_until=None, error=reason[:500], finished_at=now)
    new["status"] = "failed"
    new["failure"] = {"step": step, "reason": reason[:1000], "at": now}
    new["updated_at"] = now
    return new


def regenerate(doc: dict[str, Any], feedback: str, now: datetime) -> dict:
    """Back to `script` for one more generation with feedback; what was spent so far stays counted."""
    new = copy.deepcopy(doc)
    new["earlier_generations_cost_micros"] = new["total_cost_micros"]
    new["generation"] += 1
    new["regenerations"] += 1
    new["feedback"] = feedback[:2000]
    new["steps"] = {s: _fresh_step() for s in STEPS}
    new["status"] = "running"
    new["updated_at"] = now
    return new


def successors_to_enqueue(doc: dict[str, Any], step: str) -> tuple[str, ...]:
    """Who runs next once `step` is done: the join only when its marker for this generation is set."""
    nexts = SUCCESSORS[step]
    if nexts == (JOIN_STEP,):
        return nexts if doc["joins"].get(f"g{doc['generation']}") else ()
    return nexts


# --- read model ----------------------------------------------------------------------------------------
def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The job as `job_status` and the CLI show it: JSON-safe, money as decimal strings."""

    def iso(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else v

    steps = {}
    for name in STEPS:
        s = doc["steps"][name]
        steps[name] = {
            "status": s["status"],
            "attempts": s["attempts"],
            "provider": s["provider"],
            "outputs": s["outputs"],
            "cost_usd": str(from_micros(s["cost_micros"])),
            "started_at": iso(s["started_at"]),
            "finished_at": iso(s["finished_at"]),
            "error": s["error"],
        }
    failure = doc.get("failure")
    return {
        "job_id": doc["job_id"],
        "customer_id": doc["customer_id"],
        "status": doc["status"],
        "request": doc["request"],
        "generation": doc["generation"],
        "feedback": doc.get("feedback"),
        "account_id": doc.get("account_id"),
        "upload_session": bool((doc.get("upload") or {}).get("session_uri")),
        "youtube_video_id": doc.get("youtube_video_id"),
        "total_cost_usd": str(from_micros(doc["total_cost_micros"])),
        "created_at": iso(doc["created_at"]),
        "updated_at": iso(doc["updated_at"]),
        "deferred_until": iso(doc.get("deferred_until")),
        "failure": {**failure, "at": iso(failure["at"])} if failure else None,
        "steps": steps,
    }
