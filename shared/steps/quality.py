"""Step `quality`: probe the rendered video and score it; a low score regenerates from the script once."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import Regenerate, StepContext
from shared.content.quality import assess, measure_loudness, probe_media
from shared.steps import output


def run(ctx: StepContext, c: Container) -> StepOutput:
    job = ctx.job
    with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
        video = c.blobs.download_to(output(job, "render", "video_uri"), Path(tmp) / "video.mp4")
        probe = probe_media(video)
        loudness = measure_loudness(video)
    report = assess(
        probe,
        narration_duration_s=float(output(job, "voice", "duration_s")),
        script_words=int(output(job, "script", "word_count")),
        loudness_lufs=loudness,
        settings=c.settings,
    )
    if not report.passed:
        raise Regenerate(report.feedback or "; ".join(report.reasons))
    return StepOutput(
        outputs={"score": round(report.score, 3), "checks": report.checks}, provider="ffmpeg-probe"
    )
