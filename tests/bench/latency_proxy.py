"""A TCP proxy that adds a fixed one-way delay to every byte in both directions, for benchmarks that want
the round trip a function instance has to Firestore in production (a few to tens of milliseconds) in
front of a local emulator that answers in well under one.

Bytes keep their order and are not throttled: each chunk is forwarded `delay` after it arrived, so a
connection carrying many concurrent requests (gRPC over HTTP/2) delays each of them by the same amount
instead of queueing them behind each other. Runs its own event loop in a daemon thread.

    with LatencyProxy("127.0.0.1:8080", one_way_s=0.005) as proxy:
        client = connect(proxy.host_port)   # every round trip now takes ~10 ms more
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any


class LatencyProxy:
    def __init__(self, upstream: str, one_way_s: float) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host or "127.0.0.1", int(port))
        self.one_way_s = one_way_s
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency-proxy", daemon=True)
        self.host_port = ""

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self.host_port = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: Any) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            # every task ends here, so none is left pending for the garbage collector to complain about
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _connection(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        writers = [down_w]
        try:
            up_r, up_w = await asyncio.open_connection(*self._upstream)
            writers.append(up_w)
            await asyncio.gather(self._pipe(down_r, up_w), self._pipe(up_r, down_w))
        except OSError:
            pass  # upstream unreachable, or a side went away: close both
        finally:
            for w in writers:
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read chunks as they come; write each one `one_way_s` after it arrived, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = loop.create_task(send())
        try:
            while True:
                data = await reader.read(1 << 16)
                queue.put_nowait((loop.time() + self.one_way_s, data))
                if not data:
                    break
            await sender
        except (OSError, asyncio.IncompleteReadError):
            pass  # the peer went away: close both sides
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
