"""StockMediaSearch adapter for the premium provider the seed names, Shutterstock ($0.50 per asset):
`GET /v2/images/search` with a bearer token; fetching an item licenses it (`POST /v2/images/licenses`)
and streams the licensed download. The media chain reserves the asset's price before fetching."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from shared.config import Settings
from shared.content.http_api import HttpApi
from shared.ports import Fetched, MediaItem, ProviderError

PROVIDER = "shutterstock"
MAX_PER_PAGE = 50


class ShutterstockSearch:
    name = PROVIDER

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.shutterstock_base_url.rstrip("/")
        token = settings.shutterstock_api_token.get_secret_value()
        self._headers = {"Authorization": f"Bearer {token}"}
        self._api = HttpApi(PROVIDER, timeout_s=settings.stock_timeout_s)
        self._max_bytes = settings.media_max_download_bytes

    def search(self, query: str, *, count: int, kind: str = "photo") -> list[MediaItem]:
        if kind != "photo":
            return []
        what = f"search {query!r}"
        resp = self._api.request(
            "GET",
            f"{self._base_url}/v2/images/search",
            what,
            params={
                "query": query,
                "per_page": max(1, min(count, MAX_PER_PAGE)),
                "orientation": "horizontal",
            },
            headers=self._headers,
        )
        items = []
        for image in self._api.json(resp, what).get("data", []):
            preview = (
                (image.get("assets") or {}).get("huge_thumb")
                or (image.get("assets") or {}).get("preview")
                or {}
            )
            items.append(
                MediaItem(
                    PROVIDER,
                    str(image["id"]),
                    preview.get("url", ""),
                    preview.get("width", 0),
                    preview.get("height", 0),
                )
            )
        return items[:count]

    @contextlib.contextmanager
    def fetch(self, item: MediaItem) -> Iterator[Fetched]:
        what = f"license {item.item_id}"
        resp = self._api.request(
            "POST",
            f"{self._base_url}/v2/images/licenses",
            what,
            json={"images": [{"image_id": item.item_id, "size": "huge"}]},
            headers=self._headers,
        )
        body = self._api.json(resp, what)
        licensed = next((d for d in body.get("data", []) if str(d.get("image_id")) == item.item_id), None)
        url = ((licensed or {}).get("download") or {}).get("url")
        if not url:
            errors = "; ".join(str(e.get("message", e)) for e in body.get("errors", [])) or "no download URL"
            raise ProviderError(
                f"shutterstock {what}: {errors}", transient=False, provider=PROVIDER, reason="license_failed"
            )
        with self._api.fetch(
            url, f"download {item.item_id}", expect="image/", max_bytes=self._max_bytes
        ) as f:
            yield f
