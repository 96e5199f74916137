# ruff: noqa: S608 - statements are built from constant SQL and quoted table names only;
# every value goes in as a parameter.
"""The SLA scan in SQL: every open order against its target, a few statements per run.

Measured (bench/sla_scan.py, 200,000 open orders on PostgreSQL): resolving
the target with one LEFT JOIN per SLAConfig scope and COALESCE, and skipping
orders that already have their alert with NOT EXISTS, takes about 0.15-0.3 s,
less than shipping the open orders to Python; a lookup per order takes
minutes. The number of statements per run does not grow with the orders.

The open orders come from portal.orders.open_orders_select() (only portal/
knows the portal's table); this module owns the SLA tables' SQL. It works on
PostgreSQL and on SQLite >= 3.35 (INSERT ... ON CONFLICT ... RETURNING).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from portal.orders import db_datetime, open_orders_select, to_datetime
from sla.models import AlertType, SLAAlert, SLAConfig

# The scopes in order of precedence, as join conditions on the open order `o`.
_SCOPES = (
    ("cp", "cp.client_id = o.client_id AND cp.package_id = o.package_id"),
    ("cc", "cc.client_id = o.client_id AND cc.package_id = ''"),
    ("pp", "pp.client_id = '' AND pp.package_id = o.package_id"),
    ("df", "df.client_id = '' AND df.package_id = ''"),
)


@dataclass(frozen=True)
class NewAlert:
    """An alert this run created (and must now announce)."""

    id: int
    order_id: str
    type: str
    client_id: str
    package_id: str
    target_minutes: int
    order_created_at: datetime

    def elapsed_seconds(self, now: datetime) -> float:
        return (now - self.order_created_at).total_seconds()

    def elapsed_minutes(self, now: datetime) -> int:
        return int(self.elapsed_seconds(now) // 60)

    def elapsed_percent(self, now: datetime) -> float:
        return round(self.elapsed_seconds(now) * 100 / (self.target_minutes * 60), 1)


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _targeted(*, warned_at: datetime | None = None) -> tuple[str, list]:
    """CTE `targeted`: each open order with its target and warning percent (NULL: none).

    With `warned_at`, only the orders past their warning threshold at that
    time: every alert needs at least that, and PostgreSQL materializes this
    CTE (the detection reads it twice), so less is written and read again.
    """
    open_sql, params = open_orders_select()
    config = _table(SLAConfig)
    joins = "\n".join(
        f"LEFT JOIN {config} {alias} ON {alias}.is_active AND {condition}"
        for alias, condition in _SCOPES
    )
    # warning_percent and target_minutes are NOT NULL, so both COALESCEs stop
    # at the same (most specific active) config.
    target = "COALESCE({})".format(", ".join(f"{alias}.target_minutes" for alias, _ in _SCOPES))
    percent = "COALESCE({})".format(", ".join(f"{alias}.warning_percent" for alias, _ in _SCOPES))
    where = ""
    if warned_at is not None:
        warned, warned_params = _reached(f"{target} * {percent} * 600", warned_at, alias="o")
        where = f"WHERE {target} IS NOT NULL AND {warned}"
        params = [*params, *warned_params]
    sql = f"""targeted AS (
        SELECT o.order_id, o.client_id, o.package_id, o.created_at,
               {target} AS target_minutes, {percent} AS warning_percent
        FROM ({open_sql}) o
        {joins}
        {where}
    )"""
    return sql, params


def _reached(milliseconds_sql: str, now: datetime, alias: str = "t") -> tuple[str, list]:
    """A condition: order `alias` has been open at least `milliseconds_sql` at `now`."""
    now = db_datetime(now)
    if connection.vendor == "postgresql":
        # Exact timestamp arithmetic, and the column stays bare.
        return (
            f"{alias}.created_at <= %s - ({milliseconds_sql}) * interval '1 millisecond'",
            [now],
        )
    # SQLite keeps timestamps as text: julianday() is exact to well under a millisecond.
    return (
        f"ROUND((julianday(%s) - julianday({alias}.created_at)) * 86400000.0) "
        f">= ({milliseconds_sql})",
        [now],
    )


def _due(now: datetime) -> tuple[str, list]:
    """CTEs `targeted` and `due`: (order, alert type) pairs whose threshold has passed."""
    targeted, params = _targeted(warned_at=now)  # every row is due for its warning
    breach, breach_params = _reached("t.target_minutes * 60000", now)
    columns = "t.order_id, t.client_id, t.package_id, t.created_at, t.target_minutes"
    sql = f"""WITH {targeted},
    due AS (
        SELECT {columns}, '{AlertType.WARNING}' AS type FROM targeted t
        UNION ALL
        SELECT {columns}, '{AlertType.BREACHED}' AS type FROM targeted t
        WHERE {breach}
    )"""
    return sql, [*params, *breach_params]


def _not_alerted() -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM {_table(SLAAlert)} a "
        "WHERE a.order_id = d.order_id AND a.type = d.type)"
    )


def open_order_counts() -> tuple[int, int]:
    """(open orders, open orders without any active target), in one statement."""
    targeted, params = _targeted()
    sql = (
        f"WITH {targeted} SELECT COUNT(*), "
        "COALESCE(SUM(CASE WHEN target_minutes IS NULL THEN 1 ELSE 0 END), 0) FROM targeted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        scanned, without_target = cursor.fetchone()
    return int(scanned), int(without_target)


def due_alerts(*, now: datetime) -> list[tuple]:
    """The detection query alone (no writes): (order_id, type, target_minutes) still to alert."""
    due, params = _due(now)
    sql = f"{due} SELECT d.order_id, d.type, d.target_minutes FROM due d WHERE {_not_alerted()}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def alerts_create_due(*, now: datetime, limit: int) -> list[NewAlert]:
    """Insert up to `limit` missing alerts in one statement; return those inserted now.

    NOT EXISTS skips what earlier runs created; ON CONFLICT DO NOTHING skips
    what a concurrent run is creating right now (PostgreSQL waits for that
    run's transaction, then skips), so each alert is created exactly once and
    only its creator announces it. Rows go in order_id order, so two
    concurrent runs take the unique index's locks in the same order and
    cannot deadlock.
    """
    due, params = _due(now)
    sql = f"""{due}
    INSERT INTO {_table(SLAAlert)}
        (order_id, type, client_id, package_id, target_minutes, order_created_at, created_at)
    SELECT d.order_id, d.type, d.client_id, d.package_id, d.target_minutes, d.created_at, %s
    FROM due d
    WHERE {_not_alerted()}
    ORDER BY d.order_id, d.type
    LIMIT %s
    ON CONFLICT (order_id, type) DO NOTHING
    RETURNING id, order_id, type, client_id, package_id, target_minutes, order_created_at"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, db_datetime(now), limit])
        rows = cursor.fetchall()
    return [
        NewAlert(
            id=row[0],
            order_id=row[1],
            type=row[2],
            client_id=row[3],
            package_id=row[4],
            target_minutes=row[5],
            order_created_at=to_datetime(row[6]),
        )
        for row in rows
    ]
