"""Step `thumbnail`: the thumbnail chain (OpenAI image + title, else the Pillow template): a 1280x720
JPEG for YouTube and a WebP copy."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.thumbnail_chain import ThumbnailServices, make_thumbnail
from shared.steps import artefact_path, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    title = output(ctx.job, "script", "title")
    svc = ThumbnailServices(
        images=lambda: c.images,
        cache=c.cache,
        blobs=c.blobs,
        budgets=c.budgets,
        retry=c.retry,
        settings=c.settings,
        job_id=ctx.job["job_id"],
    )
    served = make_thumbnail(title, svc)  # the template link cannot fail
    thumb = served.value
    outputs = {
        "thumbnail_uri": c.blobs.put_bytes(artefact_path(ctx.job, "thumbnail.jpg"), thumb.jpeg, "image/jpeg"),
        "size_bytes": len(thumb.jpeg),
        "fallbacks": served.fallback_dicts(),
    }
    if thumb.webp is not None:
        outputs["thumbnail_webp_uri"] = c.blobs.put_bytes(
            artefact_path(ctx.job, "thumbnail.webp"), thumb.webp, "image/webp"
        )
    return StepOutput(outputs=outputs, provider=served.provider, cost_usd=thumb.cost_usd)
