"""Run localstripe bound to loopback, keeping its data where we say.

Runs with the python of localstripe's own virtualenv (`.venv-localstripe`), so it imports nothing of the
project. Usage: `python localstripe_main.py --port PORT [--host 127.0.0.1] [--data-file PATH]`.

Upstream listens on every interface (`::`) and pickles its store to the fixed path
/tmp/localstripe.pickle after every write, so two instances (the local cloud and a test run) would
overwrite each other's file; here each instance starts empty and keeps its own file (or none).
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import socket
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default=os.environ.get("YTEMPIRE_LOCALSTRIPE_BIND_HOST", "127.0.0.1"))
    parser.add_argument("--data-file", default="", help="pickle the store here after each write")
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    def dump_to_disk(store) -> None:
        if args.data_file:
            with open(args.data_file, "wb") as f:
                pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk  # type: ignore[method-assign]

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(sys.stdout))
    print(f"localstripe listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(server.app, sock=sock, access_log=logger, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
