"""Step `publish`: set the thumbnail on the uploaded video; the job is then `published`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.steps import output


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        thumb = c.blobs.download_to(output(job, "thumbnail", "thumbnail_uri"), Path(tmp) / "thumbnail.jpg")
        c.youtube.set_thumbnail(job["account_id"], job["youtube_video_id"], thumb)
    return StepOutput(
        outputs={"thumbnail_set": True, "url": f"https://youtube.com/watch?v={job['youtube_video_id']}"},
        provider=f"youtube:{job['account_id']}",
        job_updates={"status": "published"},
    )
