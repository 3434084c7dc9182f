"""The ffmpeg binary shipped by imageio-ffmpeg: a runner with a timeout and a bounded stderr tail, and a
media probe that parses `ffmpeg -i` (the static build has no ffprobe)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shared.ports import ProviderError

PROVIDER = "ffmpeg"
# How much of ffmpeg's stderr is kept for parsing and error messages; the rest goes to a temp file
# so a long run's log never sits in memory.
STDERR_TAIL_BYTES = 64 * 1024
ERROR_TAIL_CHARS = 1500

_ADDRESS = re.compile(r" @ 0x[0-9a-f]+")  # "[mjpeg @ 0x55f6...]": noise in an error message
# Failures worth retrying later (besides a kill by a signal: OOM, preemption): out of memory or disk.
_TRANSIENT_MARKERS = ("Cannot allocate memory", "No space left on device", "Resource temporarily unavailable")


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # only the steps that run ffmpeg pay for this import

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class FFmpegRun:
    returncode: int
    stderr_tail: str
    seconds: float
    peak_rss_bytes: int = 0  # the ffmpeg child's own peak resident memory (its wait4 ru_maxrss)


# ffmpeg is started by a minimal interpreter (no site, no environment) that forks it and reports its
# wait4 rusage. A child forked straight from this process would report this process's peak memory as its
# own: Linux carries the pre-exec high-water mark into the child's ru_maxrss (a 450 MB test process made
# every ffmpeg look 450 MB). The launcher's own ~10 MB is all that is carried over this way.
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # ffmpeg's stdout is not the report's
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(1, json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]).encode())
"""


def run_ffmpeg(
    args: list[str], *, timeout_s: float, cwd: Path | None = None, check: bool = True
) -> FFmpegRun:
    """Run `ffmpeg <args>` (stdin closed, banner hidden). With `check`, a non-zero exit or a timeout
    raises ProviderError carrying the tail of stderr; `transient` is True for timeouts, signals and
    resource exhaustion, False otherwise (bad input does not get better by retrying).

    The run reports the ffmpeg child's own peak memory (its ru_maxrss, from wait4 in the launcher)."""
    cmd = [sys.executable, "-S", "-E", "-c", _LAUNCHER, ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=cwd,
            start_new_session=True,  # a timeout or an interrupt stops the launcher and ffmpeg together
        )
        try:
            report, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ProviderError(
                f"ffmpeg timed out after {timeout_s:g} s: {tail_text(_tail(err))}",
                transient=True,
                provider=PROVIDER,
                reason="timeout",
            ) from None
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): never leave ffmpeg running behind us
            _kill_group(proc)
            raise
        seconds = time.monotonic() - started
        tail = _tail(err)
    try:
        returncode, maxrss_kib = json.loads(report)
    except ValueError:  # the launcher itself died (killed from outside)
        returncode, maxrss_kib = (proc.returncode if proc.returncode < 0 else -9), 0
    if check and returncode != 0:
        transient = returncode < 0 or any(m in tail for m in _TRANSIENT_MARKERS)
        raise ProviderError(
            f"ffmpeg failed (exit {returncode}): {tail_text(tail)}",
            transient=transient,
            provider=PROVIDER,
            reason="signal" if returncode < 0 else "exit_status",
        )
    return FFmpegRun(
        returncode=returncode, stderr_tail=tail, seconds=seconds, peak_rss_bytes=maxrss_kib * 1024
    )


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(stream) -> str:
    size = stream.seek(0, 2)
    stream.seek(max(0, size - STDERR_TAIL_BYTES))
    return stream.read().decode("utf-8", errors="replace")


def tail_text(tail: str) -> str:
    """ffmpeg's stderr as one line for an error message: addresses dropped, repeats removed, and when too
    long the beginning (usually the root cause) and the end (the final verdict) kept."""
    lines: list[str] = []
    for raw in tail.splitlines():
        line = _ADDRESS.sub("", raw).strip()
        if line and line not in lines:
            lines.append(line)
    text = " | ".join(lines) or "(no output)"
    if len(text) <= ERROR_TAIL_CHARS:
        return text
    head = ERROR_TAIL_CHARS * 2 // 3
    return text[:head] + " ... " + text[-(ERROR_TAIL_CHARS - head) :]


# --- probe ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaProbe:
    duration_s: float
    video_codec: str | None
    width: int
    height: int
    fps: float
    audio_codec: str | None
    has_audio: bool


_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_STREAM = re.compile(r"Stream #\d+:\d+.*?: (Video|Audio): ([A-Za-z0-9_]+)(.*)")
_SIZE = re.compile(r", (\d{2,5})x(\d{2,5})\b")
_FPS = re.compile(r", (\d+(?:\.\d+)?)(k?) (?:fps|tbr)\b")


def probe_media(path: Path, *, timeout_s: float = 60.0) -> MediaProbe:
    """Duration, first video stream (codec, size, frame rate) and first audio stream of a media file.

    Raises ProviderError (not transient) when the file is missing or ffmpeg cannot read it."""
    path = Path(path)
    if not path.is_file():
        raise ProviderError(f"no media file at {path}", transient=False, provider=PROVIDER, reason="missing")
    # Without an output ffmpeg exits 1 after printing the input's description; that is the probe.
    run = run_ffmpeg(["-i", str(path)], timeout_s=timeout_s, check=False)
    if run.returncode < 0:
        raise ProviderError(
            f"ffmpeg probe of {path.name} was killed: {tail_text(run.stderr_tail)}",
            transient=True,
            provider=PROVIDER,
            reason="signal",
        )
    probe = parse_probe(run.stderr_tail)
    if probe is None:
        raise ProviderError(
            f"ffmpeg cannot read {path.name}: {tail_text(run.stderr_tail)}",
            transient=False,
            provider=PROVIDER,
            reason="unreadable",
        )
    return probe


def parse_probe(stderr: str) -> MediaProbe | None:
    """MediaProbe from the text `ffmpeg -i FILE` prints, or None when it describes no readable input."""
    if "Input #0" not in stderr:
        return None
    duration_s = 0.0
    if m := _DURATION.search(stderr):
        duration_s = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    video_codec = audio_codec = None
    width = height = 0
    fps = 0.0
    for line in stderr.splitlines():
        m = _STREAM.search(line)
        if not m:
            continue
        kind, codec, rest = m[1], m[2], m[3]
        if kind == "Video" and video_codec is None and "(attached pic)" not in rest:
            video_codec = codec
            if size := _SIZE.search(rest):
                width, height = int(size[1]), int(size[2])
            if rate := _FPS.search(rest):
                fps = float(rate[1]) * (1000 if rate[2] else 1)
        elif kind == "Audio" and audio_codec is None:
            audio_codec = codec
    if video_codec is None and audio_codec is None:
        return None
    return MediaProbe(
        duration_s=duration_s,
        video_codec=video_codec,
        width=width,
        height=height,
        fps=fps,
        audio_codec=audio_codec,
        has_audio=audio_codec is not None,
    )
