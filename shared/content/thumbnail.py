"""Template thumbnails (the local fallback of image generation): a darkened still or a gradient picked
from the title's hash, the title in large outlined bold type. Same inputs, same JPEG bytes."""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps, UnidentifiedImageError

BOLD_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
MAX_LINES = 3
BACKGROUND_BRIGHTNESS = 0.55  # a still is darkened this much so white type stays readable
TEXT_WIDTH_SHARE = 0.88
TEXT_HEIGHT_SHARE = 0.80
LARGEST_SIZE_SHARE = 0.17  # of the height
SMALLEST_SIZE_SHARE = 0.06
ELLIPSIS = "\u2026"

AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class TitleLayout:
    lines: list[str]
    font_size: int
    stroke_px: int


def render_thumbnail(
    title: str,
    *,
    background: bytes | None = None,
    width: int = 1280,
    height: int = 720,
    jpeg_quality: int = 85,
    font_path: Path | None = None,
) -> bytes:
    """A `width`x`height` JPEG. Raises ValueError when `background` is not an image Pillow can read."""
    canvas = _still(background, width, height) if background else _gradient(title, width, height)
    layout = layout_title(title, width=width, height=height, font_path=font_path)
    _draw_title(canvas, layout, _font(_font_file(font_path), layout.font_size))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=jpeg_quality)
    return out.getvalue()


def layout_title(title: str, *, width: int, height: int, font_path: Path | None = None) -> TitleLayout:
    """The largest type size at which the title fits the text box in at most MAX_LINES lines; at the
    smallest size a longer title is cut after MAX_LINES lines with an ellipsis."""
    words = title.split() or [""]
    max_w = int(width * TEXT_WIDTH_SHARE)
    max_h = int(height * TEXT_HEIGHT_SHARE)
    path = _font_file(font_path)
    largest = max(8, int(height * LARGEST_SIZE_SHARE))
    smallest = max(8, int(height * SMALLEST_SIZE_SHARE))
    size = largest
    for size in range(largest, smallest - 1, -max(1, largest // 20)):
        font = _font(path, size)
        stroke = _stroke_px(size)
        lines = _wrap(words, font, max_w - 2 * stroke)
        if len(lines) <= MAX_LINES and len(lines) * _line_height(size) <= max_h:
            return TitleLayout(lines=lines, font_size=size, stroke_px=stroke)
    size = smallest
    font = _font(path, size)
    stroke = _stroke_px(size)
    lines = _wrap(words, font, max_w - 2 * stroke)
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        last = lines[-1]
        while last and font.getlength(last + ELLIPSIS) > max_w - 2 * stroke:
            last = last[:-1].rstrip()
        lines[-1] = last + ELLIPSIS
    return TitleLayout(lines=lines, font_size=size, stroke_px=stroke)


def _wrap(words: list[str], font: AnyFont, max_w: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_w:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        # A word wider than the box is broken across lines rather than overflowing the frame.
        while font.getlength(current) > max_w and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and font.getlength(current[:cut]) > max_w:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    return lines


def _draw_title(canvas: Image.Image, layout: TitleLayout, font: AnyFont) -> None:
    draw = ImageDraw.Draw(canvas)
    line_h = _line_height(layout.font_size)
    top = (canvas.height - line_h * len(layout.lines)) // 2
    shadow = max(2, layout.font_size // 18)
    for index, line in enumerate(layout.lines):
        line_w = font.getlength(line)
        x = (canvas.width - line_w) / 2
        y = top + index * line_h
        # A hard drop shadow, then white type with a black outline: readable on any background.
        draw.text(
            (x + shadow, y + shadow),
            line,
            font=font,
            fill=(0, 0, 0),
            stroke_width=layout.stroke_px,
            stroke_fill=(0, 0, 0),
        )
        draw.text(
            (x, y),
            line,
            font=font,
            fill=(255, 255, 255),
            stroke_width=layout.stroke_px,
            stroke_fill=(0, 0, 0),
        )


def _still(background: bytes, width: int, height: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(background))
        image.draft("RGB", (width, height))  # JPEG: decode at a reduced scale when the still is large
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"thumbnail background is not a readable image: {exc}") from exc
    image = ImageOps.fit(image, (width, height), method=Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(image).enhance(BACKGROUND_BRIGHTNESS)


def _gradient(title: str, width: int, height: int) -> Image.Image:
    """A diagonal two-colour gradient whose hues come from the title's hash: stable per title."""
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    hue = digest[0] / 255
    second_hue = (hue + 0.12 + digest[1] / 255 * 0.3) % 1.0
    first = _rgb(hue, 0.65 + digest[2] / 255 * 0.25, 0.30 + digest[3] / 255 * 0.2)
    second = _rgb(second_hue, 0.65 + digest[4] / 255 * 0.25, 0.12 + digest[5] / 255 * 0.15)
    middle = tuple((a + b) // 2 for a, b in zip(first, second, strict=True))
    corners = Image.new("RGB", (2, 2))
    corners.putdata([first, middle, middle, second])
    return corners.resize((width, height), Image.Resampling.BILINEAR)


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _line_height(size: int) -> int:
    return int(size * 1.18)


def _stroke_px(size: int) -> int:
    return max(2, size // 14)


def _font_file(font_path: Path | None) -> str | None:
    if font_path is not None:
        return str(font_path)
    return next((p for p in BOLD_FONTS if Path(p).is_file()), None)


@functools.lru_cache(maxsize=64)
def _font(path: str | None, size: int) -> AnyFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)
