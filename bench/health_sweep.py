"""Benchmark: one vendor-health-check sweep over N loopback vendors, 10 % of them hanging.

    .venv/bin/python bench/health_sweep.py [--vendors 1000] [--timeout 5] [--sample 20]

An asyncio server in a subprocess answers /ok/... with 200 and holds
/hang/... connections open without a byte. The sweep runs against a
throwaway SQLite database and the embedded Redis in a temporary VAR_DIR
(nothing of yours is touched). Printed: the sweep's wall time, the probe
timeout, their ratio, the database work per vendor, and a serial one-by-one
sweep of a small sample scaled to N (how a plain loop would behave).
Goal: 1,000 vendors with 100 hanging in at most 1.3 x timeout + 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- the vendors' side (runs in a subprocess) ----------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request_line = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        if b" /hang/" in request_line:
            await asyncio.sleep(3600)  # hold the connection, never answer
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def _serve() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _raise_open_file_limit(needed: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# --- the sweep's side ------------------------------------------------------------


def _setup_django(var_dir: str, timeout: float) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "true",
            "VAR_DIR": var_dir,
            "HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS": "true",
            "HEALTH_CHECK_TIMEOUT_SECONDS": str(timeout),
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendors", type=int, default=1000)
    parser.add_argument("--hanging-percent", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="probe timeout, seconds")
    parser.add_argument("--sample", type=int, default=20, help="vendors in the serial sample")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Each probe holds a socket on both ends (server and client), plus the
    # database, Redis and the interpreter's own files.
    limits = _raise_open_file_limit(2 * args.vendors + 256)
    if args.serve:
        asyncio.run(_serve())
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--vendors", str(args.vendors)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="bench-health-") as var_dir:
            _setup_django(var_dir, args.timeout)
            try:
                _run(args, port, limits)
            finally:
                from config import embedded_redis

                embedded_redis.stop()
    finally:
        server.terminate()  # our own child, by its process object
        server.wait(timeout=10)


def _vendors(count: int, hanging: int, port: int, prefix: str) -> list[int]:
    from vendors.models import Vendor

    rows = [
        Vendor(
            name=f"{prefix} {i}",
            health_check_url=f"http://127.0.0.1:{port}/{'hang' if i < hanging else 'ok'}/{i}",
        )
        for i in range(count)
    ]
    return [v.pk for v in Vendor.objects.bulk_create(rows)]


def _run(args: argparse.Namespace, port: int, limits: tuple[int, int]) -> None:
    from django.conf import settings

    from config.redis import get_redis
    from vendors.health import checked_vendors, vendor_health_sweep
    from vendors.models import Vendor
    from vendors.probe import probe

    n = args.vendors
    hanging = round(n * args.hanging_percent / 100)
    sample = min(args.sample, n)
    sample_hanging = round(sample * args.hanging_percent / 100)
    timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    get_redis().flushdb()

    serial_ids = _vendors(sample, sample_hanging, port, "serial")
    started = time.monotonic()
    for target in checked_vendors(vendor_ids=serial_ids):
        probe(target.vendor_id, target.url, timeout=timeout)
    serial = time.monotonic() - started
    Vendor.objects.filter(id__in=serial_ids).delete()

    sweep_ids = _vendors(n, hanging, port, "vendor")
    started = time.monotonic()
    report = vendor_health_sweep(vendor_ids=sweep_ids)
    wall = time.monotonic() - started
    failed = sum(not r.ok for r in report.results)

    goal = 1.3 * timeout + 1
    print(f"open-file limit (soft, hard): {limits[0]}, {limits[1]}; cores: {os.cpu_count()}")
    print(f"vendors: {n}, hanging: {hanging}, pool: {settings.VENDOR_HEALTH_CHECK_POOL_SIZE}")
    print(f"probe timeout:           {timeout:.2f} s")
    print(f"sweep wall time:         {wall:.2f} s  (probing {report.probe_seconds:.2f} s)")
    print(f"sweep / timeout:         {wall / timeout:.2f}")
    print(
        f"database + Redis work:   {report.write_seconds:.3f} s in all, "
        f"{1000 * report.write_seconds / n:.3f} ms per vendor"
    )
    print(f"probes failed:           {failed} (expected {hanging})")
    print(
        f"serial loop, sample of {sample} ({sample_hanging} hanging): {serial:.2f} s, "
        f"scaled to {n}: {serial * n / sample:.0f} s  "
        f"({serial * n / sample / wall:.0f}x the sweep)"
    )
    verdict = "met" if wall <= goal else "MISSED"
    print(f"goal (<= 1.3 x timeout + 1 s = {goal:.2f} s): {verdict}")


if __name__ == "__main__":
    main()
