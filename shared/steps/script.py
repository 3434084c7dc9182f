"""Step `script`: the script chain writes the script (or rewrites it with the quality step's feedback)."""

from __future__ import annotations

import json

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.chain import ChainExhausted
from shared.content.script import Script, ScriptRequest
from shared.content.script_chain import ScriptServices, improve_script_served, write_script_served
from shared.steps import artefact_path, chain_failure, load_json


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    r = job["request"]
    req = ScriptRequest(topic=r["topic"], style=r["style"], duration_s=r["duration_s"], quality=r["quality"])
    svc = ScriptServices(
        chat=c.lazy("chat"),
        cache=c.cache,
        library=c.script_library,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id=job["job_id"],
    )
    try:
        if job["generation"] > 0 and job.get("feedback"):
            previous_uri = (
                f"gs://{c.settings.media_bucket}/jobs/{job['job_id']}/g{job['generation'] - 1}/script.json"
            )
            previous = Script.from_dict(load_json(c.blobs, previous_uri))
            served = improve_script_served(previous, job["feedback"], req, svc)
        else:
            served = write_script_served(req, svc)
    except ChainExhausted as exc:
        raise chain_failure(exc) from None
    script = served.value
    uri = c.blobs.put_bytes(
        artefact_path(job, "script.json"), json.dumps(script.to_dict()).encode(), "application/json"
    )
    return StepOutput(
        outputs={
            "script_uri": uri,
            "title": script.title,
            "word_count": script.word_count,
            "estimated_duration_s": script.estimated_duration_s,
            "model": script.model,
            "tokens": script.prompt_tokens + script.completion_tokens,
            "fallbacks": served.fallback_dicts(),
        },
        provider=served.provider,
        cost_usd=script.cost_usd,
    )
