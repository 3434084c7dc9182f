"""GET a job by id: `?job_id=...` → the job with per-step status, attempts, provider, outputs, cost."""

from shared.doors import job_status as handle  # noqa: F401
