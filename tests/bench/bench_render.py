"""Benchmark of the render, next to MoviePy composing the same inputs in the same run.

    python tests/bench/bench_render.py [--seconds 60 600] [--stills 8] [--no-moviepy]
                                       [--preset ultrafast --fps 24 --width 1280 --height 720]

For each length: 8 stills with a slow pan, a narration and burned-in captions, rendered by our ffmpeg
graph (shared.content.render) and by MoviePy (tests/bench/moviepy_render.py, in .venv-bench, created by
`make bench`) with the same frame size, frame rate and x264 preset. Prints wall time, realtime factor
(video seconds per wall second), CPU seconds, peak resident memory (ours: the ffmpeg child's own
ru_maxrss; MoviePy: its Python process's, and the sum with its ffmpeg writer sampled every 0.25 s), and
the ratio. No asserts: figures, not a test. The load average is printed too: figures taken while other
work shares the cores are pessimistic.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from shared.config import Settings
from shared.content.render import (
    CAPTION_FONTS,
    RenderInputs,
    RenderOptions,
    captions_from_narration,
    frame_counts,
    render_video,
)

REPO = Path(__file__).resolve().parents[2]
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
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


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(inputs: RenderInputs, out: Path, options: RenderOptions) -> dict:
    cpu0, started = _cpu_children(), time.perf_counter()
    result = render_video(inputs, out, options)
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "cpu_s": _cpu_children() - cpu0,
        "peak_mb": result.peak_rss_bytes / 2**20,
        "duration_s": result.duration_s,
        "size_mb": result.size_bytes / 1e6,
    }


def run_moviepy(inputs: RenderInputs, options: RenderOptions, folder: Path, seconds: float) -> dict | None:
    if not BENCH_PYTHON.exists():
        return None
    counts = frame_counts(max(1, round(seconds * options.fps)), len(inputs.stills))
    job = {
        "stills": [str(p) for p in inputs.stills],
        "counts": counts,
        "fps": options.fps,
        "width": options.width,
        "height": options.height,
        "preset": options.preset,
        "narration": str(inputs.narration_wav),
        "out": str(folder / "moviepy.mp4"),
        "captions": [[c.start_s, c.end_s, c.text] for c in inputs.captions],
        "font": next(p for p in CAPTION_FONTS if Path(p).is_file()),
    }
    job_path = folder / "moviepy-job.json"
    job_path.write_text(json.dumps(job))
    cpu0, started = _cpu_children(), time.perf_counter()
    proc = subprocess.Popen(
        [str(BENCH_PYTHON), str(Path(__file__).with_name("moviepy_render.py")), str(job_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak_tree = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, _tree_rss(proc.pid))
        time.sleep(0.25)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(f"MoviePy failed: {stderr[-800:]}", file=sys.stderr)
        return None
    report = json.loads(stdout.strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "cpu_s": _cpu_children() - cpu0,
        "peak_mb": report["peak_rss_bytes"] / 2**20,
        "tree_peak_mb": peak_tree / 2**20,
    }


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children now (MoviePy's Python and its ffmpeg writer). Their
    own ru_maxrss would not do: a child's carries its parent's memory at the time of the fork."""
    total = 0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--stills", type=int, default=8)
    parser.add_argument("--width", type=int, default=settings.video_width)
    parser.add_argument("--height", type=int, default=settings.video_height)
    parser.add_argument("--fps", type=int, default=settings.video_fps)
    parser.add_argument("--preset", default=settings.x264_preset)
    parser.add_argument("--no-moviepy", action="store_true", help="only our render")
    parser.add_argument("--keep", type=Path, help="copy our rendered videos into this folder")
    args = parser.parse_args(argv)
    options = RenderOptions.from_settings(
        settings, width=args.width, height=args.height, fps=args.fps, preset=args.preset, timeout_s=7200
    )
    print(
        f"settings: {args.width}x{args.height}@{args.fps} x264 {args.preset}, {args.stills} stills; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"
    )
    if not args.no_moviepy and not BENCH_PYTHON.exists():
        print("(no .venv-bench: `make bench` creates it; MoviePy is skipped)")
    rng = random.Random(20260101)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        folder = Path(tmp)
        stills = make_stills(folder, args.stills, rng)
        for seconds in args.seconds:
            narration = make_narration(folder / f"narration-{seconds:g}.wav", seconds)
            captions = captions_from_narration(make_script(seconds, rng, settings.words_per_minute), seconds)
            inputs = RenderInputs(stills=stills, narration_wav=narration, captions=captions)
            out = (args.keep or folder) / f"ours-{seconds:g}.mp4"
            ours = run_ours(inputs, out, options)
            theirs = None if args.no_moviepy else run_moviepy(inputs, options, folder, seconds)
            rows.append((seconds, len(captions), ours, theirs))
            _print_row(seconds, len(captions), ours, theirs)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def _print_row(seconds: float, captions: int, ours: dict, theirs: dict | None) -> None:
    print(f"\n{seconds:g} s of video, {captions} captions")
    print(
        f"  ffmpeg graph  wall {ours['wall_s']:7.1f} s  realtime {seconds / ours['wall_s']:6.2f}x  "
        f"cpu {ours['cpu_s']:7.1f} s  peak ffmpeg RSS {ours['peak_mb']:5.0f} MiB  "
        f"output {ours['size_mb']:.1f} MB"
    )
    if theirs is None:
        return
    print(
        f"  MoviePy       wall {theirs['wall_s']:7.1f} s  realtime {seconds / theirs['wall_s']:6.2f}x  "
        f"cpu {theirs['cpu_s']:7.1f} s  peak RSS python {theirs['peak_mb']:5.0f} MiB, "
        f"with its ffmpeg {theirs['tree_peak_mb']:4.0f} MiB"
    )
    print(
        f"  ratio         {theirs['wall_s'] / ours['wall_s']:.1f}x faster than MoviePy "
        f"(CPU time: {theirs['cpu_s'] / ours['cpu_s']:.1f}x less)"
    )


if __name__ == "__main__":
    sys.exit(main())
