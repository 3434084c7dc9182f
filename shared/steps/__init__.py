"""The video chain's steps: each module's `run(ctx, c)` reads the job, calls domain code with explicit
adapters from the container, stores artefacts in Cloud Storage and returns a StepOutput."""

from __future__ import annotations

import json
from typing import Any

from shared.ports import BlobStore


def artefact_path(job: dict[str, Any], name: str) -> str:
    """Where a generation's artefact lives: re-running a step overwrites, never duplicates."""
    return f"jobs/{job['job_id']}/g{job['generation']}/{name}"


def load_json(blobs: BlobStore, uri: str) -> dict[str, Any]:
    return json.loads(blobs.get_bytes(uri))


def output(job: dict[str, Any], step: str, key: str) -> Any:
    """An output of an earlier step of this job; the graph guarantees that step is done."""
    return job["steps"][step]["outputs"][key]


def chain_failure(exc: Exception) -> Exception:
    """A provider chain with nothing left: retried later when any provider failed transiently."""
    from shared.chain.runner import PermanentFailure, TransientFailure

    return TransientFailure(str(exc)) if getattr(exc, "transient", False) else PermanentFailure(str(exc))
