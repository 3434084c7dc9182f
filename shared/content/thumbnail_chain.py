"""The thumbnail step's provider chain: OpenAI image generation (a background, the title set over it by
the template renderer) -> the Pillow template alone. 1280x720 JPEG at 85%, plus a WebP copy for places
that take it (YouTube's thumbnails.set takes JPEG or PNG). Generated thumbnails are cached 24 h by title,
model and size, in Cloud Storage with a Firestore cache entry."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from PIL import Image

from shared.config import Settings
from shared.content.chain import Link, Provided, RetryPolicy, Served, Skipped, run_chain
from shared.content.thumbnail import render_thumbnail
from shared.ops.budgets import Budgets, OverBudget, to_micros
from shared.ports import BlobStore, ImageGenerator, KeyValueCache


@dataclass(frozen=True)
class Thumbnail:
    jpeg: bytes
    webp: bytes | None
    cost_usd: Decimal


@dataclass
class ThumbnailServices:
    images: Callable[[], ImageGenerator]
    cache: KeyValueCache
    blobs: BlobStore
    budgets: Budgets
    retry: RetryPolicy
    settings: Settings
    job_id: str


def image_prompt(title: str) -> str:
    return (
        f'A bold, high-contrast YouTube thumbnail background for a video titled "{title}". '
        "One clear subject, vivid colours, no text, no letters, no logos, 16:9."
    )


def make_thumbnail(title: str, svc: ThumbnailServices) -> Served[Thumbnail]:
    s = svc.settings
    model = s.thumbnail_image_model
    return run_chain(
        "thumbnail",
        [
            Link(f"openai:{model}", lambda: _generated(title, svc)),
            Link("pillow-template", lambda: _encode(render_thumbnail(title, **_size(s)), s, Decimal(0))),
        ],
    )


def _size(s: Settings) -> dict[str, int]:
    return {
        "width": s.thumbnail_width,
        "height": s.thumbnail_height,
        "jpeg_quality": s.thumbnail_jpeg_quality,
    }


def _encode(jpeg: bytes, s: Settings, cost: Decimal) -> Thumbnail:
    webp = None
    if s.thumbnail_webp:
        out = io.BytesIO()
        Image.open(io.BytesIO(jpeg)).save(out, "WEBP", quality=s.thumbnail_jpeg_quality)
        webp = out.getvalue()
    return Thumbnail(jpeg=jpeg, webp=webp, cost_usd=cost)


def _generated(title: str, svc: ThumbnailServices) -> Thumbnail | Provided[Thumbnail]:
    s = svc.settings
    model, size = s.thumbnail_image_model, s.thumbnail_image_size
    frame = f"{s.thumbnail_width}x{s.thumbnail_height}q{s.thumbnail_jpeg_quality}"
    key = f"thumbnail:{model}:{size}:{frame}:{title}"
    hit = svc.cache.get(key)
    if hit is not None:
        try:
            jpeg = svc.blobs.get_bytes(hit["jpeg_uri"])
            return Provided(_encode(jpeg, s, Decimal(0)), f"openai:{model} (cache)")
        except FileNotFoundError:
            pass  # the blob was cleaned up before the entry expired: generate again
    price = s.openai_image_price_usd.get(f"{model}:{size}")
    if price is None:
        raise Skipped(f"no price configured for {model} at {size} (openai_image_price_usd)")
    try:
        reservation = svc.budgets.reserve(svc.budgets.charges("openai_image", svc.job_id, price))
    except OverBudget as over:
        raise Skipped(str(over)) from None
    paid = 0
    try:
        generator = svc.images()
        image = svc.retry.call(
            lambda: generator.generate(image_prompt(title), model=model, size=size), provider=model
        )
        paid = to_micros(price)
    finally:
        svc.budgets.settle(reservation, paid)
    try:
        jpeg = render_thumbnail(title, background=image.data, **_size(s))
    except ValueError as exc:
        raise Skipped(f"the generated image is unreadable: {exc}") from None
    digest = hashlib.sha256(key.encode()).hexdigest()
    uri = svc.blobs.put_bytes(f"cache/thumbnails/{digest}.jpg", jpeg, "image/jpeg")
    svc.cache.put(key, {"jpeg_uri": uri}, s.thumbnail_cache_ttl_s)
    return _encode(jpeg, s, price)
