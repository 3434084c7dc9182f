"""Run the sandbox servers (YouTube, OpenAI, Google TTS, ElevenLabs, Pexels-shaped stock, Pixabay, Unsplash,
Shutterstock) in one process, each on its port.

python -m infra.local.sandbox_host --port youtube=9001 --port openai=9002 --port tts=9003 --port stock=9004
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

SANDBOXES = {
    "youtube": "infra.sandboxes.youtube",
    "openai": "infra.sandboxes.openai_api",
    "tts": "infra.sandboxes.tts",
    "stock": "infra.sandboxes.stock",
    "elevenlabs": "infra.sandboxes.elevenlabs",
    "pixabay": "infra.sandboxes.pixabay",
    "unsplash": "infra.sandboxes.unsplash",
    "shutterstock": "infra.sandboxes.shutterstock",
}


def main(argv: list[str] | None = None) -> int:
    from infra.sandboxes.base import ServerThread

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", action="append", default=[], metavar="NAME=PORT")
    args = parser.parse_args(argv)
    servers = []
    for item in args.port:
        name, _, port = item.partition("=")
        if name not in SANDBOXES:
            parser.error(f"unknown sandbox {name!r}; known: {', '.join(SANDBOXES)}")
        app = importlib.import_module(SANDBOXES[name]).create_app()
        servers.append(ServerThread(app, args.host, int(port)).start())
        print(f"sandbox {name} ready on {servers[-1].url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for s in servers:
        s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
