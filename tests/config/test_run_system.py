"""The README's run command: the admin answers with qcluster running; Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.concurrency import wait_until
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    """Every live descendant of pid (from /proc), to prove none is left behind."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def admin_answers(url: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, "run_system exited early"
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.e2e
def test_run_system_serves_admin_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_system", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/admin/login/"
        wait_until(lambda: admin_answers(url, process), timeout=90, every=0.5, what="the admin")
        descendants = children_of(process.pid)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in descendants]
        assert any(b"qcluster" in c for c in commands)
        assert any(b"listen_events" in c for c in commands)
        assert "password:" in (tmp_path / "run.log").read_text()

        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        process.wait(timeout=15)
        assert time.monotonic() - started < 15
        time.sleep(0.5)
        assert [p for p in descendants if Path(f"/proc/{p}").exists()] == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
