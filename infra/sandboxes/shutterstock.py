"""Shutterstock API sandbox (the premium stock provider, $0.50 an asset): `GET /v2/images/search` with a
bearer token in Shutterstock's shape (`page`, `per_page`, `total_count`, `search_id`, `data[]` with `id`,
`aspect`, `description`, `image_type`, `assets{preview, small_thumb, large_thumb, huge_thumb}`), and
licensing, `POST /v2/images/licenses {"images": [{"image_id"}]}` -> `data[]` with `download.url` (a signed
link served at `/_media/licensed/<id>.jpg`). `GET /_control/licenses` lists what was licensed (= paid)."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.base import empty_requested, make_sandbox_app
from infra.sandboxes.stock import StockState, photo_id, total_results
from infra.sandboxes.stock_common import install_common, photo_response, rate_headers

MAX_PER_PAGE = 500


def shutterstock_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    return {"message": message or reason or f"HTTP {status}"}


def _error(status: int, message: str) -> Response:
    resp = jsonify(shutterstock_error_body(status, "", message))
    resp.status_code = status
    return resp


def _asset(host: str, item_id: str, name: str, width: int, height: int) -> dict[str, Any]:
    return {
        "width": width,
        "height": height,
        "url": f"{host}/_media/preview/{item_id}.jpg?w={width}&h={height}",
    }


def create_app(*, rate_limit: int = 100, rate_window_s: int = 60) -> Flask:
    app = make_sandbox_app("shutterstock", error_body=shutterstock_error_body)
    state = StockState(rate_limit, rate_window_s)
    app.extensions["stock_state"] = state
    licenses: list[dict[str, Any]] = []
    lock = threading.Lock()
    install_common(app, state, _error)

    def _guard() -> tuple[Response | None, dict[str, str]]:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "Unauthorized"), {}
        allowed, headers = rate_headers(state)
        if not allowed:
            resp = _error(429, "Too Many Requests")
            resp.headers.update(headers)
            resp.headers["Retry-After"] = "60"
            return resp, headers
        return None, headers

    @app.get("/v2/images/search")
    def search() -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        query = " ".join((request.args.get("query") or "").split())
        try:
            per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 20))))
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return _error(400, "per_page and page must be integers")
        total = 0 if (not query or empty_requested()) else total_results(f"shutterstock {query}")
        cap = state.cap_for(query)
        if cap is not None:
            total = min(total, cap)
        host = request.host_url.rstrip("/")
        data = []
        first = (page - 1) * per_page
        for index in range(first, min(first + per_page, total)):
            item_id = str(photo_id(f"shutterstock {query}", index))
            with state.lock:
                state.words[int(item_id)] = query.split()[0]
            data.append(
                {
                    "id": item_id,
                    "aspect": 1.7778,
                    "description": f"{query.capitalize()}, premium photo {index + 1}",
                    "image_type": "photo",
                    "media_type": "image",
                    "contributor": {"id": str(200 + index % 17)},
                    "assets": {
                        "preview": _asset(host, item_id, "preview", 450, 253),
                        "small_thumb": _asset(host, item_id, "small_thumb", 100, 56),
                        "large_thumb": _asset(host, item_id, "large_thumb", 150, 84),
                        "huge_thumb": _asset(host, item_id, "huge_thumb", 260, 146),
                    },
                }
            )
        search_id = hashlib.sha256(f"{query}{time.time_ns()}".encode()).hexdigest()[:20]
        resp = jsonify(
            {"page": page, "per_page": per_page, "total_count": total, "search_id": search_id, "data": data}
        )
        resp.headers.update(headers)
        return resp

    @app.post("/v2/images/licenses")
    def license_images() -> Response:
        refused, headers = _guard()
        if refused is not None:
            return refused
        body = request.get_json(silent=True) or {}
        images = body.get("images")
        if not isinstance(images, list) or not images:
            return _error(400, "images must be a non-empty list")
        host = request.host_url.rstrip("/")
        data, errors = [], []
        for image in images:
            image_id = str((image or {}).get("image_id", ""))
            if not image_id.isdigit():
                errors.append({"message": f"Invalid image_id {image_id!r}", "items": [image]})
                continue
            token = hashlib.sha256(f"license{image_id}".encode()).hexdigest()[:16]
            with lock:
                licenses.append({"image_id": image_id, "price_usd": "0.50", "ts": time.time()})
            data.append(
                {
                    "image_id": image_id,
                    "download": {"url": f"{host}/_media/licensed/{image_id}.jpg?token={token}"},
                    "allotment_charge": 1,
                }
            )
        resp = jsonify({"data": data, "errors": errors})
        resp.headers.update(headers)
        return resp

    @app.get("/_control/licenses")
    def _licenses() -> Response:
        with lock:
            return jsonify({"licenses": list(licenses)})

    @app.get("/_media/preview/<int:item_id>.jpg")
    @app.get("/_media/licensed/<int:item_id>.jpg")
    def media(item_id: int) -> Response:
        with state.lock:
            word = state.words.get(item_id, "premium")
        return photo_response(item_id, word)

    return app
