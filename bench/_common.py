"""Shared by the benchmarks: a throwaway PostgreSQL database, Django set up on it, timing."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _admin_url(parts) -> str:
    return urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))


def bench_database(suffix: str, *, keep: bool = False) -> tuple[str, Callable[[], None]]:
    """A fresh database beside DATABASE_URL's (never that one); its URL and a dropper."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("set DATABASE_URL=postgres://... (the benchmark creates its own database there)")
    name = f"{parts.path.lstrip('/') or 'postgres'}_{suffix}"
    with psycopg.connect(_admin_url(parts), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        if keep:
            print(f"kept database {name}")
            return
        from django.db import connections

        connections.close_all()
        with psycopg.connect(_admin_url(parts), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")), drop


def setup_django(url: str) -> None:
    """Django on `url`, migrated; logs quiet so the figures stand out."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def median_time(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
