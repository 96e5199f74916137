"""A small process supervisor for running the whole system on one machine.

Why not honcho: honcho stops its children with SIGTERM to each process
group, and SIGTERM to qcluster's whole group can hang it (django-q2 issue
346). Here every child runs in its own session (so the terminal's Ctrl-C
reaches only us), is stopped with SIGTERM to its main process only, which
lets qcluster shut its workers down itself, and whatever is still alive after
the grace period is killed with its whole group, so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

logger = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - argv is ours, not user input
            self.argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=_relay, args=(self.name, self.process.stdout), daemon=True).start()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_main(self, signum: int) -> None:
        if self.running():
            self.process.send_signal(signum)

    def kill_group(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _relay(name: str, stream: IO[bytes]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        sys.stdout.write(f"{name:>8} | {line}\n")
        sys.stdout.flush()


class Supervisor:
    def __init__(self, children: list[Child], *, grace_seconds: float = 12.0) -> None:
        self.children = children
        self.grace_seconds = grace_seconds
        self.stopping = False

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self, env: dict[str, str] | None = None) -> int:
        """Start every child, wait for a signal or a child's death, stop all; the exit code."""
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        environment = env or dict(os.environ)
        for child in self.children:
            child.start(environment)
            logger.info("started %s (pid %s): %s", child.name, child.process.pid, child.argv)
        exit_code = 0
        while not self.stopping:
            dead = [c for c in self.children if not c.running()]
            if dead:
                for child in dead:
                    logger.error("%s exited with %s; stopping everything", child.name,
                                 child.process.returncode)  # fmt: skip
                exit_code = 1
                break
            time.sleep(0.2)
        self.stop()
        return exit_code

    def stop(self) -> None:
        logger.info("stopping: SIGTERM to each process's main pid")
        for child in self.children:
            child.signal_main(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and any(c.running() for c in self.children):
            time.sleep(0.1)
        for child in self.children:
            if child.running():
                logger.warning("%s did not stop in %.0f s; killing it", child.name,
                               self.grace_seconds)  # fmt: skip
            # Also reaps any grandchild that outlived its parent.
            child.kill_group()
            if child.process is not None:
                child.process.wait()
        logger.info("all processes stopped")
