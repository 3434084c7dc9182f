"""StockMediaSearch adapter for Pexels (photos; videos answer the same port with kind="video"), over one
`requests.Session` per instance. 429 and 5xx are transient ProviderErrors; the API key goes only to the API,
never to the image CDN."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from shared.config import Settings
from shared.ports import MediaItem, ProviderError

PROVIDER = "pexels"
MAX_PER_PAGE = 80  # Pexels' ceiling


def sized_url(url: str, width: int, height: int) -> str:
    """Ask Pexels' image CDN for a crop at exactly width x height (it resizes by query parameters)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({"auto": "compress", "cs": "tinysrgb", "fit": "crop", "w": str(width), "h": str(height)})
    return urlunsplit(parts._replace(query=urlencode(query)))


class PexelsSearch:
    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.pexels_base_url.rstrip("/")
        self._api_key = settings.pexels_api_key.get_secret_value()
        self._timeout_s = settings.pexels_timeout_s
        self._width, self._height = settings.video_width, settings.video_height
        self._session = requests.Session()
        self.rate_limit_remaining: int | None = None  # from X-Ratelimit-Remaining, for metrics

    def _raise_for(self, resp: requests.Response, what: str) -> None:
        if resp.status_code < 400:
            return
        try:
            detail = resp.json().get("error", "")
        except ValueError:
            detail = resp.text[:200]
        transient = resp.status_code == 429 or resp.status_code >= 500 or resp.status_code == 408
        raise ProviderError(
            f"Pexels {what}: HTTP {resp.status_code}: {detail}",
            transient=transient,
            provider=PROVIDER,
            reason="rate_limited" if resp.status_code == 429 else f"http_{resp.status_code}",
        )

    def _get(
        self, url: str, what: str, *, params: dict | None = None, headers: dict | None = None
    ) -> requests.Response:
        try:
            resp = self._session.get(url, params=params, headers=headers, timeout=self._timeout_s)
        except requests.exceptions.Timeout:
            raise ProviderError(
                f"Pexels {what}: timed out", transient=True, provider=PROVIDER, reason="timeout"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ProviderError(
                f"Pexels {what}: {type(exc).__name__}", transient=True, provider=PROVIDER, reason="connection"
            ) from None
        self._raise_for(resp, what)
        return resp

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        if kind not in ("photo", "video"):
            raise ValueError(f"kind must be 'photo' or 'video', not {kind!r}")
        path = "/v1/search" if kind == "photo" else "/videos/search"
        resp = self._get(
            f"{self._base_url}{path}",
            f"search {query!r}",
            params={"query": query, "per_page": max(1, min(count, MAX_PER_PAGE)), "page": 1},
            headers={"Authorization": self._api_key},
        )
        remaining = resp.headers.get("X-Ratelimit-Remaining")
        if remaining is not None and remaining.isdigit():
            self.rate_limit_remaining = int(remaining)
        try:
            body = resp.json()
        except ValueError:
            raise ProviderError(
                f"Pexels search {query!r}: response is not JSON",
                transient=True,
                provider=PROVIDER,
                reason="bad_body",
            ) from None
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

    def download(self, item: MediaItem) -> bytes:
        resp = self._get(item.url, f"download {item.item_id}")
        content_type = resp.headers.get("Content-Type", "")
        expected = "image/" if item.kind == "photo" else "video/"
        if not content_type.startswith(expected):
            raise ProviderError(
                f"Pexels download {item.item_id}: got {content_type or 'no content type'}",
                transient=False,
                provider=PROVIDER,
                reason="bad_content_type",
            )
        return resp.content
