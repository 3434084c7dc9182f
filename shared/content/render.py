"""Render: stills + narration (+ music) + burned-in captions -> H.264/AAC MP4, in one ffmpeg filter graph.

Each still is decoded and scaled once, held as a single frame by the `loop` filter and panned by a
time-dependent `crop` (cheap: no per-frame scaling), so memory depends on the number of stills, never on
the video's length. Captions are an .ass file drawn by libass. The output lasts exactly as long as the
narration.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from shared.content.ffmpeg import PROVIDER, probe_media, run_ffmpeg
from shared.ports import ProviderError

# The stills are scaled this much larger than the frame; the pan travels across the margin.
MOTION_MARGIN = 0.10
AUDIO_BITRATE = "128k"
AUDIO_SAMPLE_RATE_HZ = 48000
# Music sits this far under the voice before the sidechain compressor ducks it further while she speaks.
MUSIC_GAIN = 0.25
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
)
CAPTION_FONT = "DejaVu Sans"

# Pan directions, cycled over the stills; p runs from 0 to 1 over a still's share.
_PANS = (
    ("(iw-ow)*{p}", "(ih-oh)/2"),  # left to right
    ("(iw-ow)*(1-{p})", "(ih-oh)/2"),  # right to left
    ("(iw-ow)*{p}", "(ih-oh)*{p}"),  # top-left to bottom-right
    ("(iw-ow)*(1-{p})", "(ih-oh)*(1-{p})"),  # bottom-right to top-left
)


@dataclass(frozen=True)
class Caption:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class RenderInputs:
    stills: list[Path]
    narration_wav: Path
    captions: list[Caption]
    music: Path | None = None


@dataclass(frozen=True)
class RenderResult:
    duration_s: float
    size_bytes: int
    command_seconds: float


def render_video(
    inputs: RenderInputs,
    out_path: Path,
    *,
    width: int,
    height: int,
    fps: int,
    preset: str,
    timeout_s: float,
    fonts_dir: Path | None = None,
) -> RenderResult:
    """Render `inputs` to `out_path` (MP4, written atomically). Raises ProviderError(provider="ffmpeg")
    when ffmpeg fails or runs past `timeout_s`, ValueError for impossible arguments."""
    if not inputs.stills:
        raise ValueError("render needs at least one still")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"frame size must be positive and even for yuv420p, got {width}x{height}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    for path in [*inputs.stills, inputs.narration_wav, *([inputs.music] if inputs.music else [])]:
        if not Path(path).is_file():
            raise ProviderError(
                f"render input missing: {path}", transient=False, provider=PROVIDER, reason="missing_input"
            )
    duration_s = narration_duration_s(inputs.narration_wav)
    if duration_s <= 0:
        raise ProviderError(
            f"narration {Path(inputs.narration_wav).name} is empty",
            transient=False,
            provider=PROVIDER,
            reason="empty_narration",
        )

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    fonts = fonts_dir or default_fonts_dir()
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        work = Path(tmp)
        # Stills are linked under fixed names: no '%' in a name can turn into an image-sequence pattern.
        # A narration shorter than one frame per still shows only the first stills.
        used = inputs.stills[: max(1, round(duration_s * fps))]
        stills = []
        for i, still in enumerate(used):
            link = work / f"still-{i:03d}{Path(still).suffix.lower()}"
            link.symlink_to(Path(still).resolve())
            stills.append(link.name)
        captions = [c for c in inputs.captions if c.start_s < duration_s and c.text.strip()]
        if captions:
            (work / "captions.ass").write_text(
                ass_document(captions, width=width, height=height, duration_s=duration_s), encoding="utf-8"
            )
        args = _command(
            stills=stills,
            narration=Path(inputs.narration_wav).resolve(),
            music=Path(inputs.music).resolve() if inputs.music else None,
            has_captions=bool(captions),
            fonts_dir=fonts,
            duration_s=duration_s,
            width=width,
            height=height,
            fps=fps,
            preset=preset,
            out=partial.resolve(),
        )
        try:
            run = run_ffmpeg(args, timeout_s=timeout_s, cwd=work)
        except ProviderError as exc:
            partial.unlink(missing_ok=True)
            legend = f"inputs #0-#{len(stills) - 1} are the stills, #{len(stills)} the narration"
            raise ProviderError(
                f"render of {out_path.name} failed ({legend}): {exc}",
                transient=exc.transient,
                provider=PROVIDER,
                reason=exc.reason,
            ) from exc
    os.replace(partial, out_path)
    return RenderResult(
        duration_s=probe_media(out_path).duration_s,
        size_bytes=out_path.stat().st_size,
        command_seconds=run.seconds,
    )


def _command(
    *,
    stills: list[str],
    narration: Path,
    music: Path | None,
    has_captions: bool,
    fonts_dir: Path | None,
    duration_s: float,
    width: int,
    height: int,
    fps: int,
    preset: str,
    out: Path,
) -> list[str]:
    total_frames = max(len(stills), round(duration_s * fps))
    counts = [
        total_frames // len(stills) + (1 if i < total_frames % len(stills) else 0) for i in range(len(stills))
    ]
    margin_w = _even(width * (1 + MOTION_MARGIN))
    margin_h = _even(height * (1 + MOTION_MARGIN))

    args: list[str] = ["-y", "-loglevel", "warning", "-nostats"]
    for name in stills:
        # One input per still, decoded once; the loop filter repeats the scaled frame.
        args += ["-i", name]
    voice_in = len(stills)
    args += ["-i", str(narration)]
    if music is not None:
        args += ["-stream_loop", "-1", "-i", str(music)]

    graph: list[str] = []
    for i, count in enumerate(counts):
        p = f"n/{max(1, count - 1)}"
        x, y = (expr.format(p=p) for expr in _PANS[i % len(_PANS)])
        graph.append(
            # trim: a multi-frame input (GIF, clip) contributes its first frame only.
            f"[{i}:v]trim=end_frame=1,scale={margin_w}:{margin_h}:force_original_aspect_ratio=increase"
            f":out_range=tv:out_color_matrix=bt709,crop={margin_w}:{margin_h},setsar=1,format=yuv420p,"
            f"loop=loop={count - 1}:size=1:start=0,settb=1/{fps},setpts=N,"
            f"crop={width}:{height}:x='{x}':y='{y}'[s{i}]"
        )
    video = "".join(f"[s{i}]" for i in range(len(counts))) + f"concat=n={len(counts)}:v=1:a=0"
    if has_captions:
        video += ",ass=filename=captions.ass"
        if fonts_dir is not None:
            video += f":fontsdir={_filter_value(str(fonts_dir))}"
    graph.append(
        video + ",format=yuv420p,setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709[v]"
    )

    voice = f"[{voice_in}:a]aresample={AUDIO_SAMPLE_RATE_HZ},aformat=sample_fmts=fltp:channel_layouts=stereo"
    if music is None:
        graph.append(voice + "[a]")
    else:
        graph += [
            voice + ",asplit=2[voice][key]",
            f"[{voice_in + 1}:a]aresample={AUDIO_SAMPLE_RATE_HZ},"
            f"aformat=sample_fmts=fltp:channel_layouts=stereo,volume={MUSIC_GAIN}[bed]",
            "[bed][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[ducked]",
            "[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]",
        ]

    args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-map", "[a]"]
    args += ["-r", str(fps), "-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_SAMPLE_RATE_HZ)]
    args += ["-t", f"{duration_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(out)]
    return args


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _filter_value(value: str) -> str:
    """Escape a filter option value for both levels of a filter graph (option, then graph)."""
    option = re.sub(r"([\\':])", r"\\\1", value)
    return re.sub(r"([\\'\[\],;])", r"\\\1", option)


def default_fonts_dir() -> Path | None:
    for candidate in FONT_DIRS:
        if Path(candidate).is_dir():
            return Path(candidate)
    return None  # libass asks fontconfig


def narration_duration_s(path: Path) -> float:
    """Duration of a WAV narration from its header; anything `wave` cannot read is probed."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
            block = wav.getsampwidth() * wav.getnchannels()
    except (wave.Error, EOFError):
        return probe_media(Path(path)).duration_s
    # A streamed header may claim more data than the file holds; trust the bytes that are there.
    data_bytes = max(0, Path(path).stat().st_size - 44)
    return min(frames, data_bytes // max(1, block)) / rate if rate else 0.0


# --- captions --------------------------------------------------------------------------------------------
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+")


def captions_from_narration(narration: str, duration_s: float, *, max_chars: int = 42) -> list[Caption]:
    """Caption lines of at most `max_chars` (a longer single word stands alone), never spanning two
    sentences, evenly balanced within a sentence, timed in proportion to their word counts so that they
    follow each other without gaps and end exactly at `duration_s`."""
    if duration_s <= 0:
        return []
    lines: list[list[str]] = []
    for sentence in _SENTENCE_END.split(" ".join(narration.split())):
        if sentence:
            lines += _balanced_lines(sentence.split(), max_chars)
    total_words = sum(len(line) for line in lines)
    captions: list[Caption] = []
    start, words_so_far = 0.0, 0
    for index, line in enumerate(lines):
        words_so_far += len(line)
        end = duration_s if index == len(lines) - 1 else duration_s * words_so_far / total_words
        captions.append(Caption(start_s=start, end_s=end, text=" ".join(line)))
        start = end
    return captions


def _greedy_lines(words: list[str], max_chars: int) -> list[list[str]]:
    lines: list[list[str]] = []
    current: list[str] = []
    length = 0
    for word in words:
        if current and length + 1 + len(word) > max_chars:
            lines.append(current)
            current, length = [], 0
        length += len(word) + (1 if current else 0)
        current.append(word)
    if current:
        lines.append(current)
    return lines


def _balanced_lines(words: list[str], max_chars: int) -> list[list[str]]:
    """As few lines as greedy wrapping needs, with the narrowest width that still needs no more: no
    two-word orphan trailing a full line."""
    lines = _greedy_lines(words, max_chars)
    if len(lines) < 2:
        return lines
    text_len = len(" ".join(words))
    for width in range(math.ceil(text_len / len(lines)), max_chars):
        candidate = _greedy_lines(words, width)
        if len(candidate) == len(lines):
            return candidate
    return lines


def ass_document(captions: list[Caption], *, width: int, height: int, duration_s: float) -> str:
    """An Advanced SubStation document: bold white DejaVu Sans with a black outline, bottom-centred."""
    font_size = round(height * 0.06)
    outline = max(2, round(height / 240))
    margin_v = round(height * 0.06)
    margin_lr = round(width * 0.05)
    head = (
        "[Script Info]\nScriptType: v4.00+\n"
        f"PlayResX: {width}\nPlayResY: {height}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
        "Alignment, MarginL, MarginR, MarginV, Encoding\n"
        f"Style: Default,{CAPTION_FONT},{font_size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
        f"-1,0,0,0,100,100,0,0,1,{outline},1,2,{margin_lr},{margin_lr},{margin_v},1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    events = [
        f"Dialogue: 0,{_ass_time(c.start_s)},{_ass_time(min(c.end_s, duration_s))},Default,,0,0,0,,"
        f"{_ass_text(c.text)}\n"
        for c in captions
    ]
    return head + "".join(events)


def _ass_time(seconds: float) -> str:
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def _ass_text(text: str) -> str:
    # Braces open override blocks and backslashes start escapes (\N, \h) in ASS: neither may pass through.
    return " ".join(text.split()).replace("\\", "/").replace("{", "(").replace("}", ")")
