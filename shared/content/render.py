"""Render: stills with motion + narration (+ ducked music) + burned-in captions -> H.264/AAC MP4, in one
ffmpeg filter graph, memory bounded whatever the video's length or number of stills.

Where the time goes (tests/bench/bench_render.py, README "Benchmarks"): almost all of it is x264; the
graph costs little because every still is decoded and scaled once. So:
- stills are normalised once with Pillow (EXIF orientation, colour mode, cover-cropped to the frame plus
  a motion margin) and read by ffmpeg's concat demuxer as ONE input: one decoder, one frame in flight,
  whatever the number of stills (one input per still cost ~9 MB each);
- the `fps` filter repeats each still by reference to a constant frame rate, and one `crop` whose
  position is an expression of the frame number pans across it (no per-frame scaling);
- captions are drawn once each with Pillow as transparent strips, read by a second concat input and
  overlaid on the bottom band only (libass re-blended every frame and cost ~1.2 ms a frame);
- x264's preset, tune and frame rate are settings; the defaults were chosen by measurement.
The output lasts exactly as long as the narration.
"""

from __future__ import annotations

import functools
import math
import os
import re
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from shared.content.ffmpeg import PROVIDER, probe_media, run_ffmpeg
from shared.ports import ProviderError

if TYPE_CHECKING:
    from shared.config import Settings

# The stills are scaled this much larger than the frame; the pan travels across the margin.
MOTION_MARGIN = 0.10
AUDIO_SAMPLE_RATE_HZ = 48000  # with music (stereo), and for narrations at a rate AAC does not take
AAC_RATES_HZ = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
# Music sits this far under the voice before the sidechain compressor ducks it further while she speaks.
MUSIC_GAIN = 0.25
CAPTION_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
CAPTION_MAX_LINES = 2


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
class RenderOptions:
    width: int = 1280
    height: int = 720
    fps: int = 24
    preset: str = "ultrafast"
    tune: str = ""  # "" = none; e.g. "stillimage"
    crf: int = 23
    # Extra x264 options ("key=value:key=value"), e.g. re-enabling CABAC and deblocking on ultrafast.
    x264_params: str = ""
    audio_bitrate: str = "128k"
    timeout_s: float = 900.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(
                f"frame size must be positive and even for yuv420p, got {self.width}x{self.height}"
            )
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @classmethod
    def from_settings(cls, s: Settings, **overrides: object) -> RenderOptions:
        values: dict[str, object] = {
            "width": s.video_width,
            "height": s.video_height,
            "fps": s.video_fps,
            "preset": s.x264_preset,
            "tune": s.x264_tune,
            "crf": s.x264_crf,
            "x264_params": s.x264_params,
            "audio_bitrate": s.render_audio_bitrate,
            "timeout_s": s.render_timeout_s,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RenderResult:
    duration_s: float
    size_bytes: int
    command_seconds: float
    peak_rss_bytes: int  # the ffmpeg child's own peak memory
    frames: int


def render_video(inputs: RenderInputs, out_path: Path, options: RenderOptions) -> RenderResult:
    """Render `inputs` to `out_path` (MP4, written atomically). Raises ProviderError(provider="ffmpeg")
    when a still is unreadable, or ffmpeg fails or runs past the timeout; ValueError for impossible
    arguments."""
    if not inputs.stills:
        raise ValueError("render needs at least one still")
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
    total_frames = max(1, round(duration_s * options.fps))
    # A narration shorter than one frame per still shows only the first stills.
    used = inputs.stills[:total_frames]
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        work = Path(tmp)
        try:
            margin = prepare_stills(used, work, options.width, options.height)
        except ProviderError as exc:
            raise ProviderError(
                f"render of {out_path.name} failed: {exc}",
                transient=False,
                provider=PROVIDER,
                reason=exc.reason,
            ) from exc
        counts = frame_counts(total_frames, len(used))
        write_concat(
            work / "stills.ffconcat", [(f"still-{i:03d}.ppm", n / options.fps) for i, n in enumerate(counts)]
        )
        captions = [c for c in inputs.captions if c.start_s < duration_s and c.text.strip()]
        strip_h = 0
        if captions:
            strip_h = write_caption_strips(captions, work, options.width, options.height, duration_s)
        args = _command(
            counts=counts,
            margin=margin,
            narration=Path(inputs.narration_wav).resolve(),
            music=Path(inputs.music).resolve() if inputs.music else None,
            caption_strip_h=strip_h,
            duration_s=duration_s,
            options=options,
            out=partial.resolve(),
            narration_rate_hz=narration_rate_hz(inputs.narration_wav),
        )
        try:
            run = run_ffmpeg(args, timeout_s=options.timeout_s, cwd=work)
        except ProviderError as exc:
            partial.unlink(missing_ok=True)
            raise ProviderError(
                f"render of {out_path.name} failed ({len(used)} stills): {exc}",
                transient=exc.transient,
                provider=PROVIDER,
                reason=exc.reason,
            ) from exc
    os.replace(partial, out_path)
    return RenderResult(
        duration_s=probe_media(out_path).duration_s,
        size_bytes=out_path.stat().st_size,
        command_seconds=run.seconds,
        peak_rss_bytes=run.peak_rss_bytes,
        frames=total_frames,
    )


def frame_counts(total_frames: int, stills: int) -> list[int]:
    """Frames per still: as equal as possible, the first ones one longer when it does not divide."""
    base, extra = divmod(total_frames, stills)
    return [base + (1 if i < extra else 0) for i in range(stills)]


def margin_size(width: int, height: int) -> tuple[int, int]:
    return _even(width * (1 + MOTION_MARGIN)), _even(height * (1 + MOTION_MARGIN))


def prepare_stills(stills: list[Path], work: Path, width: int, height: int) -> tuple[int, int]:
    """Each still decoded once (JPEG draft mode when large), turned upright, cover-cropped to the frame
    plus the motion margin and written uncompressed as `still-NNN.ppm` (lossless, and nothing for ffmpeg
    to decode); two at a time (Pillow releases the GIL while it decodes and resamples)."""
    size = margin_size(width, height)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: _prepare_still(job[0], job[1], work, size), enumerate(stills)))
    return size


def _prepare_still(i: int, path: Path, work: Path, size: tuple[int, int]) -> None:
    try:
        with Image.open(path) as image:
            image.draft("RGB", size)
            upright = ImageOps.exif_transpose(image)
            if upright.mode != "RGB":
                upright = upright.convert("RGB")  # CMYK, palette, alpha: flattened to RGB
            fitted = _cover(upright, size)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ProviderError(
            f"still {i} ({Path(path).name}) is not a readable image: {exc}",
            transient=False,
            provider=PROVIDER,
            reason="bad_still",
        ) from None
    fitted.save(work / f"still-{i:03d}.ppm")


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale to cover `size` and crop the centre (ImageOps.fit in one resample)."""
    w, h = image.size
    scale = max(size[0] / w, size[1] / h)
    box_w, box_h = size[0] / scale, size[1] / scale
    left, top = max(0.0, (w - box_w) / 2), max(0.0, (h - box_h) / 2)
    box = (left, top, min(float(w), left + box_w), min(float(h), top + box_h))
    # Bilinear: Pillow widens its support when it shrinks (no aliasing), at half bicubic's cost.
    return image.resize(size, Image.Resampling.BILINEAR, box=box)


def write_concat(path: Path, entries: list[tuple[str, float]]) -> None:
    """An ffconcat list showing each file for its duration; the last file is listed again so that its
    duration counts (the demuxer ignores the duration of the final entry)."""
    lines = ["ffconcat version 1.0"]
    for name, seconds in entries:
        lines += [f"file '{name}'", f"duration {seconds:.6f}"]
    lines.append(f"file '{entries[-1][0]}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pan_expressions(counts: list[int]) -> tuple[str, str]:
    """crop x and y as expressions of the frame number n: still i pans over its own frames in one of four
    directions (left→right, right→left, and the two diagonals), cycling. O(1) per frame."""
    stills = len(counts)
    base = counts[-1]
    longer = sum(1 for c in counts if c > base)  # the first `longer` stills have base + 1 frames
    split = longer * (base + 1)
    seg = f"if(lt(n,{split}),floor(n/{base + 1}),{longer}+floor((n-{split})/{max(1, base)}))"
    start = f"if(lt(n,{split}),ld(1)*{base + 1},{split}+(ld(1)-{longer})*{base})"
    count = f"if(lt(n,{split}),{base + 1},{base})"
    # 1: still index, 2: its first frame, 3: p in 0..1 through it, 4: direction
    setup = (
        f"st(1,min({seg},{stills - 1}));st(2,{start});"
        f"st(3,min(1,(n-ld(2))/max(1,{count}-1)));st(4,mod(ld(1),4));"
    )
    x = setup + "(iw-ow)*if(mod(ld(4),2),1-ld(3),ld(3))"
    y = setup + "if(lt(ld(4),2),(ih-oh)/2,(ih-oh)*if(eq(ld(4),2),ld(3),1-ld(3)))"
    return x, y


def _command(
    *,
    counts: list[int],
    margin: tuple[int, int],
    narration: Path,
    music: Path | None,
    caption_strip_h: int,
    duration_s: float,
    options: RenderOptions,
    out: Path,
    narration_rate_hz: int = 0,
) -> list[str]:
    o = options
    total_frames = sum(counts)
    args: list[str] = ["-y", "-loglevel", "warning", "-nostats"]
    args += ["-f", "concat", "-safe", "0", "-i", "stills.ffconcat"]
    voice_in = 1
    args += ["-i", str(narration)]
    if music is not None:
        args += ["-stream_loop", "-1", "-i", str(music)]

    x, y = pan_expressions(counts)
    # Colour conversion (full-range JPEG -> TV-range BT.709) runs once per still, before fps repeats it.
    video = (
        f"[0:v]scale={margin[0]}:{margin[1]}:out_range=tv:out_color_matrix=bt709,format=yuv420p,setsar=1,"
        f"fps={o.fps}:start_time=0,trim=end_frame={total_frames},"
        f"crop={o.width}:{o.height}:x='{x}':y='{y}'"
    )
    graph: list[str] = []
    if caption_strip_h:
        graph.append(video + "[moving]")
        bottom = _caption_bottom_px(o.height)
        # A `movie` source, not an input: the overlay pulls caption frames when it needs them. As an input,
        # the demuxer ran ahead and every decoded strip waited in memory (~1 MB a caption, growing with
        # the video's length).
        graph.append("movie=captions.ffconcat:f=concat,format=yuva420p[captions]")
        video = (
            f"[moving][captions]overlay=x=0:y={o.height - bottom - caption_strip_h}"
            ":eof_action=repeat:format=yuv420"
        )
    graph.append(
        video + ",format=yuv420p,setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709[v]"
    )

    # The audio is a graph of its own: each graph then runs in its own thread and is paced by the muxer
    # through ffmpeg's bounded queues, rather than one graph serving two outputs at different speeds.
    if music is None:
        # Speech alone stays mono at its own rate (TTS speaks 24 kHz mono): resampling it to 48 kHz stereo
        # added nothing to hear and made the AAC encoder a sixth of the render's CPU.
        audio_rate = narration_rate_hz if narration_rate_hz in AAC_RATES_HZ else AUDIO_SAMPLE_RATE_HZ
        audio = [f"[{voice_in}:a]aresample={audio_rate},aformat=sample_fmts=fltp:channel_layouts=mono[a]"]
    else:
        audio_rate = AUDIO_SAMPLE_RATE_HZ
        voice = f"[{voice_in}:a]aresample={audio_rate},aformat=sample_fmts=fltp:channel_layouts=stereo"
        audio = [
            voice + ",asplit=2[voice][key]",
            f"[{voice_in + 1}:a]aresample={AUDIO_SAMPLE_RATE_HZ},"
            f"aformat=sample_fmts=fltp:channel_layouts=stereo,volume={MUSIC_GAIN}[bed]",
            "[bed][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[ducked]",
            "[voice][ducked]amix=inputs=2:duration=first:dropout_transition=0:normalize=0[a]",
        ]

    args += ["-filter_complex", ";".join(graph), "-filter_complex", ";".join(audio)]
    args += ["-map", "[v]", "-map", "[a]"]
    args += ["-r", str(o.fps), "-c:v", "libx264", "-preset", o.preset, "-crf", str(o.crf)]
    if o.tune:
        args += ["-tune", o.tune]
    if o.x264_params:
        args += ["-x264-params", o.x264_params]
    args += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", o.audio_bitrate, "-ar", str(audio_rate)]
    args += ["-t", f"{duration_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(out)]
    return args


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def narration_rate_hz(path: Path) -> int:
    """The narration's sample rate from its WAV header; 0 when it is not a WAV `wave` can read."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getframerate()
    except (wave.Error, EOFError):
        return 0


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


@dataclass(frozen=True)
class CaptionStyle:
    font_px: int
    outline_px: int
    shadow_px: int
    line_px: int
    side_margin_px: int


def caption_style(width: int, height: int) -> CaptionStyle:
    """Bold white type 6% of the frame height, a black outline and a soft drop shadow (as the ASS style
    this replaces: Fontsize 6%, Outline h/240, Shadow 1)."""
    font_px = max(8, round(height * 0.06))
    return CaptionStyle(
        font_px=font_px,
        outline_px=max(2, round(height / 240)),
        shadow_px=max(1, round(height / 480)),
        line_px=round(font_px * 1.2),
        side_margin_px=round(width * 0.05),
    )


def _caption_bottom_px(height: int) -> int:
    return round(height * 0.06)


@functools.lru_cache(maxsize=16)
def _caption_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = next((p for p in CAPTION_FONTS if Path(p).is_file()), None)
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


def _wrap_caption(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_w: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > max_w:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def write_caption_strips(
    captions: list[Caption], work: Path, width: int, height: int, duration_s: float
) -> int:
    """One transparent PNG strip per caption (and one blank strip for gaps), listed with their display
    times in `captions.ffconcat`; returns the strip height. Text too wide for a line wraps onto a second
    line; a caption needing more shrinks its type."""
    style = caption_style(width, height)
    strip_h = CAPTION_MAX_LINES * style.line_px + 2 * style.outline_px + style.shadow_px
    max_w = width - 2 * style.side_margin_px
    blank = "caption-blank.png"
    Image.new("RGBA", (width, strip_h), (0, 0, 0, 0)).save(work / blank, compress_level=1)
    entries: list[tuple[str, float]] = []
    cursor = 0.0
    for i, caption in enumerate(captions):
        start, end = max(cursor, caption.start_s), min(caption.end_s, duration_s)
        if end <= start:
            continue
        if start > cursor:
            entries.append((blank, start - cursor))
        name = f"caption-{i:04d}.png"
        _draw_caption(caption.text, style, width, strip_h, max_w).save(work / name, compress_level=1)
        entries.append((name, end - start))
        cursor = end
    if cursor < duration_s:
        entries.append((blank, duration_s - cursor))
    write_concat(work / "captions.ffconcat", entries)
    return strip_h


def _draw_caption(text: str, style: CaptionStyle, width: int, strip_h: int, max_w: int) -> Image.Image:
    size = style.font_px
    font = _caption_font(size)
    lines = _wrap_caption(text, font, max_w)
    while len(lines) > CAPTION_MAX_LINES and size > 8:
        size = max(8, int(size * 0.85))
        font = _caption_font(size)
        lines = _wrap_caption(text, font, max_w)
    line_px = round(size * 1.2)
    image = Image.new("RGBA", (width, strip_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    # Bottom-aligned: the last line sits on the strip's bottom edge (above the shadow).
    top = strip_h - style.shadow_px - style.outline_px - line_px * len(lines)
    for index, line in enumerate(lines):
        x = (width - font.getlength(line)) / 2
        y = top + index * line_px
        for dx, dy, fill in (
            (style.shadow_px, style.shadow_px, (0, 0, 0, 128)),
            (0, 0, (255, 255, 255, 255)),
        ):
            stroke = (0, 0, 0, fill[3])
            draw.text(
                (x + dx, y + dy),
                line,
                font=font,
                fill=fill,
                stroke_width=style.outline_px,
                stroke_fill=stroke,
            )
    return image
