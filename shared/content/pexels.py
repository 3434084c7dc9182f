"""StockMediaSearch adapter for Pexels (photos; videos answer the same port with kind="video"). The API key
goes only to the API, never to the image CDN; downloads stream."""

from __future__ import annotations

from contextlib import AbstractContextManager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.config import Settings
from shared.content.http_api import HttpApi
from shared.ports import Fetched, MediaItem

PROVIDER = "pexels"
MAX_PER_PAGE = 80  # Pexels' ceiling


def sized_url(url: str, width: int, height: int) -> str:
    """Ask an imgix-style image CDN (Pexels, Unsplash) for a crop at exactly width x height."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({"auto": "compress", "cs": "tinysrgb", "fit": "crop", "w": str(width), "h": str(height)})
    return urlunsplit(parts._replace(query=urlencode(query)))


class PexelsSearch:
    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.pexels_base_url.rstrip("/")
        self._api_key = settings.pexels_api_key.get_secret_value()
        self._api = HttpApi(PROVIDER, timeout_s=settings.pexels_timeout_s)
        self._width, self._height = settings.video_width, settings.video_height
        self._max_bytes = settings.media_max_download_bytes
        self.rate_limit_remaining: int | None = None  # from X-Ratelimit-Remaining, for metrics

    @property
    def _session(self):  # the adapter's one session (tests hook its responses)
        return self._api.session

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        if kind not in ("photo", "video"):
            raise ValueError(f"kind must be 'photo' or 'video', not {kind!r}")
        path = "/v1/search" if kind == "photo" else "/videos/search"
        what = f"search {query!r}"
        resp = self._api.request(
            "GET",
            f"{self._base_url}{path}",
            what,
            params={"query": query, "per_page": max(1, min(count, MAX_PER_PAGE)), "page": 1},
            headers={"Authorization": self._api_key},
        )
        remaining = resp.headers.get("X-Ratelimit-Remaining")
        if remaining is not None and remaining.isdigit():
            self.rate_limit_remaining = int(remaining)
        body = self._api.json(resp, what)
        if kind == "video":
            videos = [self._video_item(v) for v in body.get("videos", [])]
            return [v for v in videos if v is not None][:count]
        return [
            MediaItem(
                provider=PROVIDER,
                item_id=str(photo["id"]),
                url=sized_url(photo["src"]["original"], self._width, self._height),
                width=self._width,
                height=self._height,
                kind="photo",
            )
            for photo in body.get("photos", [])
        ][:count]

    def _video_item(self, video: dict) -> MediaItem | None:
        # The largest file no wider than the video; else the narrowest there is.
        files = [f for f in video.get("video_files", []) if f.get("link")]
        if not files:
            return None
        fitting = [f for f in files if (f.get("width") or 0) <= self._width]
        chosen = (
            max(fitting, key=lambda f: f.get("width") or 0)
            if fitting
            else min(files, key=lambda f: f.get("width") or 0)
        )
        return MediaItem(
            provider=PROVIDER,
            item_id=str(video["id"]),
            url=chosen["link"],
            width=chosen.get("width") or video.get("width") or 0,
            height=chosen.get("height") or video.get("height") or 0,
            kind="video",
        )

    def fetch(self, item: MediaItem) -> AbstractContextManager[Fetched]:
        expect = "image/" if item.kind == "photo" else "video/"
        return self._api.fetch(item.url, f"download {item.item_id}", expect=expect, max_bytes=self._max_bytes)
