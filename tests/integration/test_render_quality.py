"""Render with the real ffmpeg binary, then probe, measure and assess what came out."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from shared.config import Settings
from shared.content.ffmpeg import run_ffmpeg
from shared.content.quality import assess, measure_loudness, probe_media
from shared.content.render import (
    RenderInputs,
    RenderOptions,
    RenderResult,
    captions_from_narration,
    render_video,
)
from shared.ports import ProviderError

pytestmark = pytest.mark.integration

SETTINGS = Settings()
NARRATION_S = 6.0
SCRIPT = (
    "Octopuses have three hearts and blue blood. They taste with their arms and change colour in an "
    "instant. Some species use tools, others mimic fish and snakes to fool predators that hunt them. "
    "Their brains are spread through the body, so each arm can act on its own."
)
SCRIPT_WORDS = len(SCRIPT.split())  # 48, above the default minimum of 40
COLOURS = ((30, 60, 140), (120, 40, 40), (30, 110, 60))


def write_tone(
    path: Path, seconds: float, *, hz: float = 440.0, amplitude: int = 8000, rate: int = 24000
) -> Path:
    frames = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * n / rate)))
        for n in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path


def write_still(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> Path:
    # Vertical stripes make a horizontal pan visible; no stripe is anywhere near white.
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 80):
        draw.rectangle([x, 0, x + 30, size[1]], fill=tuple(min(255, c + 60) for c in colour))
    image.save(path, quality=90)
    return path


def render(
    tmp: Path,
    name: str,
    seconds: float,
    *,
    stills: list[Path] | None = None,
    captions: list | None = None,
    music: Path | None = None,
    amplitude: int = 8000,
    width: int = SETTINGS.video_width,
    height: int = SETTINGS.video_height,
    timeout_s: float = 120,
) -> tuple[Path, RenderResult]:
    inputs = RenderInputs(
        stills=stills or [tmp / "still-0.jpg"],
        narration_wav=write_tone(tmp / f"{name}.wav", seconds, amplitude=amplitude),
        captions=captions or [],
        music=music,
    )
    out = tmp / f"{name}.mp4"
    options = RenderOptions.from_settings(SETTINGS, width=width, height=height, timeout_s=timeout_s)
    result = render_video(inputs, out, options)
    return out, result


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("media")
    # Three shapes of still: 16:9, 4:3 and portrait all have to fill the frame.
    for i, size in enumerate([(1920, 1080), (1024, 768), (720, 1280)]):
        write_still(tmp / f"still-{i}.jpg", COLOURS[i], size)
    return tmp


@pytest.fixture(scope="module")
def rendered(media) -> tuple[Path, RenderResult]:
    stills = [media / f"still-{i}.jpg" for i in range(3)]
    captions = captions_from_narration(SCRIPT, NARRATION_S)
    return render(media, "main", NARRATION_S, stills=stills, captions=captions)


def frame(video: Path, at_s: float) -> Image.Image:
    png = video.with_name(f"{video.stem}-{at_s:.2f}.png")
    run_ffmpeg(
        ["-y", "-loglevel", "error", "-ss", f"{at_s}", "-i", str(video), "-frames:v", "1", str(png)],
        timeout_s=30,
    )
    return Image.open(png).convert("RGB")


def test_render_is_h264_aac_at_frame_size_lasting_the_narration(rendered):
    video, result = rendered
    probe = probe_media(video)
    assert (probe.video_codec, probe.audio_codec) == ("h264", "aac")
    assert (probe.width, probe.height) == (1280, 720)
    assert probe.fps == SETTINGS.video_fps == 24
    assert probe.duration_s == pytest.approx(NARRATION_S, rel=0.02)
    assert result.duration_s == pytest.approx(NARRATION_S, rel=0.02)
    assert result.size_bytes == video.stat().st_size > 0
    assert not video.with_name(video.name + ".partial").exists()


def test_rendered_audio_is_the_narration_not_silence(rendered):
    loudness = measure_loudness(rendered[0])
    assert loudness is not None
    assert loudness > SETTINGS.quality_min_loudness_lufs


def test_each_still_gets_its_share_and_moves(rendered):
    video, _ = rendered
    # Three stills over 6 s: 0-2 s blue, 2-4 s red, 4-6 s green.
    for at_s, colour in ((1.0, COLOURS[0]), (3.0, COLOURS[1]), (5.0, COLOURS[2])):
        mean = ImageStat.Stat(frame(video, at_s).crop((0, 0, 1280, 400))).mean
        assert max(range(3), key=lambda c: mean[c]) == max(range(3), key=lambda c: colour[c])
    early, late = frame(video, 0.1), frame(video, 1.8)
    band = (0, 100, 1280, 300)  # above the captions
    difference = ImageStat.Stat(ImageChops.difference(early.crop(band), late.crop(band))).mean
    assert sum(difference) > 10  # the stripes have slid: a pan, not a frozen still


def test_captions_are_burned_in_at_the_bottom(rendered):
    image = frame(rendered[0], 1.0).convert("L")
    bottom = image.crop((200, 600, 1080, 700))
    top = image.crop((200, 20, 1080, 120))
    assert bottom.getextrema()[1] > 230  # white caption type
    assert top.getextrema()[1] < 200  # stills are darker than that


def test_a_good_render_passes_quality(rendered):
    video, _ = rendered
    report = assess(
        probe_media(video),
        narration_duration_s=NARRATION_S,
        script_words=SCRIPT_WORDS,
        loudness_lufs=measure_loudness(video),
        settings=SETTINGS,
    )
    assert report.passed, report.feedback
    assert report.score == 1.0
    assert report.reasons == []
    assert all(
        report.checks[name] is True for name in ("duration", "resolution", "audio", "codecs", "script")
    )


def test_a_video_without_audio_fails_quality(rendered, media):
    silent = media / "no-audio.mp4"
    run_ffmpeg(
        ["-y", "-loglevel", "error", "-i", str(rendered[0]), "-an", "-c:v", "copy", str(silent)], timeout_s=30
    )
    probe = probe_media(silent)
    assert probe.has_audio is False
    loudness = measure_loudness(silent)
    assert loudness is None
    report = assess(
        probe,
        narration_duration_s=NARRATION_S,
        script_words=SCRIPT_WORDS,
        loudness_lufs=loudness,
        settings=SETTINGS,
    )
    assert not report.passed
    assert report.score < SETTINGS.quality_threshold
    assert report.checks["audio"] is False
    assert "no audio track" in report.reasons
    assert "audio codec missing, need aac" in report.feedback


def test_a_silent_narration_fails_quality(media):
    video, _ = render(media, "silent", 1.5, amplitude=0)
    loudness = measure_loudness(video)
    assert loudness is not None and loudness < SETTINGS.quality_min_loudness_lufs
    report = assess(
        probe_media(video),
        narration_duration_s=1.5,
        script_words=SCRIPT_WORDS,
        loudness_lufs=loudness,
        settings=SETTINGS,
    )
    assert not report.passed
    assert any(reason.startswith("audio is silent") for reason in report.reasons)


def test_a_wrong_resolution_fails_quality(media):
    video, _ = render(media, "small", 2.0, width=640, height=360)
    probe = probe_media(video)
    assert (probe.width, probe.height) == (640, 360)
    report = assess(
        probe,
        narration_duration_s=2.0,
        script_words=SCRIPT_WORDS,
        loudness_lufs=measure_loudness(video),
        settings=SETTINGS,
    )
    assert not report.passed
    assert report.reasons == ["resolution 640x360, need 1280x720"]


def test_a_too_short_script_fails_quality_with_feedback_for_the_rewrite(rendered):
    video, _ = rendered
    report = assess(
        probe_media(video),
        narration_duration_s=NARRATION_S,
        script_words=25,
        loudness_lufs=measure_loudness(video),
        settings=SETTINGS,
    )
    assert not report.passed
    assert report.checks["script"] is False
    assert "script too short: 25 words, need ≥ 40" in report.feedback


def test_a_duration_far_from_the_narration_fails_quality(rendered):
    report = assess(
        probe_media(rendered[0]),
        narration_duration_s=NARRATION_S * 2,
        script_words=SCRIPT_WORDS,
        loudness_lufs=-16.0,
        settings=SETTINGS,
    )
    assert not report.passed
    assert report.reasons[0].startswith("duration 6.00 s is 50.0% away from the narration's 12.00 s")


def test_an_optional_check_only_lowers_the_score(rendered):
    relaxed = Settings(quality_required_checks=["duration", "resolution", "audio", "codecs"])
    report = assess(
        probe_media(rendered[0]),
        narration_duration_s=NARRATION_S,
        script_words=30,
        loudness_lufs=-16.0,
        settings=relaxed,
    )
    assert report.passed
    assert report.score == pytest.approx(1 - 0.2 * (1 - 30 / 40))
    assert report.reasons == ["script too short: 30 words, need ≥ 40"]


def test_music_is_mixed_under_the_narration(media):
    music = write_tone(media / "music.wav", 0.7, hz=220.0)  # shorter than the video: it loops
    video, result = render(media, "music", 2.0, music=music)
    probe = probe_media(video)
    assert probe.audio_codec == "aac"
    assert result.duration_s == pytest.approx(2.0, rel=0.02)
    assert measure_loudness(video) > SETTINGS.quality_min_loudness_lufs


def test_a_corrupt_still_raises_provider_error_with_ffmpeg_reason(media):
    broken = media / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 50)
    with pytest.raises(ProviderError) as caught:
        render(media, "broken", 1.0, stills=[broken])
    assert caught.value.provider == "ffmpeg"
    assert caught.value.transient is False
    assert caught.value.reason == "bad_still"
    assert "render of broken.mp4 failed: still 0 (broken.jpg) is not a readable image" in str(caught.value)
    assert not (media / "broken.mp4").exists()
    assert not (media / "broken.mp4.partial").exists()


def test_a_corrupt_media_file_cannot_be_probed(media):
    garbage = media / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01 not a movie" * 100)
    with pytest.raises(ProviderError, match=r"cannot read garbage\.mp4") as caught:
        probe_media(garbage)
    assert caught.value.transient is False
    with pytest.raises(ProviderError):
        measure_loudness(garbage)


def test_a_render_past_its_timeout_is_a_transient_error(media):
    with pytest.raises(ProviderError, match="timed out") as caught:
        render(media, "slow", 5.0, timeout_s=0.05)
    assert caught.value.transient is True
    assert not (media / "slow.mp4").exists()


def write_long_tone(path: Path, seconds: int, rate: int = 16000) -> Path:
    """`seconds` of a 440 Hz tone, one second computed and repeated (fast for long narrations)."""
    second = b"".join(
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(rate)
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        for _ in range(seconds):
            wav.writeframes(second)
    return path


MEMORY_LIMIT_BYTES = 350 * 1024 * 1024


def test_a_10_minute_script_renders_within_bounded_memory(media, tmp_path):
    """Ten minutes of narration, ~1,500 words of captions, eight stills: the ffmpeg child's own peak
    memory (wait4's ru_maxrss, not the test process's children in general) stays under 350 MB. The
    fastest settings keep the test short; speed is the benchmark's business, memory is not a function
    of the frame rate or preset here but of what the graph holds."""
    words = (SCRIPT + " ") * 32  # ~1,540 words: 10 minutes at 150 wpm
    stills = [media / f"still-{i % 3}.jpg" for i in range(8)]
    inputs = RenderInputs(
        stills=stills,
        narration_wav=write_long_tone(tmp_path / "long.wav", 600),
        captions=captions_from_narration(words, 600.0),
    )
    assert len(inputs.captions) > 200
    options = RenderOptions.from_settings(SETTINGS, fps=6, preset="ultrafast", timeout_s=600)
    result = render_video(inputs, tmp_path / "long.mp4", options)
    assert result.duration_s == pytest.approx(600, abs=0.5)
    assert result.frames == 3600
    print(f"peak ffmpeg RSS {result.peak_rss_bytes / 2**20:.0f} MiB")
    assert 0 < result.peak_rss_bytes <= MEMORY_LIMIT_BYTES, f"{result.peak_rss_bytes / 2**20:.0f} MB"
