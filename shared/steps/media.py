"""Step `media`: stock stills for the script's visual cues, downloaded into Cloud Storage."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import PermanentFailure, StepContext
from shared.content.media import gather_stills, search_queries
from shared.steps import artefact_path, load_json, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    job = ctx.job
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    count = s.media_stills_per_video
    queries = search_queries(job["request"]["topic"], script["visual_cues"], count)
    items = gather_stills(
        queries,
        search=c.stock_media,
        count=count,
        topic=job["request"]["topic"],
        min_results=s.media_min_results,
    )
    if not items:
        raise PermanentFailure(f"no stock media found for {job['request']['topic']!r}")
    uris = []
    for i, item in enumerate(items):
        data = c.stock_media.download(item)
        uris.append(c.blobs.put_bytes(artefact_path(job, f"stills/{i:02d}.jpg"), data, "image/jpeg"))
    return StepOutput(
        outputs={
            "still_uris": uris,
            "count": len(uris),
            "queries": queries,
            "sources": [f"{i.provider}:{i.item_id}" for i in items],
        },
        provider=c.stock_media.name,
    )
