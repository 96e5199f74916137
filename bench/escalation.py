"""Benchmark: 10,000 breached orders and 5 rules; time until every due action is applied.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME .venv/bin/python bench/escalation.py

Works in its own database (<name>_bench_escalation, dropped and created
afresh), never in the one named by DATABASE_URL. Measures the production
path: the SLA scan enqueues one auto_escalate_batch task per batch of
breaches, so the 10,000 triggers arrive as auto_escalate_batch calls of
BENCH_CALL_SIZE triggers (default 1,000), each scheduling its matches and
running every due execution in batches of ESCALATION_BATCH_SIZE (the setting,
default unless set). The calls run one after another, as one worker would;
BENCH_WORKERS=2 runs them in two processes, as a cluster's two workers would
(TASK_WORKERS defaults to 2). The baseline,
in the same run: one auto_escalate task per order (as the SLA scan enqueued
before) on a sample of BENCH_SAMPLE orders, extrapolated to 10,000.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

from _common import bench_database, setup_django

ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "300"))
CALL_SIZE = int(os.environ.get("BENCH_CALL_SIZE", "1000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))


def main() -> None:
    url, drop = bench_database("bench_escalation")
    os.environ["LOG_LEVEL"] = "WARNING"
    setup_django(url)
    try:
        run()
    finally:
        drop()


def seed(prefix: str, count: int, now) -> list[str]:
    from django.db import connection

    from portal.orders import db_datetime

    kinds = ["CRIMINAL", "DRUG", "EMPLOYMENT", "EDUCATION"]
    started = now - timedelta(hours=3)
    rows = [
        (
            f"{prefix}-{n}",
            f"client-{n % 200}",
            f"pkg-{n % 10}",
            kinds[n % 4],
            "in_progress",
            n % 30 + 1,
            None,
            0,
            db_datetime(started),
            db_datetime(started),
        )
        for n in range(count)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO orders (id, client_id, package_id, package_type, status, vendor_id, "
            "assigned_to_id, escalation_level, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return [row[0] for row in rows]


def context(n: int) -> dict:
    elapsed = 100 + n % 100  # 100 % .. 199 %
    return {
        "elapsedPercent": float(elapsed),
        "targetMinutes": 120,
        "elapsedMinutes": int(120 * elapsed / 100),
    }


def run() -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from escalation.models import EscalationExecution, EscalationRule
    from escalation.tasks import auto_escalate
    from notifications.models import AdminNotification, AuditLog
    from portal.orders import insert_client

    now = timezone.now()
    for n in range(200):
        insert_client(
            client_id=f"client-{n}",
            name=f"Client {n}",
            tier=["standard", "premium", "gold", "standard"][n % 4],
        )
    user_model = get_user_model()
    for role, size in (("processor", 20), ("opsmanager", 2)):
        group = Group.objects.get_or_create(name=role)[0]
        for n in range(size):
            user_model.objects.create_user(f"{role}{n}", f"{role}{n}@example.com").groups.add(group)
    user_model.objects.create_user("lead", "lead@example.com")
    rules = [
        ({"minElapsedPercent": 100}, [{"type": "REASSIGN", "toRole": "processor"}]),
        ({"clientTier": ["premium", "gold"]}, [{"type": "ESCALATE", "level": 2}]),
        ({}, [{"type": "ESCALATE"}]),
        ({"packageType": ["CRIMINAL", "DRUG"]}, [{"type": "NOTIFY", "toRole": "opsmanager"}]),
        ({"minElapsedPercent": 150}, [{"type": "NOTIFY", "toUser": "lead", "message": "Late"}]),
    ]
    for priority, (conditions, actions) in enumerate(rules, start=1):
        EscalationRule.objects.create(
            name=f"rule {priority}",
            trigger_type="SLA_BREACH",
            conditions=conditions,
            actions=actions,
            priority=priority,
        )

    order_ids = seed("order", ORDERS, now)
    items = [[oid, "SLA_BREACH", f"sla-alert:{n}", context(n)] for n, oid in enumerate(order_ids)]
    calls = [items[i : i + CALL_SIZE] for i in range(0, len(items), CALL_SIZE)]
    started = time.perf_counter()
    summaries = run_calls(calls)
    production = time.perf_counter() - started
    matched = sum(summary["matched"] for summary in summaries)
    ran = sum(summary["ran"] for summary in summaries)

    done = EscalationExecution.objects.filter(status="done").count()
    audits = AuditLog.objects.filter(target_type="order").count()
    notes = AdminNotification.objects.count()
    if not done == matched == ran:
        sys.exit(f"not every execution ran: matched {matched}, ran {ran}, done {done}")

    sample_ids = seed("sample", SAMPLE, now)
    sample_started = time.perf_counter()
    for n, oid in enumerate(sample_ids):
        auto_escalate(oid, "SLA_BREACH", f"sla-alert:s{n}", context(n))
    per_order = (time.perf_counter() - sample_started) / SAMPLE
    baseline = per_order * ORDERS

    print(
        f"orders: {ORDERS}, rules: {len(rules)}, executions: {matched}, audit rows: {audits}, "
        f"notifications: {notes}"
    )
    print(
        f"production path: {len(calls)} auto_escalate_batch calls of {CALL_SIZE} triggers, "
        f"{WORKERS} worker(s), ESCALATION_BATCH_SIZE={settings.ESCALATION_BATCH_SIZE}: "
        f"{production:.2f} s until every due action is applied (goal <= 10 s)"
    )
    print(
        f"baseline, one auto_escalate per order: {per_order * 1000:.1f} ms/order on {SAMPLE} "
        f"orders -> {baseline:.1f} s for {ORDERS}"
    )
    print(f"ratio baseline / production path: {baseline / production:.1f}x")


def run_calls(calls: list[list[list]]) -> list[dict[str, int]]:
    """The auto_escalate_batch calls, in this process or in WORKERS forked ones."""
    from django.db import connections

    from escalation.tasks import auto_escalate_batch

    if WORKERS == 1:
        return [auto_escalate_batch(call) for call in calls]
    import multiprocessing

    connections.close_all()  # each worker opens its own connection
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        return pool.map(_worker_call, calls, chunksize=1)


def _worker_call(call: list[list]) -> dict[str, int]:
    from django.db import connections

    from escalation.tasks import auto_escalate_batch

    try:
        return auto_escalate_batch(call)
    finally:
        connections.close_all()


if __name__ == "__main__":
    main()
