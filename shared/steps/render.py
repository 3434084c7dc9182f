"""Step `render`: stills with motion + narration + burned-in captions → H.264/AAC MP4, one ffmpeg graph
(720p at 24 fps by default; video_width/video_height 1920x1080 for 1080p)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from shared.bootstrap import Container
from shared.chain.jobs import StepOutput
from shared.chain.runner import StepContext
from shared.content.render import RenderInputs, RenderOptions, captions_from_narration, render_video
from shared.steps import artefact_path, load_json, output


def run(ctx: StepContext, c: Container) -> StepOutput:
    s = c.settings
    job = ctx.job
    script = load_json(c.blobs, output(job, "script", "script_uri"))
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        work = Path(tmp)
        narration = c.blobs.download_to(output(job, "voice", "narration_uri"), work / "narration.wav")
        stills = [
            c.blobs.download_to(uri, work / f"still-{i:02d}.jpg")
            for i, uri in enumerate(output(job, "media", "still_uris"))
        ]
        duration_s = float(output(job, "voice", "duration_s"))
        music = c.blobs.download_to(s.render_music_uri, work / "music") if s.render_music_uri else None
        inputs = RenderInputs(
            stills=stills,
            narration_wav=narration,
            captions=captions_from_narration(script["narration"], duration_s),
            music=music,
        )
        result = render_video(inputs, work / "video.mp4", RenderOptions.from_settings(s))
        uri = c.blobs.put_file(artefact_path(job, "video.mp4"), work / "video.mp4", "video/mp4")
    return StepOutput(
        outputs={
            "video_uri": uri,
            "duration_s": round(result.duration_s, 3),
            "size_bytes": result.size_bytes,
            "render_s": round(result.command_seconds, 2),
            "ffmpeg_peak_mb": round(result.peak_rss_bytes / 2**20),
            "frames": result.frames,
        },
        provider="ffmpeg",
    )
