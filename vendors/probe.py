"""One health probe of one vendor: a bounded HTTP GET, and the SSRF guard on its URL.

A probe never touches the database (hundreds run at once in a sweep's thread
pool, and PostgreSQL allows about 100 connections): it returns a ProbeResult
and the sweep writes the results from one thread.

The timeout bounds the whole request, connect to last byte. requests' own
timeout applies to each socket operation, so a server trickling a byte a
second would never trip it: the body is read as it arrives with the clock checked
after each read, and a watchdog thread shuts the socket down at the deadline
(which also covers a status line or headers trickled byte by byte).
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_BODY_BYTES = 64 * 1024
_CHUNK_BYTES = 8 * 1024
ALLOWED_SCHEMES = ("http", "https")
USER_AGENT = "backoffice-health-check/1"


@dataclass(frozen=True)
class ProbeResult:
    vendor_id: int
    ok: bool
    status_code: int | None
    response_time_ms: int | None
    error: str
    checked_at: datetime


class UnsafeURL(ValueError):
    """The URL may not be probed (scheme, or an address inside our own network)."""


# --- SSRF guard ----------------------------------------------------------------


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        address = mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # shared (100.64/10), documentation ranges and the like
    )


def resolve_public_address(url: str) -> str | None:
    """Check `url` may be probed; return the address to connect to (None: connect by name).

    Raises UnsafeURL with a message fit for a person. With
    HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS only the scheme is checked.
    """
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise UnsafeURL(f"Only http and https URLs can be checked, not {parts.scheme or 'none'}.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UnsafeURL(f"The URL's port is not valid ({exc}).") from exc
    if not host:
        raise UnsafeURL("The URL has no host.")
    if settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS:
        return None
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host} does not resolve ({exc}).") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    internal = sorted({str(a) for a in addresses if _is_internal(a)})
    if internal:
        # Every address is checked: a name with one public and one private
        # address could otherwise be steered to the private one.
        raise UnsafeURL(
            f"The host {host} resolves to {', '.join(internal)}: private, loopback, link-local, "
            "multicast and reserved addresses may not be checked "
            "(HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS is off)."
        )
    return str(addresses[0])


# --- the watchdog -------------------------------------------------------------


class _Watchdog:
    """One thread that shuts down the sockets of probes past their deadline.

    shutdown() (not close()) wakes a thread blocked in recv() on the socket.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, object]] = []
        self._done: set[int] = set()
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, connection: object) -> int:
        with self._cond:
            token = next(self._counter)
            heapq.heappush(self._heap, (deadline, token, connection))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="probe-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()
            return token

    def forget(self, token: int) -> None:
        with self._cond:
            self._done.add(token)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._done.clear()
                    self._cond.wait()
                deadline, token, connection = self._heap[0]
                delay = deadline - time.monotonic()
                if token not in self._done and delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                expired = token not in self._done
                self._done.discard(token)
            if expired:
                _shut_down(connection)


def _shut_down(connection: object) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_watchdog = _Watchdog()
_deadline = threading.local()


class _WatchMixin:
    """Hands each connection to the watchdog before the request goes out."""

    def _make_request(self, conn, *args, **kwargs):  # type: ignore[no-untyped-def]
        _deadline.tokens.append(_watchdog.watch(_deadline.at, conn))
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPPool(_WatchMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchMixin, HTTPSConnectionPool):
    pass


class _ProbeAdapter(HTTPAdapter):
    """Watched connections; for a pinned address, TLS still checks the vendor's name."""

    def __init__(self, hostname: str | None) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0, pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if self._hostname and host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._hostname
            pool_kwargs["assert_hostname"] = self._hostname
        return host_params, pool_kwargs


def _pinned(url: str, address: str) -> tuple[str, str]:
    """The URL with its host replaced by `address`, and the Host header to send."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc_host = f"[{address}]" if ":" in address else address
    port = f":{parts.port}" if parts.port else ""
    host_header = (f"[{host}]" if ":" in host else host) + port
    return urlunsplit(parts._replace(netloc=netloc_host + port)), host_header


# --- the probe ----------------------------------------------------------------


def probe(vendor_id: int, url: str, *, timeout: float | None = None) -> ProbeResult:
    """GET `url` once; ok means a 2xx within the timeout. Never raises."""
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS if timeout is None else timeout
    checked_at = timezone.now()
    started = time.monotonic()
    deadline = started + timeout

    def result(ok: bool, status: int | None, error: str = "") -> ProbeResult:
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return ProbeResult(vendor_id, ok, status, elapsed_ms, error[:1000], checked_at)

    try:
        status = _get(url, deadline)
    except UnsafeURL as exc:
        return result(False, None, f"refused: {exc}")
    except _DeadlinePassed:
        return result(False, None, f"timed out after {timeout:g} s")
    except Exception as exc:  # a probe must never take the sweep down
        if time.monotonic() >= deadline:  # the watchdog cut the connection
            return result(False, None, f"timed out after {timeout:g} s")
        if isinstance(exc, requests.RequestException):
            return result(False, None, _describe(exc))
        return result(False, None, f"{type(exc).__name__}: {exc}")
    code, error = status
    return result(not error and 200 <= code < 300, code, error)


class _DeadlinePassed(Exception):
    pass


def _get(url: str, deadline: float) -> tuple[int, str]:
    """(status code, error or ''), reading at most MAX_BODY_BYTES of the body."""
    address = resolve_public_address(url)
    hostname = urlsplit(url).hostname
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"}
    target = url
    if address is not None:  # connect to the address we checked, not a second lookup
        target, headers["Host"] = _pinned(url, address)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlinePassed
    _deadline.at, _deadline.tokens = deadline, []
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment: they would skip the guard
    adapter = _ProbeAdapter(hostname if address is not None else None)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        response = session.get(
            target,
            headers=headers,
            allow_redirects=False,
            stream=True,
            timeout=(remaining, remaining),
        )
        try:
            _read_body(response, deadline)
        finally:
            response.close()  # closes the connection: the rest of a large body is never read
    finally:
        session.close()
        for token in _deadline.tokens:
            _watchdog.forget(token)
    if response.is_redirect:
        return response.status_code, (
            f"HTTP {response.status_code} redirect to "
            f"{response.headers.get('Location', '?')[:200]} (redirects are not followed)"
        )
    if not 200 <= response.status_code < 300:
        return response.status_code, f"HTTP {response.status_code} {response.reason or ''}".strip()
    return response.status_code, ""


def _read_body(response: requests.Response, deadline: float) -> None:
    """Read up to MAX_BODY_BYTES, checking the clock after every read.

    read1() returns whatever has arrived (iter_content would wait for a full
    chunk: a trickling server would hold it far past the deadline). The body
    is not decoded: only its arrival matters.
    """
    read = 0
    while read < MAX_BODY_BYTES:
        chunk = response.raw.read1(_CHUNK_BYTES, decode_content=False)
        if time.monotonic() >= deadline:
            raise _DeadlinePassed
        if not chunk:
            return
        read += len(chunk)


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout | requests.ReadTimeout):
        return f"timed out ({exc.__class__.__name__})"
    if isinstance(exc, requests.ConnectionError):
        reason = str(exc)
        if "Connection refused" in reason:
            return "connection refused"
        return f"connection error: {reason[:300]}"
    return f"{exc.__class__.__name__}: {str(exc)[:300]}"
