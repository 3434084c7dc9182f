"""Unsplash API sandbox: `GET /search/photos?query=&per_page=&page=` with `Authorization: Client-ID <key>`
in Unsplash's shape (`total`, `total_pages`, `results[]` with `id`, `width`, `height`, `description`,
`alt_description`, `urls{raw, full, regular, small, thumb}`, `links{download_location}`, `user`), the
download report `GET /photos/<id>/download`, `X-Ratelimit-*` headers and, like Unsplash, 403
"Rate Limit Exceeded" once the hourly allowance (50, the demo tier) is spent. Photos at
`/_media/photos/<id>.jpg?w=&h=&fit=crop` (imgix parameters)."""

from __future__ import annotations

import math
from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.base import empty_requested, make_sandbox_app
from infra.sandboxes.stock import PHOTO_HEIGHT, PHOTO_WIDTH, StockState, photo_id, total_results
from infra.sandboxes.stock_common import install_common, photo_response, rate_headers

MAX_PER_PAGE = 30


def unsplash_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"errors": [message or reason or f"HTTP {status}"]}


def _error(status: int, message: str) -> Response:
    resp = jsonify(unsplash_error_body(status, "", message))
    resp.status_code = status
    return resp


def create_app(*, rate_limit: int = 50, rate_window_s: int = 3600) -> Flask:
    app = make_sandbox_app("unsplash", error_body=unsplash_error_body)
    state = StockState(rate_limit, rate_window_s)
    app.extensions["stock_state"] = state
    downloads: dict[str, int] = {}
    app.extensions["unsplash_downloads"] = downloads
    install_common(app, state, _error)

    def _guard() -> tuple[Response | None, dict[str, str]]:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Client-ID" or not key.strip():
            return _error(401, "OAuth error: The access token is invalid"), {}
        allowed, headers = rate_headers(state)
        if not allowed:
            resp = Response("Rate Limit Exceeded", 403, mimetype="text/plain")
            resp.headers.update(headers)
            return resp, headers
        return None, headers

    @app.get("/search/photos")
    def search() -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        query = " ".join((request.args.get("query") or "").split())
        if not query:
            return _error(400, "query is missing")
        try:
            per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 10))))
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return _error(400, "per_page and page must be integers")
        total = 0 if empty_requested() else total_results(f"unsplash {query}")
        cap = state.cap_for(query)
        if cap is not None:
            total = min(total, cap)
        host = request.host_url.rstrip("/")
        results = []
        first = (page - 1) * per_page
        for index in range(first, min(first + per_page, total)):
            numeric = photo_id(f"unsplash {query}", index)
            item_id = f"u{numeric}"
            with state.lock:
                state.words[numeric] = query.split()[0]
            raw = f"{host}/_media/photos/{item_id}.jpg?ixid=sandbox"
            results.append(
                {
                    "id": item_id,
                    "width": PHOTO_WIDTH,
                    "height": PHOTO_HEIGHT,
                    "color": "#406080",
                    "description": f"{query.capitalize()} {index + 1}",
                    "alt_description": f"{query} photo",
                    "urls": {
                        "raw": raw,
                        "full": f"{raw}&q=85",
                        "regular": f"{raw}&w=1080",
                        "small": f"{raw}&w=400",
                        "thumb": f"{raw}&w=200",
                    },
                    "links": {
                        "self": f"{host}/photos/{item_id}",
                        "html": f"{host}/photos/{item_id}",
                        "download": f"{host}/photos/{item_id}/download",
                        "download_location": f"{host}/photos/{item_id}/download?ixid=sandbox",
                    },
                    "user": {"name": f"Photographer {numeric % 31}", "username": f"p{numeric % 31}"},
                }
            )
        resp = jsonify({"total": total, "total_pages": math.ceil(total / per_page), "results": results})
        resp.headers.update(headers)
        return resp

    @app.get("/photos/<item_id>/download")
    def download_report(item_id: str) -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        with state.lock:
            downloads[item_id] = downloads.get(item_id, 0) + 1
        resp = jsonify({"url": f"{request.host_url.rstrip('/')}/_media/photos/{item_id}.jpg?ixid=sandbox"})
        resp.headers.update(headers)
        return resp

    @app.get("/_control/downloads")
    def _downloads() -> Response:
        with state.lock:
            return jsonify({"downloads": dict(downloads)})

    @app.get("/_media/photos/<item_id>.jpg")
    def photo_file(item_id: str) -> Response:
        numeric = int(item_id.lstrip("u")) if item_id.lstrip("u").isdigit() else 0
        with state.lock:
            word = state.words.get(numeric, "unsplash")
        return photo_response(numeric, word)

    return app
