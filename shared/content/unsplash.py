"""StockMediaSearch adapter for Unsplash (stills only): `GET /search/photos` with `Client-ID` auth; images
are asked of its imgix CDN at the frame size, and each download is reported to `download_location` as
Unsplash's API guidelines require."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import requests

from shared.config import Settings
from shared.content.http_api import HttpApi
from shared.content.pexels import sized_url
from shared.ports import Fetched, MediaItem

PROVIDER = "unsplash"
MAX_PER_PAGE = 30


def _reason(resp: requests.Response) -> str:
    # Unsplash answers an exhausted hourly allowance with 403 "Rate Limit Exceeded", not 429.
    return "rate_limited" if resp.status_code == 403 and "rate limit" in resp.text.lower() else ""


class UnsplashSearch:
    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.unsplash_base_url.rstrip("/")
        key = settings.unsplash_access_key.get_secret_value()
        self._headers = {"Authorization": f"Client-ID {key}", "Accept-Version": "v1"}
        self._api = HttpApi(PROVIDER, timeout_s=settings.stock_timeout_s, reason_for=_reason)
        self._width, self._height = settings.video_width, settings.video_height
        self._max_bytes = settings.media_max_download_bytes
        self._download_locations: dict[str, str] = {}

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        if kind != "photo":
            return []  # Unsplash has no footage: the chain's stills-only link
        what = f"search {query!r}"
        resp = self._api.request(
            "GET",
            f"{self._base_url}/search/photos",
            what,
            params={"query": query, "per_page": max(1, min(count, MAX_PER_PAGE)), "orientation": "landscape"},
            headers=self._headers,
        )
        items = []
        for photo in self._api.json(resp, what).get("results", []):
            raw = (photo.get("urls") or {}).get("raw")
            if not raw:
                continue
            item_id = str(photo["id"])
            location = (photo.get("links") or {}).get("download_location")
            if location:
                self._download_locations[item_id] = location
            items.append(
                MediaItem(
                    PROVIDER, item_id, sized_url(raw, self._width, self._height), self._width, self._height
                )
            )
        return items[:count]

    @contextlib.contextmanager
    def fetch(self, item: MediaItem) -> Iterator[Fetched]:
        location = self._download_locations.get(item.item_id)
        if location:  # counts the download for the photographer (API guidelines); the body is a URL
            self._api.request(
                "GET", location, f"download report {item.item_id}", headers=self._headers
            ).close()
        with self._api.fetch(
            item.url, f"download {item.item_id}", expect="image/", max_bytes=self._max_bytes
        ) as f:
            yield f
