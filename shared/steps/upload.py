"""Step `upload`: resumable upload to YouTube, exactly once.

The session URI and account are saved on the job before the first byte; a redelivered task resumes
that session (or finds the finished video) instead of inserting again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import Deferred, PermanentFailure, StepContext
from shared.ports import ProviderError, VideoMetadata
from shared.steps import load_json, output
from shared.youtube.accounts import NoAccountAvailable, choose_account, next_pacific_midnight

DEFER_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded"})


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    session = job.get("upload") or {}
    try:
        account_id = (
            session.get("account_id")
            or choose_account(c.accounts.list(), job["request"].get("channel_id")).account_id
        )
    except NoAccountAvailable as e:
        raise Deferred(next_pacific_midnight(ctx.now()), str(e)) from None
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    meta = VideoMetadata(
        title=script["title"],
        description=script["description"],
        tags=script["tags"],
        category_id=c.settings.youtube_category_id,
        privacy_status=c.settings.youtube_default_privacy,
    )

    def on_session(uri: str) -> None:
        ctx.save(upload={"session_uri": uri, "account_id": account_id, "started_at": ctx.now()})

    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        path = c.blobs.download_to(output(job, "render", "video_uri"), Path(tmp) / "video.mp4")
        try:
            outcome = c.youtube.upload(
                account_id, path, meta, session_uri=session.get("session_uri"), on_session=on_session
            )
        except ProviderError as e:
            if e.reason in DEFER_REASONS:
                raise Deferred(next_pacific_midnight(ctx.now()), f"{account_id}: {e.reason}") from None
            if e.reason == "invalid_grant":
                raise PermanentFailure(
                    f"account {account_id} needs re-authorization (invalid_grant)"
                ) from None
            raise
    return StepOutput(
        outputs={"video_id": outcome.video_id, "resumed": outcome.resumed, "account_id": account_id},
        provider=f"youtube:{account_id}",
        job_updates={"youtube_video_id": outcome.video_id, "account_id": account_id},
    )
