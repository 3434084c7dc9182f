"""Stock media sandbox in Pexels' API shape, serving generated photos.

`GET /v1/search?query=&per_page=&page=` answers like Pexels (`page`, `per_page`, `total_results`,
`photos[]` with `id`, `width`, `height`, `url`, `photographer`, `alt`, `src{original, large2x, large,
medium, small, portrait, landscape, tiny}`, `next_page`) with `X-Ratelimit-Limit/Remaining/Reset` headers;
`GET /videos/search` answers Pexels' video shape with no videos yet. Requests need Pexels' auth scheme,
`Authorization: <api key>` (any non-empty key). The `src` URLs point back here,
`/_media/photos/<id>.jpg?w=&h=`, which serves a JPEG made with Pillow: deterministic per id, a gradient,
shapes and the query word, at the requested size (default the photo's 1920x1080).

Few or no results (to exercise fallbacks):
- a query containing `__empty__` finds nothing;
- `POST /_control/results {"query": "coffee", "total": 3}` caps the results of queries containing
  "coffee" ("" matches every query); `POST /_control/empty {"on": true}` is the same with total 0 for
  every query. `POST /_control/reset` clears these along with faults and calls, and refills the rate limit.
- the rate limit (`create_app(rate_limit=200, rate_window_s=3600)`, Pexels' hourly default) answers 429
  once spent.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import time
from functools import lru_cache
from typing import Any

from flask import Flask, Response, jsonify, request
from PIL import Image, ImageDraw

from infra.sandboxes.base import empty_requested, make_sandbox_app

PHOTO_WIDTH, PHOTO_HEIGHT = 1920, 1080
MAX_PER_PAGE = 80
MAX_MEDIA_SIDE = 4096
_PHOTOGRAPHERS = ("Ana Souza", "Kenji Mori", "Lena Fischer", "Omar Haddad", "Priya Nair", "Tom Walsh")
# Pexels' resized variants: (name, width, height); 0 = keep the aspect ratio.
_VARIANTS = (
    ("large2x", 1880, 1300),
    ("large", 940, 650),
    ("medium", 0, 350),
    ("small", 0, 130),
    ("portrait", 800, 1200),
    ("landscape", 1200, 627),
    ("tiny", 280, 200),
)


def pexels_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    """Pexels answers errors with a bare `{"error": "..."}`."""
    return {"error": message or reason or f"HTTP {status}"}


def _error(status: int, message: str) -> Response:
    resp = jsonify(pexels_error_body(status, "", message))
    resp.status_code = status
    return resp


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def total_results(query: str) -> int:
    """How many photos a query finds: a deterministic 40-239."""
    return 40 + int.from_bytes(_digest("total", query.lower())[:2], "big") % 200


def photo_id(query: str, index: int) -> int:
    return 1_000_000 + int.from_bytes(_digest("id", query.lower(), index)[:4], "big") % 9_000_000


@lru_cache(maxsize=256)
def make_jpeg(item_id: int, width: int, height: int, word: str) -> bytes:
    """A deterministic still: a two-colour gradient, a few shapes and the query word."""
    d = _digest("jpeg", item_id)
    turns = (None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    gradient = Image.linear_gradient("L")
    turn = turns[d[0] % 4]
    small = (gradient.transpose(turn) if turn is not None else gradient).resize((64, 36))
    colours = (Image.new("RGB", (64, 36), tuple(d[1:4])), Image.new("RGB", (64, 36), tuple(d[4:7])))
    image = Image.composite(*colours, small).resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    unit = max(4, min(width, height) // 12)
    for i in range(5):
        x, y = d[8 + i] * width // 256, d[13 + i] * height // 256
        size = unit * (1 + d[18 + i] % 3)
        fill = tuple(d[23 + i : 26 + i])
        if i % 2:
            draw.ellipse((x - size, y - size, x + size, y + size), fill=fill)
        else:
            draw.rectangle((x - size, y - size // 2, x + size, y + size // 2), fill=fill)
    draw.text((width // 20, height - max(20, height // 8)), word[:40], fill=(255, 255, 255), font_size=unit)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


class StockState:
    def __init__(self, rate_limit: int, rate_window_s: int) -> None:
        self.lock = threading.Lock()
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.result_caps: dict[str, int] = {}
        self.words: dict[int, str] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.result_caps.clear()
            self.remaining = self.rate_limit
            self.window_reset = int(time.time()) + self.rate_window_s

    def spend(self) -> tuple[bool, int, int]:
        """(allowed, remaining, reset epoch) for one API request."""
        with self.lock:
            now = int(time.time())
            if now >= self.window_reset:
                self.remaining, self.window_reset = self.rate_limit, now + self.rate_window_s
            if self.remaining <= 0:
                return False, 0, self.window_reset
            self.remaining -= 1
            return True, self.remaining, self.window_reset

    def cap_for(self, query: str) -> int | None:
        with self.lock:
            caps = [total for q, total in self.result_caps.items() if q.lower() in query.lower()]
        return min(caps) if caps else None


def create_app(*, rate_limit: int = 200, rate_window_s: int = 3600) -> Flask:
    app = make_sandbox_app("stock", error_body=pexels_error_body)
    state = StockState(rate_limit, rate_window_s)
    app.extensions["stock_state"] = state

    from infra.sandboxes.stock_common import install_common  # it builds on this module's state

    install_common(app, state, _error)

    def _api_guard() -> tuple[Response | None, dict[str, str]]:
        if not request.headers.get("Authorization", "").strip():
            return _error(401, "Authorization field missing"), {}
        allowed, remaining, reset = state.spend()
        headers = {
            "X-Ratelimit-Limit": str(state.rate_limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Reset": str(reset),
        }
        if not allowed:
            resp = _error(429, "Rate limit exceeded")
            resp.headers.update(headers)
            resp.headers["Retry-After"] = str(max(1, reset - int(time.time())))
            return resp, headers
        return None, headers

    def _paging() -> tuple[str, int, int]:
        query = " ".join((request.args.get("query") or "").split())
        try:
            per_page = int(request.args.get("per_page", 15))
            page = int(request.args.get("page", 1))
        except ValueError:
            per_page, page = -1, -1
        return query, per_page, page

    @app.get("/v1/search")
    def search() -> Response:
        refused, headers = _api_guard()
        if refused is not None:
            return refused
        query, per_page, page = _paging()
        if not query:
            return _error(400, "query is required")
        if per_page < 1 or page < 1:
            return _error(400, "per_page and page must be positive integers")
        per_page = min(per_page, MAX_PER_PAGE)
        total = 0 if "__empty__" in query or empty_requested() else total_results(query)
        cap = state.cap_for(query)
        if cap is not None:
            total = min(total, cap)
        word = query.split()[0] if query.split() else query
        first = (page - 1) * per_page
        photos = []
        host = request.host_url.rstrip("/")
        for index in range(first, min(first + per_page, total)):
            item_id = photo_id(query, index)
            with state.lock:
                state.words[item_id] = word
            d = _digest("meta", item_id)
            original = f"{host}/_media/photos/{item_id}.jpg"
            src = {"original": original}
            for name, w, h in _VARIANTS:
                w = w or math.ceil(PHOTO_WIDTH * h / PHOTO_HEIGHT)
                src[name] = f"{original}?w={w}&h={h}"
            photos.append(
                {
                    "id": item_id,
                    "width": PHOTO_WIDTH,
                    "height": PHOTO_HEIGHT,
                    "url": f"{host}/photo/{query.replace(' ', '-')}-{item_id}/",
                    "photographer": _PHOTOGRAPHERS[d[0] % len(_PHOTOGRAPHERS)],
                    "photographer_url": f"{host}/@photographer{d[0] % len(_PHOTOGRAPHERS)}",
                    "photographer_id": 100 + d[0] % len(_PHOTOGRAPHERS),
                    "avg_color": "#{:02X}{:02X}{:02X}".format(*d[1:4]),
                    "src": src,
                    "liked": False,
                    "alt": f"{query.capitalize()}, photo {index + 1}",
                }
            )
        body: dict[str, Any] = {
            "page": page,
            "per_page": per_page,
            "photos": photos,
            "total_results": total,
        }
        if first + per_page < total:
            body["next_page"] = f"{host}/v1/search/?page={page + 1}&per_page={per_page}&query={query}"
        if page > 1:
            body["prev_page"] = f"{host}/v1/search/?page={page - 1}&per_page={per_page}&query={query}"
        resp = jsonify(body)
        resp.headers.update(headers)
        return resp

    @app.get("/videos/search")
    def video_search() -> Response:
        refused, headers = _api_guard()
        if refused is not None:
            return refused
        query, per_page, page = _paging()
        if not query:
            return _error(400, "query is required")
        resp = jsonify(
            {
                "page": max(page, 1),
                "per_page": min(max(per_page, 1), MAX_PER_PAGE),
                "total_results": 0,
                "url": f"{request.host_url.rstrip('/')}/videos/search?query={query}",
                "videos": [],
            }
        )
        resp.headers.update(headers)
        return resp

    @app.get("/_media/photos/<int:item_id>.jpg")
    def photo_file(item_id: int) -> Response:
        try:
            width, height = int(request.args.get("w", 0)), int(request.args.get("h", 0))
        except ValueError:
            return _error(400, "w and h must be integers")
        # Like Pexels' image CDN: one side given keeps the aspect ratio, none gives the original.
        if width and not height:
            height = round(width * PHOTO_HEIGHT / PHOTO_WIDTH)
        elif height and not width:
            width = round(height * PHOTO_WIDTH / PHOTO_HEIGHT)
        width, height = width or PHOTO_WIDTH, height or PHOTO_HEIGHT
        if not (0 < width <= MAX_MEDIA_SIDE and 0 < height <= MAX_MEDIA_SIDE):
            return _error(400, f"w and h must be in 1..{MAX_MEDIA_SIDE}")
        with state.lock:
            word = state.words.get(item_id, "stock")
        resp = Response(make_jpeg(item_id, width, height, word), 200, mimetype="image/jpeg")
        resp.headers["Cache-Control"] = "public, max-age=31536000"
        return resp

    return app
