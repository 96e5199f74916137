"""Real endpoints for the health checks: raw socket servers that misbehave on purpose."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest


class RawServer:
    """A loopback TCP server whose every connection is handled by `behave(conn, stop)`."""

    def __init__(self, behave: Callable[[socket.socket, threading.Event], None]) -> None:
        self._behave = behave
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(5)
            conn.recv(65536)  # the request
            self._behave(conn, self._stop)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(timeout=2)


def hang(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read the request, never answer."""
    stop.wait(30)


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then the body one byte at a time, forever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.2):
        conn.sendall(b"x")


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """The status line and headers one byte at a time."""
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 10000:
        if stop.wait(0.2):
            return
        conn.sendall(bytes([byte]))


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(behave: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        servers.append(RawServer(behave))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback port nothing listens on."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/health"


def elapsed(func: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    value = func()
    return value, time.monotonic() - started
