"""Step `script`: the LLM writes the script (or rewrites it with the quality step's feedback)."""

from __future__ import annotations

import json

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.script import Script, ScriptRequest, improve_script, write_script
from shared.steps import artefact_path, load_json


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    r = job["request"]
    req = ScriptRequest(topic=r["topic"], style=r["style"], duration_s=r["duration_s"], quality=r["quality"])
    if job["generation"] > 0 and job.get("feedback"):
        previous_uri = (
            f"gs://{c.settings.media_bucket}/jobs/{job['job_id']}/g{job['generation'] - 1}/script.json"
        )
        previous = Script.from_dict(load_json(c.blobs, previous_uri))
        script = improve_script(previous, job["feedback"], req=req, chat=c.chat, settings=c.settings)
    else:
        script = write_script(req, chat=c.chat, settings=c.settings)
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
        },
        provider=f"openai:{script.model}",
        cost_usd=script.cost_usd,
    )
