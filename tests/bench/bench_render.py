"""Benchmark of the render: N seconds from 8 stills with motion, captions and a narration.

    python tests/bench/bench_render.py [--seconds 60] [--preset veryfast] [--width 1280 --height 720]

Prints wall time, realtime factor (video seconds per wall second) and the peak resident memory of the
ffmpeg child. No asserts: figures, not a test.
"""

from __future__ import annotations

import argparse
import array
import math
import random
import resource
import sys
import tempfile
import time
import wave
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from shared.config import Settings
from shared.content.render import RenderInputs, captions_from_narration, render_video

_WORD_POOL = (
    "octopus ocean tide coral reef current shell hunter colour camouflage arm sucker brain nerve "
    "predator shadow crevice ink jet escape puzzle clever curious night water blue deep light"
)
WORDS = _WORD_POOL.split()


def make_stills(folder: Path, count: int, rng: random.Random) -> list[Path]:
    paths = []
    for i in range(count):
        image = Image.new("RGB", (1920, 1080))
        draw = ImageDraw.Draw(image)
        base = [rng.randrange(256) for _ in range(3)]
        for y in range(0, 1080, 6):
            draw.rectangle([0, y, 1920, y + 6], fill=tuple((c + y // 8) % 256 for c in base))
        for _ in range(120):
            x, y, r = rng.randrange(1920), rng.randrange(1080), rng.randrange(8, 140)
            draw.ellipse([x, y, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
        path = folder / f"still-{i}.jpg"
        image.filter(ImageFilter.GaussianBlur(1.2)).save(path, quality=88)
        paths.append(path)
    return paths


def make_narration(path: Path, seconds: float, rate: int = 24000) -> Path:
    # One second of a 440 Hz tone with a 3 Hz tremolo (a whole number of cycles), repeated.
    second = array.array(
        "h",
        (
            int(
                9000
                * (0.6 + 0.4 * math.sin(2 * math.pi * 3 * n / rate))
                * math.sin(2 * math.pi * 440 * n / rate)
            )
            for n in range(rate)
        ),
    )
    whole, rest = divmod(round(seconds * rate), rate)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        for _ in range(whole):
            wav.writeframes(second.tobytes())
        wav.writeframes(second[:rest].tobytes())
    return path


def make_script(seconds: float, rng: random.Random, words_per_minute: int) -> str:
    sentences, words = [], round(seconds * words_per_minute / 60)
    while words > 0:
        n = min(words, rng.randint(6, 16))
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return " ".join(sentences)


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--stills", type=int, default=8)
    parser.add_argument("--width", type=int, default=settings.video_width)
    parser.add_argument("--height", type=int, default=settings.video_height)
    parser.add_argument("--fps", type=int, default=settings.video_fps)
    parser.add_argument("--preset", default=settings.x264_preset)
    parser.add_argument("--keep", type=Path, help="copy the rendered video here")
    args = parser.parse_args(argv)

    rng = random.Random(20260101)
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        folder = Path(tmp)
        stills = make_stills(folder, args.stills, rng)
        narration = make_narration(folder / "narration.wav", args.seconds)
        script = make_script(args.seconds, rng, settings.words_per_minute)
        captions = captions_from_narration(script, args.seconds)
        out = args.keep or folder / "bench.mp4"

        started = time.perf_counter()
        result = render_video(
            RenderInputs(stills=stills, narration_wav=narration, captions=captions),
            out,
            width=args.width,
            height=args.height,
            fps=args.fps,
            preset=args.preset,
            timeout_s=max(600.0, args.seconds * 10),
        )
        wall_s = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux

    kbps = result.size_bytes * 8 / result.duration_s / 1e3
    print(f"video            {result.duration_s:.2f} s {args.width}x{args.height}@{args.fps} {args.preset}")
    print(f"stills/captions  {len(stills)} stills, {len(captions)} captions")
    print(f"wall time        {wall_s:.2f} s (ffmpeg command {result.command_seconds:.2f} s)")
    print(f"realtime factor  {result.duration_s / wall_s:.2f}x")
    print(f"peak ffmpeg RSS  {peak_kib / 1024:.0f} MiB")
    print(f"output           {result.size_bytes / 1e6:.2f} MB ({kbps:.0f} kb/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
