"""Pixabay API sandbox: `GET /api/?key=&q=&image_type=&per_page=&page=` in Pixabay's shape (`total`,
`totalHits`, `hits[]` with `id`, `pageURL`, `tags`, `previewURL`, `webformatURL`, `largeImageURL`,
`imageWidth`, `imageHeight`, `user`, ...), `GET /api/videos/` (no videos yet), the key as a query
parameter, errors as text (`[ERROR 400] ...`), `X-RateLimit-*` headers and 100 requests per 60 s by
default, then 429. Images are served at `/_media/photos/<id>.jpg`. Control: shared surface + results caps."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.base import empty_requested, make_sandbox_app
from infra.sandboxes.stock import PHOTO_HEIGHT, PHOTO_WIDTH, StockState, photo_id, total_results
from infra.sandboxes.stock_common import install_common, photo_response, rate_headers

MIN_PER_PAGE, MAX_PER_PAGE = 3, 200
MAX_TOTAL_HITS = 500  # Pixabay returns at most 500 hits per query


def pixabay_error_body(status: int, reason: str, message: str) -> Any:
    return f"[ERROR {status}] {message or reason or 'sandbox fault'}"


def _error(status: int, message: str) -> Response:
    return Response(f"[ERROR {status}] {message}", status, mimetype="text/plain")


def create_app(*, rate_limit: int = 100, rate_window_s: int = 60) -> Flask:
    app = make_sandbox_app("pixabay", error_body=pixabay_error_body)
    state = StockState(rate_limit, rate_window_s)
    app.extensions["stock_state"] = state
    install_common(app, state, _error)

    def _guard() -> tuple[Response | None, dict[str, str]]:
        if not (request.args.get("key") or "").strip():
            return _error(400, "Invalid or missing API key (https://pixabay.com/api/docs/)."), {}
        allowed, headers = rate_headers(state, "X-RateLimit")
        if not allowed:
            resp = _error(429, "Too many requests")
            resp.headers.update(headers)
            resp.headers["Retry-After"] = str(max(1, int(headers["X-RateLimit-Reset"]) - int(time.time())))
            return resp, headers
        return None, headers

    @app.get("/api/")
    def search() -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        query = " ".join((request.args.get("q") or "").split())
        try:
            per_page = int(request.args.get("per_page", 20))
            page = int(request.args.get("page", 1))
        except ValueError:
            return _error(400, '"per_page" and "page" must be integers.')
        if not MIN_PER_PAGE <= per_page <= MAX_PER_PAGE:
            return _error(400, '"per_page" is out of valid range.')
        if len(query) > 100:
            return _error(400, '"q" is longer than 100 characters.')
        total = 0 if (not query or empty_requested()) else total_results(f"pixabay {query}")
        cap = state.cap_for(query)
        if cap is not None:
            total = min(total, cap)
        host = request.host_url.rstrip("/")
        word = query.split()[0] if query else "pixabay"
        hits = []
        first = (page - 1) * per_page
        for index in range(first, min(first + per_page, total, MAX_TOTAL_HITS)):
            item_id = photo_id(f"pixabay {query}", index)
            with state.lock:
                state.words[item_id] = word
            image = f"{host}/_media/photos/{item_id}.jpg"
            hits.append(
                {
                    "id": item_id,
                    "pageURL": f"{host}/photos/{query.replace(' ', '-')}-{item_id}/",
                    "type": "photo",
                    "tags": ", ".join(query.split()[:3]),
                    "previewURL": f"{image}?w=150",
                    "previewWidth": 150,
                    "previewHeight": 84,
                    "webformatURL": f"{image}?w=640",
                    "webformatWidth": 640,
                    "webformatHeight": 360,
                    "largeImageURL": f"{image}?w=1280",
                    "imageWidth": PHOTO_WIDTH,
                    "imageHeight": PHOTO_HEIGHT,
                    "imageSize": 500_000 + item_id % 100_000,
                    "views": item_id % 10_000,
                    "downloads": item_id % 5_000,
                    "likes": item_id % 500,
                    "comments": item_id % 50,
                    "user_id": 1000 + item_id % 97,
                    "user": f"photographer{item_id % 97}",
                    "userImageURL": "",
                }
            )
        resp = jsonify({"total": total, "totalHits": min(total, MAX_TOTAL_HITS), "hits": hits})
        resp.headers.update(headers)
        return resp

    @app.get("/api/videos/")
    def videos() -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        resp = jsonify({"total": 0, "totalHits": 0, "hits": []})
        resp.headers.update(headers)
        return resp

    @app.get("/_media/photos/<int:item_id>.jpg")
    def photo_file(item_id: int) -> Response:
        with state.lock:
            word = state.words.get(item_id, "pixabay")
        return photo_response(item_id, word)

    return app
