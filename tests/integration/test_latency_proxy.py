"""The ledger benchmark's latency proxy: bytes arrive intact and in order over concurrent connections,
never sooner than the delay, and an end of stream passes through."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.bench.latency_proxy import LatencyProxy

pytestmark = pytest.mark.integration


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)


@pytest.fixture
def echo_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _connect(host_port: str) -> socket.socket:
    host, port = host_port.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _read_until_eof(sock: socket.socket) -> bytes:
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def test_bytes_pass_intact_and_in_order_over_concurrent_connections(echo_server):
    def one_connection(n: int) -> bool:
        payload = b"".join(f"{n}:{i};".encode() for i in range(2000))
        with _connect(proxy.host_port) as sock:
            for start in range(0, len(payload), 777):  # many small writes, interleaved with the others
                sock.sendall(payload[start : start + 777])
            sock.shutdown(socket.SHUT_WR)  # the end of stream goes through, and comes back
            return _read_until_eof(sock) == payload

    with LatencyProxy(echo_server, one_way_s=0.002) as proxy, ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one_connection, range(8)))


def test_a_round_trip_takes_at_least_the_delay_both_ways(echo_server):
    with LatencyProxy(echo_server, one_way_s=0.05) as proxy, _connect(proxy.host_port) as sock:
        started = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(16) == b"ping"
        assert time.monotonic() - started >= 0.1  # a lower bound: bytes are never forwarded early


def test_an_unreachable_upstream_closes_the_connection():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()  # nothing listens there now
    with LatencyProxy(f"127.0.0.1:{port}", one_way_s=0.001) as proxy, _connect(proxy.host_port) as sock:
        assert sock.recv(16) == b""
