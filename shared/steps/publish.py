"""Step `publish`: the thumbnail, then the final metadata (title, description, tags, category, the
published privacy) on the uploaded video — each call charged to the video's quota reservation. The job
is then `published`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import Deferred, PermanentFailure, StepContext, TransientFailure
from shared.ports import VideoMetadata
from shared.steps import load_json, output
from shared.youtube.ledger import VideoReservation
from shared.youtube.uploader import PublishDeferred, PublishTask, UploadInterrupted, UploadRefused, publish


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    upload = job.get("upload") or {}
    account_id, video_id = job["account_id"], job["youtube_video_id"]
    pool = upload.get("pool")
    if pool is None:
        account = c.accounts.get(account_id)
        pool = account.pool if account else "default"
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    meta = VideoMetadata(
        title=script["title"],
        description=script["description"],
        tags=script["tags"],
        category_id=c.settings.youtube_category_id,
        privacy_status=c.settings.youtube_publish_privacy,
    )
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        thumb = c.blobs.download_to(output(job, "thumbnail", "thumbnail_uri"), Path(tmp) / "thumbnail.jpg")
        task = PublishTask(
            account_id=account_id,
            pool=pool,
            video_id=video_id,
            thumbnail_path=thumb,
            metadata=meta,
            reservation=VideoReservation.from_json(upload["reservation"])
            if upload.get("reservation")
            else None,
            done=list(job.get("publish_calls") or []),
            save_done=lambda done: ctx.save(publish_calls=done),
        )
        try:
            done = publish(
                task,
                settings=c.settings,
                accounts=c.accounts,
                ledger=c.ledger,
                youtube=c.youtube,
                tokens=c.tokens,
                now=ctx.now,
            )
        except PublishDeferred as e:
            raise Deferred(e.until, e.reason) from None
        except UploadRefused as e:
            raise PermanentFailure(str(e)) from None
        except UploadInterrupted as e:
            raise TransientFailure(str(e)) from None
    return StepOutput(
        outputs={
            "thumbnail_set": "thumbnails.set" in done,
            "metadata_set": "videos.update" in done,
            "privacy_status": meta.privacy_status,
            "url": f"https://youtube.com/watch?v={video_id}",
        },
        provider=f"youtube:{account_id}",
        job_updates={"status": "published"},
    )
