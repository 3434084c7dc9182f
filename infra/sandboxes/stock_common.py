"""What the stock sandboxes (Pexels-, Pixabay-, Unsplash- and Shutterstock-shaped) share: deterministic
results per query, generated JPEGs served at any requested size, result caps and a rate-limit window
(`POST /_control/results {"query", "total"}`, `POST /_control/empty {"on"}`, reset by `/_control/reset`)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from infra.sandboxes.stock import MAX_MEDIA_SIDE, PHOTO_HEIGHT, PHOTO_WIDTH, StockState, make_jpeg


def install_common(app: Flask, state: StockState, error: Any) -> None:
    """Result caps, the empty switch, and reset of both (with the rate window) on `/_control/reset`."""
    base_reset = app.view_functions["_reset"]

    def _reset_all() -> Any:
        state.reset()
        return base_reset()

    app.view_functions["_reset"] = _reset_all

    @app.post("/_control/results")
    def _results() -> Response:
        body = request.get_json(silent=True) or {}
        query, total = body.get("query", ""), body.get("total")
        if not isinstance(query, str) or not isinstance(total, int) or total < 0:
            return error(400, 'body must be {"query": str, "total": int >= 0}')
        with state.lock:
            state.result_caps[query] = total
        return jsonify({"ok": True})

    @app.post("/_control/empty")
    def _empty() -> Response:
        body = request.get_json(silent=True) or {}
        with state.lock:
            if body.get("on", True):
                state.result_caps[""] = 0
            else:
                state.result_caps.pop("", None)
        return jsonify({"ok": True})


def rate_headers(state: StockState, prefix: str = "X-Ratelimit") -> tuple[bool, dict[str, str]]:
    allowed, remaining, reset = state.spend()
    return allowed, {
        f"{prefix}-Limit": str(state.rate_limit),
        f"{prefix}-Remaining": str(remaining),
        f"{prefix}-Reset": str(reset),
    }


def photo_response(
    item_id: int, word: str, default: tuple[int, int] = (PHOTO_WIDTH, PHOTO_HEIGHT)
) -> Response:
    """A JPEG at `?w=&h=` (one side keeps the aspect ratio), like an imgix image CDN."""
    try:
        width, height = int(request.args.get("w", 0)), int(request.args.get("h", 0))
    except ValueError:
        return Response("w and h must be integers", 400, mimetype="text/plain")
    if width and not height:
        height = round(width * default[1] / default[0])
    elif height and not width:
        width = round(height * default[0] / default[1])
    width, height = width or default[0], height or default[1]
    if not (0 < width <= MAX_MEDIA_SIDE and 0 < height <= MAX_MEDIA_SIDE):
        return Response(f"w and h must be in 1..{MAX_MEDIA_SIDE}", 400, mimetype="text/plain")
    return Response(make_jpeg(item_id, width, height, word), 200, mimetype="image/jpeg")
