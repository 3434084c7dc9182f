"""Step `thumbnail`: a 1280×720 JPEG from the Pillow template with the video's title."""

from __future__ import annotations

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.thumbnail import render_thumbnail
from shared.steps import artefact_path, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    title = output(ctx.job, "script", "title")
    jpeg = render_thumbnail(
        title, width=s.video_width, height=s.video_height, jpeg_quality=s.thumbnail_jpeg_quality
    )
    uri = c.blobs.put_bytes(artefact_path(ctx.job, "thumbnail.jpg"), jpeg, "image/jpeg")
    return StepOutput(outputs={"thumbnail_uri": uri, "size_bytes": len(jpeg)}, provider="pillow-template")
