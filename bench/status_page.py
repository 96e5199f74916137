"""Benchmark: the admin's status page with 200,000 open orders (goal: under a second).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/status_page.py

Loads 200,000 open and 50,000 closed orders (COPY), 30,000 SLA alerts, 200
vendors with 100,000 probe rows, 5,000 escalation executions and 2,000
notifications into its own database, then times the status page through
Django's test client, against the admin's index page as the baseline (the
cost of any admin page: session, user, template).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from _common import bench_database, median_time, setup_django

OPEN_ORDERS = 200_000
CLOSED_ORDERS = 50_000
NOW = datetime.now(UTC)


def load(rng: random.Random) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from escalation.models import EscalationExecution, EscalationRule
    from notifications.models import AdminNotification
    from sla.models import SLAAlert
    from vendors.models import Vendor, VendorPerformance

    with connection.connection.cursor() as cur:
        with cur.copy("COPY clients (id, name, tier, created_at) FROM STDIN") as copy:
            for n in range(100):
                copy.write_row((f"client-{n}", f"Client {n}", "standard", NOW))
        columns = "id, client_id, package_id, package_type, status, created_at, updated_at"
        with cur.copy(f"COPY orders ({columns}) FROM STDIN") as copy:
            for n in range(OPEN_ORDERS + CLOSED_ORDERS):
                status = rng.choice(["pending", "in_progress"]) if n < OPEN_ORDERS else "completed"
                created = NOW - timedelta(minutes=rng.uniform(0, 3000))
                copy.write_row((f"ord-{n:07}", f"client-{n % 100}", f"pkg-{n % 10}",
                                "CRIMINAL", status, created, created))  # fmt: skip
    SLAAlert.objects.bulk_create(
        [SLAAlert(order_id=f"ord-{n:07}", type="warning") for n in range(20_000)]
        + [SLAAlert(order_id=f"ord-{n:07}", type="breached") for n in range(10_000)],
        batch_size=5000,
    )
    vendors = Vendor.objects.bulk_create(
        Vendor(name=f"Vendor {n}", health_check_url=f"https://v{n}.example/health")
        for n in range(200)
    )
    VendorPerformance.objects.bulk_create(
        (VendorPerformance(vendor=vendors[n % 200], ok=n % 7 != 0, response_time_ms=40,
                           checked_at=NOW - timedelta(seconds=60 * (n // 200)))
         for n in range(100_000)),
        batch_size=5000,
    )  # fmt: skip
    rule = EscalationRule.objects.create(name="r", trigger_type="SLA_BREACH", actions=[])
    EscalationExecution.objects.bulk_create(
        EscalationExecution(rule=rule, order_id=f"ord-{n:07}", trigger="SLA_BREACH",
                            occurrence=f"o{n}", due_at=NOW, status=rng.choice(["pending", "done"]))
        for n in range(5000)
    )  # fmt: skip
    user = User.objects.create_superuser("bench", "bench@example.com", "pw")
    AdminNotification.objects.bulk_create(
        AdminNotification(recipient=user, title=f"n{n}", email_status="sent") for n in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    url, drop = bench_database("bench_status")
    setup_django(url)
    try:
        from django.contrib.auth.models import User
        from django.test import Client

        load(random.Random(7))
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username="bench"))

        def get(path: str) -> None:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")

        index = median_time(lambda: get("/admin/"))
        status = median_time(lambda: get("/admin/status/"))
        print(f"open orders: {OPEN_ORDERS:,}, closed: {CLOSED_ORDERS:,}, alerts: 30,000, "
              f"vendors: 200, probe rows: 100,000")  # fmt: skip
        print(f"admin index page (baseline): {index * 1000:7.1f} ms")
        ratio = status / index
        print(f"status page:                 {status * 1000:7.1f} ms  ({ratio:.1f}x the index)")
        print(f"goal (< 1 s): {'met' if status < 1 else 'NOT met'}")
    finally:
        drop()


if __name__ == "__main__":
    main()
