"""Step `upload`: the video goes to YouTube through the account pool, exactly once.

The glue between the job and shared.youtube.uploader: the job's `upload` record carries the chosen
account, its quota reservation and the resumable session URI (saved before the first byte), so a
redelivered task resumes that session — or finds the finished video — instead of inserting again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import Deferred, PermanentFailure, StepContext, TransientFailure
from shared.ports import VideoMetadata
from shared.steps import load_json, output
from shared.youtube.uploader import (
    UploadDeferred,
    Uploader,
    UploadInterrupted,
    UploadRefused,
    UploadTask,
)


def uploader(c: Container, ctx: StepContext) -> Uploader:
    return Uploader(
        settings=c.settings,
        accounts=c.accounts,
        ledger=c.ledger,
        rotation=c.rotation,
        youtube=c.youtube,
        tokens=c.tokens,
        view=c.pool_view,
        now=ctx.now,
    )


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    state = dict(job.get("upload") or {})
    if state.get("video_id") and state.get("account_id"):  # uploaded by an earlier delivery
        return _done(state["video_id"], state["account_id"], resumed=True, tries=state.get("tries") or [])
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    meta = VideoMetadata(
        title=script["title"],
        description=script["description"],
        tags=script["tags"],
        category_id=c.settings.youtube_category_id,
        privacy_status=c.settings.youtube_default_privacy,
    )
    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        path = c.blobs.download_to(output(job, "render", "video_uri"), Path(tmp) / "video.mp4")
        task = UploadTask(
            job_id=job["job_id"],
            file_path=path,
            metadata=meta,
            state=state,
            save=lambda record: ctx.save(upload=record),
            channel_id=job["request"].get("channel_id"),
            recover=job["steps"]["upload"]["attempts"] > 1,
            last_attempt=ctx.last_attempt,
        )
        try:
            result = uploader(c, ctx).run(task)
        except UploadDeferred as e:
            raise Deferred(e.until, e.reason) from None
        except UploadRefused as e:
            raise PermanentFailure(str(e)) from None
        except UploadInterrupted as e:
            raise TransientFailure(str(e)) from None
    return _done(result.video_id, result.account_id, resumed=result.resumed, tries=result.tries)


def _done(video_id: str, account_id: str, *, resumed: bool, tries: list) -> StepOutput:
    return StepOutput(
        outputs={"video_id": video_id, "resumed": resumed, "account_id": account_id, "tries": tries},
        provider=f"youtube:{account_id}",
        job_updates={"youtube_video_id": video_id, "account_id": account_id},
    )
