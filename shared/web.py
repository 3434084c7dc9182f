"""The HTTP boundary shared by every function: body parsing, 400s that name the field, task headers.

Works on any request object with `get_json`, `headers`, `args` and `method` (Flask's, as
functions-framework passes it) without importing Flask; returns functions-framework's
`(body, status, headers)` tuples.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Reply = tuple[str, int, dict[str, str]]
JSON_HEADERS = {"Content-Type": "application/json"}


class BadRequest(Exception):
    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


def reply(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return json.dumps(body, default=str), status, {**JSON_HEADERS, **(headers or {})}


def error_reply(
    message: str, status: int, field: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return reply(body, status, headers)


def _field_of(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "body"


def parse_json_body(request: Any, model: type[M], *, max_bytes: int = 64 * 1024) -> M:
    """Validate the JSON body against `model`; BadRequest names the first field at fault."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BadRequest(f"body is {length} bytes; at most {max_bytes}", "body", status=413)
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        raise BadRequest(f"body is larger than {max_bytes} bytes", "body", status=413)
    try:
        payload = json.loads(data or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest(f"body is not valid JSON: {e}", "body") from None
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object", "body")
    return validate(model, payload)


def validate(model: type[M], payload: dict[str, Any]) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False)[0]
        field = _field_of(first)
        raise BadRequest(f"{field}: {first['msg']}", field) from None


def require_method(request: Any, *methods: str) -> None:
    if request.method not in methods:
        raise BadRequest(f"method {request.method} not allowed; use {' or '.join(methods)}", None, status=405)


def task_retry_count(request: Any) -> int:
    """Cloud Tasks tells how many times this task was retried (0 on the first delivery)."""
    raw = request.headers.get("X-CloudTasks-TaskRetryCount", "0")
    try:
        return max(0, int(raw))
    except ValueError:
        return 0
