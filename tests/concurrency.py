"""Running the same work in several threads at once, as two worker clusters would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import close_old_connections, connections

T = TypeVar("T")


def run_at_once(work: Callable[[], T], *, threads: int = 2, timeout: float = 60.0) -> list[T]:
    """Call `work` in `threads` threads released together; return what each returned.

    Each thread uses its own database connection and closes it afterwards
    (CONN_MAX_AGE would keep it open and the test database could not be
    dropped). An exception in any thread is raised here, not lost.
    """
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=timeout)
            results.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    if any(worker.is_alive() for worker in workers):
        raise TimeoutError(f"work still running after {timeout} s")
    if errors:
        raise errors[0]
    return results


def wait_until(
    predicate: Callable[[], T], *, timeout: float = 10.0, what: str = "", every: float = 0.02
) -> T:
    """Poll for what another thread or process brings about (never for time to pass);
    return the predicate's first truthy value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
