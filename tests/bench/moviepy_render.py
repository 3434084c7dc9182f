"""The comparison side of bench_render.py: MoviePy (what MoneyPrinterTurbo and ShortGPT render with) composing
the same inputs the same way — stills scaled to the frame plus the motion margin and panned across it,
captions as text clips over the bottom, the narration as audio — and writing H.264/AAC with the same
preset and frame rate. Runs in .venv-bench (MoviePy is never a dependency of the project).

    .venv-bench/bin/python tests/bench/moviepy_render.py job.json

job.json: {"stills": [...], "counts": [...], "fps", "width", "height", "preset", "narration", "out",
"captions": [[start_s, end_s, text], ...], "font"}. Prints JSON: wall seconds, peak RSS of this process and
of its own process.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip, concatenate_videoclips

MOTION_MARGIN = 0.10
PANS = ((1, 0.5), (-1, 0.5), (1, 1), (-1, -1))  # x direction, y (0.5 = centred) as in shared.content.render


def main() -> int:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    fps, width, height = job["fps"], job["width"], job["height"]
    mw, mh = round(width * (1 + MOTION_MARGIN) / 2) * 2, round(height * (1 + MOTION_MARGIN) / 2) * 2
    started = time.perf_counter()
    segments = []
    for i, (path, count) in enumerate(zip(job["stills"], job["counts"], strict=True)):
        duration = count / fps
        still = ImageClip(path)
        scale = max(mw / still.w, mh / still.h)
        still = still.resized(scale).cropped(
            x_center=still.w * scale / 2, y_center=still.h * scale / 2, width=mw, height=mh
        )
        dx, dy = PANS[i % len(PANS)]

        def position(
            t: float, dx: int = dx, dy: float = dy, duration: float = duration
        ) -> tuple[float, float]:
            p = min(1.0, t / max(duration, 1e-6))
            x = -(mw - width) * (p if dx > 0 else 1 - p)
            y = -(mh - height) / 2 if dy == 0.5 else -(mh - height) * (p if dy > 0 else 1 - p)
            return x, y

        moving = still.with_duration(duration).with_position(position)
        segments.append(CompositeVideoClip([moving], size=(width, height)).with_duration(duration))
    video = concatenate_videoclips(segments)
    font_px = round(height * 0.06)
    captions = [
        TextClip(
            font=job["font"],
            text=text,
            font_size=font_px,
            color="white",
            stroke_color="black",
            stroke_width=max(2, round(height / 240)),
        )
        .with_start(start)
        .with_duration(end - start)
        .with_position(("center", height - round(height * 0.06) - round(font_px * 1.6)))
        for start, end, text in job["captions"]
    ]
    final = CompositeVideoClip([video, *captions], size=(width, height)).with_audio(
        AudioFileClip(job["narration"])
    )
    final.write_videofile(
        job["out"],
        fps=fps,
        codec="libx264",
        preset=job["preset"],
        audio_codec="aac",
        audio_fps=48000,
        threads=2,
        logger=None,
    )
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"wall_s": wall, "peak_rss_bytes": own}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
