"""The control surface every sandbox shares: fault injection, request log, reset; and a threaded server.

POST /_control/faults  {"match": "POST /upload", "status": 429, "reason": "rateLimitExceeded",
                        "times": 3, "delay_s": 0, "retry_after_s": 1, "drop_after_bytes": null,
                        "empty": false}
  - 429 with Retry-After: status 429 + retry_after_s;  a 5xx: status 500/503;
  - a timeout: delay_s longer than the client's timeout (with status < 400 the answer then comes late);
  - empty results: "empty": true — the request succeeds with nothing in it (no photos, no audio,
    an empty completion), each sandbox in its API's own shape.
GET  /_control/calls   {"calls": [{"method", "path", "status", "ts"}]}
POST /_control/reset   clears faults and the call log, keeps data
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ErrorBody = Callable[[int, str, str], Any]  # (status, reason, message) -> JSON-able body


@dataclass
class Fault:
    match: str
    status: int = 500
    reason: str = ""
    message: str = ""
    times: int = 1  # -1 = until reset
    delay_s: float = 0.0
    retry_after_s: float | None = None
    drop_after_bytes: int | None = None
    empty: bool = False

    def matches(self, method: str, path_qs: str) -> bool:
        return self.match in f"{method} {path_qs}"


class ControlState:
    """Faults and request log of one sandbox, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path_qs: str) -> Fault | None:
        """The first matching fault, consuming one of its `times`."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path_qs):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.calls.append({"method": method, "path": path, "status": status, "ts": time.time()})

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.calls.clear()


def google_error_body(status: int, reason: str, message: str) -> dict[str, Any]:
    """Google APIs' error shape (YouTube Data API, TTS REST)."""
    return {
        "error": {
            "code": status,
            "message": message or reason or "sandbox fault",
            "errors": [
                {"message": message or reason, "domain": "global", "reason": reason or "backendError"}
            ],
            "status": {
                400: "INVALID_ARGUMENT",
                401: "UNAUTHENTICATED",
                403: "PERMISSION_DENIED",
                404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED",
                503: "UNAVAILABLE",
            }.get(status, "INTERNAL"),
        }
    }


def empty_requested() -> bool:
    """Whether an `"empty": true` fault matched this request: answer successfully with no results."""
    fault = getattr(g, "fault", None)
    return bool(fault is not None and fault.empty)


def make_sandbox_app(name: str, error_body: ErrorBody = google_error_body) -> Flask:
    """A Flask app with the shared control surface. Sandbox routes are added by the caller.

    A matching fault with `drop_after_bytes` is not answered here: it is left in `g.fault` for the
    sandbox's upload handler, which reads that many bytes and then drops the connection.
    """
    app = Flask(name)
    control = ControlState()
    app.extensions["sandbox_control"] = control
    app.extensions["sandbox_resets"] = []  # a sandbox's own faults to clear on reset

    @app.before_request
    def _inject_fault() -> Response | None:
        g.fault = None
        if request.path.startswith("/_control"):
            return None
        path_qs = request.full_path.rstrip("?")
        fault = control.take_fault(request.method, path_qs)
        if fault is None:
            return None
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.drop_after_bytes is not None or fault.empty:
            g.fault = fault  # left to the sandbox's handler
            return None
        if fault.status < 400:  # a pure delay fault
            return None
        resp = jsonify(error_body(fault.status, fault.reason, fault.message))
        resp.status_code = fault.status
        if fault.retry_after_s is not None:
            resp.headers["Retry-After"] = str(int(fault.retry_after_s) if fault.retry_after_s >= 1 else 1)
        return resp

    @app.after_request
    def _log_call(resp: Response) -> Response:
        if not request.path.startswith("/_control"):
            control.record(request.method, request.path, resp.status_code)
        return resp

    @app.post("/_control/faults")
    def _add_fault() -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("match"), str):
            return Response(
                '{"error": "body must be a JSON object with a string \\"match\\""}',
                400,
                mimetype="application/json",
            )
        allowed = Fault.__dataclass_fields__.keys()
        unknown = set(body) - set(allowed)
        if unknown:
            return Response(
                f'{{"error": "unknown fields: {sorted(unknown)}"}}', 400, mimetype="application/json"
            )
        control.add_fault(Fault(**body))
        return jsonify({"ok": True, "faults": len(control.faults)})

    @app.get("/_control/faults")
    def _list_faults() -> Response:
        return jsonify({"faults": [f.__dict__ for f in control.faults]})

    @app.get("/_control/calls")
    def _calls() -> Response:
        with control._lock:
            return jsonify({"calls": list(control.calls)})

    @app.post("/_control/reset")
    def _reset() -> Response:
        control.reset()
        for clear in app.extensions["sandbox_resets"]:
            clear()
        return jsonify({"ok": True})

    @app.get("/_control/health")
    def _health() -> Response:
        return jsonify({"ok": True, "sandbox": name})

    return app


class _QuietHandler(WSGIRequestHandler):
    """No access-log line per request (the sandboxes keep their own call log)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class ServerThread:
    """A threaded WSGI server on loopback, stoppable; used by the sandbox host and by tests."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"wsgi-{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
