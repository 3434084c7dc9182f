"""What every Cloud Function door does between the HTTP request and the library: parse, validate, call
one library function, map the outcome to a status code. Kept here so functions/*.py stay one-liners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.bootstrap import Container, container
from shared.chain import jobs
from shared.chain.runner import StepContext, run_step
from shared.config import STEPS, function_url
from shared.log import get_logger, log_context, trace_from_header
from shared.web import (
    BadRequest,
    Reply,
    error_reply,
    parse_json_body,
    reply,
    require_method,
    task_retry_count,
    validate,
)

log = get_logger("doors")

StepRun = Callable[[StepContext, Container], jobs.StepOutput]


class TaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    step: Literal[STEPS]  # type: ignore[valid-type]


class JobQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    job_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def _traced(request: Any, c: Container) -> Any:
    return log_context(
        trace=trace_from_header(request.headers.get("X-Cloud-Trace-Context"), c.settings.project_id)
    )


def step_task(request: Any, step: str, run: StepRun) -> Reply:
    """A Cloud Tasks delivery of `step`: `{job_id, step}` in, the runner's status code out."""
    c = container()
    with _traced(request, c):
        try:
            require_method(request, "POST")
            body = parse_json_body(request, TaskBody, max_bytes=4096)
            if body.step != step:
                raise BadRequest(f"step: this function runs {step!r}, not {body.step!r}", "step")
        except BadRequest as e:
            return error_reply(str(e), e.status, e.field)
        resp = run_step(
            step,
            body.job_id,
            retry_count=task_retry_count(request),
            handler=lambda ctx: run(ctx, c),
            store=c.jobs,
            queue=c.queue,
            policy=c.policy,
        )
        return reply(resp.body, resp.status, resp.headers)


def video_request(request: Any) -> Reply:
    from shared.chain.intake import RequestRejected, submit

    c = container()
    with _traced(request, c):
        try:
            require_method(request, "POST")
            req = parse_json_body(request, jobs.VideoRequest)
            doc, created = submit(
                req, store=c.jobs, queue=c.queue, settings=c.settings, admissions=c.admissions
            )
        except BadRequest as e:
            return error_reply(str(e), e.status, e.field)
        except RequestRejected as e:
            return reply({"error": f"{e.field}: {e}", "field": e.field, **e.details}, e.status, e.headers)
        status_url = f"{function_url(c.settings, 'job_status')}?job_id={doc['job_id']}"
        return reply(
            {"job_id": doc["job_id"], "status": doc["status"], "status_url": status_url, "created": created},
            202 if created else 200,
        )


def job_status(request: Any) -> Reply:
    c = container()
    with _traced(request, c):
        try:
            require_method(request, "GET")
            query = validate(JobQuery, dict(request.args))
        except BadRequest as e:
            return error_reply(str(e), e.status, e.field)
        doc = c.jobs.get(query.job_id)
        if doc is None:
            return error_reply(f"job {query.job_id} not found", 404, "job_id")
        return reply(jobs.public_view(doc))
