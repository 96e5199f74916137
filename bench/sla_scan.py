"""Benchmark: the set-based SLA scan against reading the open orders, and against a per-order loop.

Run:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_sla .venv/bin/python bench/sla_scan.py

It creates its own database (<name>_bench_sla, dropped at the end unless --keep),
migrates it, bulk-loads 200,000 open orders (and 50,000 closed ones) across
100 clients and 10 packages with COPY, and prints:

- the detection query (no writes) with no alerts yet and in the steady state
  (every due alert exists), next to a plain SELECT of the same open orders
  (the floor) and their ratio; goal: scan <= 2x the floor;
- a seed-style loop (one config lookup and two alert lookups per order) on a
  2,000-order sample, scaled to 200,000;
- full runs that insert the alerts and announce them (per breach an outbox
  event, per 1,000 breaches one escalation task; with --ops-managers N, per
  warning one notification per manager, emailed by batch dispatch tasks), first run and
  steady state; the first run's time is also given as a share of
  TASK_TIMEOUT_SECONDS, since the job must finish inside it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from _common import bench_database, setup_django

OPEN_ORDERS = 200_000
CLOSED_ORDERS = 50_000
CLIENTS = 100
PACKAGES = 10
SAMPLE = 2_000
REPEATS = 5
NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


def load(rng: random.Random) -> None:
    """Clients, orders (COPY), SLA configs over all four scopes, then ANALYZE."""
    from django.db import connection

    from sla.models import SLAConfig

    clients = [f"client-{i:03}" for i in range(CLIENTS)]
    packages = [f"pkg-{i:02}" for i in range(PACKAGES)]
    configs = [SLAConfig(target_minutes=24 * 60)]  # the default
    configs += [SLAConfig(client_id=c, target_minutes=rng.choice([8, 12, 48]) * 60)
                for c in clients[:30]]  # fmt: skip
    configs += [SLAConfig(package_id=p, target_minutes=rng.choice([4, 72]) * 60)
                for p in packages[:5]]  # fmt: skip
    configs += [SLAConfig(client_id=c, package_id=p, target_minutes=rng.choice([2, 6]) * 60,
                          is_active=rng.random() > 0.2)
                for c in clients[:20] for p in packages[:5]]  # fmt: skip
    SLAConfig.objects.bulk_create(configs)
    max_target = max(c.target_minutes for c in configs)
    raw = connection.connection
    with raw.cursor() as cur:
        with cur.copy("COPY clients (id, name, tier, created_at) FROM STDIN") as copy:
            for client in clients:
                copy.write_row((client, client.title(), "standard", NOW))
        columns = "id, client_id, package_id, package_type, status, created_at, updated_at"
        with cur.copy(f"COPY orders ({columns}) FROM STDIN") as copy:
            open_statuses = ["pending", "in_progress", "awaiting_client", "exception"]
            closed_statuses = ["completed", "delivered", "cancelled"]
            for i in range(OPEN_ORDERS + CLOSED_ORDERS):
                is_open = i < OPEN_ORDERS
                # Ages up to 1.1x the longest target: most orders within their SLA.
                created = NOW - timedelta(minutes=rng.uniform(0, max_target * 1.1 / 4))
                copy.write_row((
                    f"ord-{i:07}", rng.choice(clients), rng.choice(packages), "CRIMINAL",
                    rng.choice(open_statuses if is_open else closed_statuses), created, created,
                ))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(fn, repeats: int = REPEATS) -> tuple[float, object]:
    """Median seconds over `repeats` runs after one warm-up; and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def plain_select() -> list:
    from django.db import connection

    from portal.orders import open_orders_select

    sql, params = open_orders_select()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def plain_select_ids() -> list:
    from django.db import connection

    from portal.orders import open_orders_select

    sql, params = open_orders_select()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT o.order_id FROM ({sql}) o", params)
        return cursor.fetchall()


def aggregate_open_orders() -> tuple:
    """The floor in the server, reading every column the scan reads (COUNT(*) alone would not)."""
    from django.db import connection

    from portal.orders import open_orders_select

    sql, params = open_orders_select()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), MAX(o.order_id), MAX(o.client_id), MAX(o.package_id), "
            f"MAX(o.created_at) FROM ({sql}) o",
            params,
        )
        return cursor.fetchone()


def count_open_orders() -> int:
    """The floor measured in the server alone: read and filter the open orders, ship one row."""
    from django.db import connection

    from portal.orders import open_orders_select

    sql, params = open_orders_select()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) o", params)
        return cursor.fetchone()[0]


def count_due() -> int:
    """The detection query measured in the server alone (COUNT over its result)."""
    from django.db import connection

    from sla.scan import _due, _not_alerted

    sql, params = _due(NOW)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} SELECT COUNT(*) FROM due d WHERE {_not_alerted()}", params)
        return cursor.fetchone()[0]


def seed_style_loop(order_ids: list[str]) -> int:
    """What the seed did: per order, its config, then its two alerts."""
    from django.db import connection

    due = 0
    with connection.cursor() as cursor:
        for order_id in order_ids:
            cursor.execute(
                "SELECT o.created_at, c.target_minutes, c.warning_percent FROM orders o "
                "JOIN sla_slaconfig c ON c.is_active "
                "AND c.client_id IN (o.client_id, '') AND c.package_id IN (o.package_id, '') "
                "WHERE o.id = %s "
                "ORDER BY (c.client_id <> '') DESC, (c.package_id <> '') DESC LIMIT 1",
                [order_id],
            )
            row = cursor.fetchone()
            for alert_type in ("warning", "breached"):
                cursor.execute(
                    "SELECT 1 FROM sla_slaalert WHERE order_id = %s AND type = %s",
                    [order_id, alert_type],
                )
                if row and cursor.fetchone() is None:
                    due += 1
    return due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument(
        "--ops-managers",
        type=int,
        default=0,
        help="ops managers to create: the warnings (no assignees) notify each of them",
    )
    args = parser.parse_args()
    bench_url, drop = bench_database("bench_sla", keep=args.keep)
    try:
        setup_django(bench_url)
        rng = random.Random(42)
        started = time.perf_counter()
        load(rng)
        seconds = time.perf_counter() - started
        print(f"loaded {OPEN_ORDERS:,} open + {CLOSED_ORDERS:,} closed orders, "
              f"{CLIENTS} clients, {PACKAGES} packages in {seconds:.1f} s")  # fmt: skip
        run(rng, ops_managers=args.ops_managers)
    finally:
        from django.db import connections

        connections.close_all()
        drop()


def ops_managers_create(count: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from notifications.roles import OPS_MANAGER

    group = Group.objects.get_or_create(name=OPS_MANAGER)[0]
    for n in range(count):
        user = get_user_model().objects.create(username=f"ops-{n}", email=f"ops-{n}@example.com")
        user.groups.add(group)


def run(rng: random.Random, *, ops_managers: int = 0) -> None:
    from django.conf import settings
    from django.db import transaction

    from sla.models import SLAAlert
    from sla.scan import due_alerts, open_order_counts
    from sla.services import sla_scan_run

    floor, rows = timed(plain_select)
    print(f"floor: plain SELECT of the open orders, rows to Python:  {floor:.3f} s "
          f"({len(rows):,} rows)")  # fmt: skip
    floor_ids, _ = timed(plain_select_ids)
    print(f"floor: the same SELECT, ids only, rows to Python:       {floor_ids:.3f} s")
    floor_count, _ = timed(count_open_orders)
    print(f"floor: the same SELECT, COUNT(*) in the server:         {floor_count:.3f} s")
    floor_read, _ = timed(aggregate_open_orders)
    print(f"floor: the same SELECT, its columns aggregated in the server: {floor_read:.3f} s")
    scan, due = timed(lambda: due_alerts(now=NOW))
    print(f"detection query, no alerts yet, rows to Python:         {scan:.3f} s "
          f"({len(due):,} due alerts)  ratio {scan / floor:.2f}x, "
          f"{scan / floor_ids:.2f}x the ids-only floor")  # fmt: skip
    scan_count, _ = timed(count_due)
    print(f"detection query, no alerts yet, counted in the server:  {scan_count:.3f} s"
          f"  ratio {scan_count / floor_read:.2f}x the aggregated floor, "
          f"{scan_count / floor_count:.2f}x the COUNT(*) floor")  # fmt: skip
    counts, (scanned, without) = timed(open_order_counts)
    print(f"open-order counts query (scanned, without target):     {counts:.3f} s "
          f"(scanned {scanned:,}, without target {without:,})")  # fmt: skip

    sample = rng.sample([row[0] for row in rows], SAMPLE)
    loop, _ = timed(lambda: seed_style_loop(sample), repeats=1)
    scaled = loop * OPEN_ORDERS / SAMPLE
    print(f"seed-style loop: {loop:.3f} s for {SAMPLE:,} orders -> {scaled:.1f} s "
          f"for {OPEN_ORDERS:,} ({scaled / scan:.0f}x the detection query)")  # fmt: skip

    from notifications.models import AdminNotification

    ops_managers_create(ops_managers)
    started = time.perf_counter()
    first = sla_scan_run(now=NOW)
    first_seconds = time.perf_counter() - started
    print(f"full run, first (inserts + announces, 5,000 a batch):  {first_seconds:.3f} s "
          f"(warnings {first.warnings:,}, breaches {first.breaches:,}; "
          f"{SLAAlert.objects.count():,} alert rows, {AdminNotification.objects.count():,} "
          f"notifications for {ops_managers} ops managers)")  # fmt: skip
    from django_q.models import OrmQ

    from portal.models import OutboxEvent

    tasks = [q.func() for q in OrmQ.objects.all()]
    unpublished = OutboxEvent.objects.filter(published_at__isnull=True).count()
    escalations = tasks.count("escalation.tasks.auto_escalate_batch")
    dispatches = tasks.count("notifications.tasks.notification_dispatch") + tasks.count(
        "notifications.tasks.notification_dispatch_batch"
    )
    print(
        f"  its output: {OutboxEvent.objects.count():,} outbox events ({unpublished:,} "
        f"unpublished), {escalations} escalation tasks, {dispatches:,} dispatch tasks"
    )
    timeout = settings.TASK_TIMEOUT_SECONDS
    print(f"full run, first, against TASK_TIMEOUT_SECONDS ({timeout} s): "
          f"{first_seconds / timeout:.0%} of it")  # fmt: skip

    steady_scan, due = timed(lambda: due_alerts(now=NOW))
    print(f"detection query, steady state, rows to Python:          {steady_scan:.3f} s "
          f"({len(due):,} due)  ratio {steady_scan / floor:.2f}x")  # fmt: skip
    steady_count, _ = timed(count_due)
    print(f"detection query, steady state, counted in the server:   {steady_count:.3f} s"
          f"  ratio {steady_count / floor_read:.2f}x the aggregated floor")  # fmt: skip
    steady, result = timed(lambda: sla_scan_run(now=NOW))
    print(f"full run, steady state (nothing new):                  {steady:.3f} s "
          f"(warnings {result.warnings}, breaches {result.breaches})"
          f"  ratio {steady / floor:.2f}x the plain SELECT")  # fmt: skip

    # Inserting alerts alone (no announcements): the INSERT ... SELECT, rolled back.
    from sla.scan import alerts_create_due

    SLAAlert.objects.all().delete()
    started = time.perf_counter()
    with transaction.atomic():
        created = alerts_create_due(now=NOW, limit=10**9)
        insert_seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    print(f"alert INSERT ... SELECT alone (one statement): {insert_seconds:.3f} s "
          f"({len(created):,} alerts)")  # fmt: skip


if __name__ == "__main__":
    main()
