"""Quality gate of a rendered video: probe it, measure its loudness, score it against the settings, and
explain a failure in words the script step's improve_script prompt can act on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.config import Settings
from shared.content.ffmpeg import MediaProbe, parse_probe, probe_media, run_ffmpeg, tail_text
from shared.ports import ProviderError

__all__ = ["MediaProbe", "QualityReport", "assess", "measure_loudness", "parse_probe", "probe_media"]

CHECKS = ("duration", "resolution", "audio", "codecs", "script")

_INTEGRATED = re.compile(r"\bI:\s+(-?(?:\d+(?:\.\d+)?|inf))\s+LUFS")
_NO_AUDIO = ("matches no streams", "does not contain any stream", "Output file is empty")


@dataclass(frozen=True)
class QualityReport:
    score: float  # 0..1
    checks: dict[str, bool | float]
    passed: bool
    reasons: list[str]
    feedback: str


def measure_loudness(path: Path, *, timeout_s: float = 300.0) -> float | None:
    """Integrated loudness (EBU R128, LUFS) of the first audio stream; None when there is none.
    Only the audio is decoded. Digital silence measures about -70 LUFS."""
    path = Path(path)
    if not path.is_file():
        raise ProviderError(f"no media file at {path}", transient=False, provider="ffmpeg", reason="missing")
    run = run_ffmpeg(
        [
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a:0?",
            "-vn",
            "-sn",
            "-dn",
            "-af",
            "ebur128=framelog=quiet",
            "-f",
            "null",
            "-",
        ],
        timeout_s=timeout_s,
        check=False,
    )
    found = _INTEGRATED.findall(run.stderr_tail)
    if found:
        return float(found[-1])  # the summary comes last; "-inf" parses to float("-inf")
    if any(marker in run.stderr_tail for marker in _NO_AUDIO):
        return None
    if run.returncode == 0:
        return None  # decoded fine but nothing to measure (no audio frames)
    raise ProviderError(
        f"ffmpeg cannot measure the loudness of {path.name}: {tail_text(run.stderr_tail)}",
        transient=run.returncode < 0,
        provider="ffmpeg",
        reason="unreadable",
    )


def assess(
    probe: MediaProbe,
    *,
    narration_duration_s: float,
    script_words: int,
    loudness_lufs: float | None,
    settings: Settings,
) -> QualityReport:
    """Score = the weighted mean (settings.quality_weights) of each check's sub-score in 0..1. A failed
    check named in settings.quality_required_checks scales the score by the threshold, so it lands below
    the pass mark while a video with more failures still scores lower. passed = score >= threshold."""
    sub: dict[str, float] = {}
    ok: dict[str, bool] = {}
    reasons: list[str] = []
    metrics: dict[str, float] = {}

    # Duration: the video must carry the whole narration and little else.
    tolerance = settings.quality_duration_tolerance
    if narration_duration_s > 0:
        error = abs(probe.duration_s - narration_duration_s) / narration_duration_s
    else:
        error = 0.0 if probe.duration_s > 0 else 1.0
    metrics["duration_s"] = probe.duration_s
    metrics["duration_error"] = round(error, 4)
    ok["duration"] = error <= tolerance
    sub["duration"] = 1.0 if ok["duration"] else max(0.0, 1.0 - error)
    if not ok["duration"]:
        reasons.append(
            f"duration {probe.duration_s:.2f} s is {error:.1%} away from the narration's "
            f"{narration_duration_s:.2f} s (tolerance {tolerance:.0%})"
        )

    want_w, want_h = settings.video_width, settings.video_height
    ok["resolution"] = (probe.width, probe.height) == (want_w, want_h)
    sub["resolution"] = float(ok["resolution"])
    if not ok["resolution"]:
        reasons.append(f"resolution {probe.width}x{probe.height}, need {want_w}x{want_h}")

    floor = settings.quality_min_loudness_lufs
    if loudness_lufs is not None:
        metrics["loudness_lufs"] = loudness_lufs
    if not probe.has_audio:
        ok["audio"] = False
        reasons.append("no audio track")
    elif loudness_lufs is not None and loudness_lufs < floor:
        ok["audio"] = False
        reasons.append(f"audio is silent: {loudness_lufs:.1f} LUFS, need ≥ {floor:.1f}")
    else:
        ok["audio"] = True
    sub["audio"] = float(ok["audio"])

    codec_faults = []
    if probe.video_codec != "h264":
        codec_faults.append(f"video codec {probe.video_codec or 'missing'}, need h264")
    if probe.audio_codec != "aac":
        codec_faults.append(f"audio codec {probe.audio_codec or 'missing'}, need aac")
    ok["codecs"] = not codec_faults
    sub["codecs"] = 1.0 - 0.5 * len(codec_faults)
    reasons += codec_faults

    min_words = settings.quality_min_script_words
    metrics["script_words"] = float(script_words)
    ok["script"] = script_words >= min_words
    sub["script"] = min(1.0, script_words / min_words) if min_words > 0 else 1.0
    if not ok["script"]:
        reasons.append(f"script too short: {script_words} words, need ≥ {min_words}")

    weights = {name: max(0.0, settings.quality_weights.get(name, 0.0)) for name in CHECKS}
    total = sum(weights.values()) or 1.0
    score = sum(weights[name] * sub[name] for name in CHECKS) / total
    required_failed = [name for name in CHECKS if name in settings.quality_required_checks and not ok[name]]
    if required_failed:
        score *= settings.quality_threshold
    score = round(min(1.0, max(0.0, score)), 4)
    passed = score >= settings.quality_threshold

    checks: dict[str, bool | float] = {**ok, **metrics}
    return QualityReport(
        score=score,
        checks=checks,
        passed=passed,
        reasons=reasons,
        feedback=_feedback(passed, score, settings.quality_threshold, reasons),
    )


def _feedback(passed: bool, score: float, threshold: float, reasons: list[str]) -> str:
    if passed and not reasons:
        return f"quality score {score:.2f}: all checks passed"
    verdict = "passed" if passed else f"below the {threshold:.2f} threshold"
    return f"quality score {score:.2f} {verdict}: " + "; ".join(reasons)
