"""StockMediaSearch adapter for Pixabay (`GET /api/` photos, `GET /api/videos/` videos; key as a query
parameter). Pixabay allows 100 requests per 60 s and requires results to be cached for 24 h; both are the
media chain's business (shared.ops.ratelimits, shared.content.media)."""

from __future__ import annotations

from contextlib import AbstractContextManager

import requests

from shared.config import Settings
from shared.content.http_api import HttpApi
from shared.ports import Fetched, MediaItem

PROVIDER = "pixabay"
MIN_PER_PAGE, MAX_PER_PAGE = 3, 200
MAX_QUERY_CHARS = 100


def _detail(resp: requests.Response) -> str:
    # Pixabay answers errors as text: "[ERROR 400] Invalid or missing API key ..."
    return resp.text.strip()[:200]


class PixabaySearch:
    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.pixabay_base_url.rstrip("/")
        self._key = settings.pixabay_api_key.get_secret_value()
        self._api = HttpApi(PROVIDER, timeout_s=settings.stock_timeout_s, error_detail=_detail)
        self._width = settings.video_width
        self._max_bytes = settings.media_max_download_bytes

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        if kind not in ("photo", "video"):
            raise ValueError(f"kind must be 'photo' or 'video', not {kind!r}")
        what = f"search {query!r}"
        path = "/api/" if kind == "photo" else "/api/videos/"
        params = {
            "key": self._key,
            "q": " ".join(query.split())[:MAX_QUERY_CHARS],
            "per_page": min(MAX_PER_PAGE, max(MIN_PER_PAGE, count)),
            "safesearch": "true",
        }
        if kind == "photo":
            params.update(image_type="photo", orientation="horizontal")
        body = self._api.json(self._api.request("GET", f"{self._base_url}{path}", what, params=params), what)
        items = []
        for hit in body.get("hits", []):
            if kind == "photo":
                url = hit.get("largeImageURL") or hit.get("webformatURL")
                if url:
                    items.append(
                        MediaItem(
                            PROVIDER, str(hit["id"]), url, hit.get("imageWidth", 0), hit.get("imageHeight", 0)
                        )
                    )
            else:
                files = [f for f in (hit.get("videos") or {}).values() if f.get("url")]
                fitting = [f for f in files if (f.get("width") or 0) <= self._width] or files
                if fitting:
                    best = max(fitting, key=lambda f: f.get("width") or 0)
                    items.append(
                        MediaItem(
                            PROVIDER,
                            str(hit["id"]),
                            best["url"],
                            best.get("width", 0),
                            best.get("height", 0),
                            "video",
                        )
                    )
        return items[:count]

    def fetch(self, item: MediaItem) -> AbstractContextManager[Fetched]:
        expect = "image/" if item.kind == "photo" else "video/"
        return self._api.fetch(item.url, f"download {item.item_id}", expect=expect, max_bytes=self._max_bytes)
