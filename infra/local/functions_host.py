"""Serve every Cloud Function entry point of functions/main.py over HTTP in one process.

Each entry point is a functions-framework app (`create_app(target, source)`, as Cloud Functions builds
it) mounted at `/<entry_point>`, so Cloud Tasks (its emulator) dispatches real HTTP requests to them.

    python -m infra.local.functions_host --port 8080
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "functions" / "main.py"


def entry_points(source: Path = MAIN) -> list[str]:
    """Names of the functions decorated with functions_framework in `source` (as Terraform deploys them)."""
    from shared.manifest import entry_point_names

    return list(entry_point_names(source.read_text()))


def _not_found(environ: dict, start_response: Any) -> list[bytes]:
    start_response("404 Not Found", [("Content-Type", "application/json")])
    return [b'{"error": "no such function"}']


class _RootPath:
    """A function's URL is `/<entry_point>` with no trailing slash; the app itself expects `/`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"
        return self.app(environ, start_response)


def build_app(source: Path = MAIN) -> Any:
    import functions_framework
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    mounts = {
        f"/{name}": _RootPath(functions_framework.create_app(name, str(source)))
        for name in entry_points(source)
    }
    return DispatcherMiddleware(_not_found, mounts)


def main(argv: list[str] | None = None) -> int:
    from infra.sandboxes.base import ServerThread

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    server = ServerThread(build_app(), args.host, args.port).start()
    print(f"functions host ready on {server.url}: {', '.join(entry_points())}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
