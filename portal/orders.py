"""The gateway to the portal's `clients` and `orders` tables (raw SQL).

This module is the only one that knows the portal's table and column names.
It returns plain dataclasses; everything else calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.schema import CLOSED_STATUSES, OPEN_STATUSES, ORDER_STATUSES


@dataclass(frozen=True)
class ClientRow:
    id: str
    name: str
    tier: str


@dataclass(frozen=True)
class OrderRow:
    id: str
    client_id: str
    package_id: str
    package_type: str
    status: str
    vendor_id: int | None
    assigned_to_id: int | None
    escalation_level: int
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


_ORDER_COLUMNS = (
    "id, client_id, package_id, package_type, status, vendor_id, assigned_to_id, "
    "escalation_level, created_at, updated_at"
)


def to_datetime(value: datetime | str) -> datetime:
    """SQLite hands timestamps back as text; PostgreSQL as aware datetimes."""
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            raise ValueError(f"not a timestamp: {value!r}")
        value = parsed
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def db_datetime(value: datetime) -> object:
    """A datetime as the current database wants it as a query parameter."""
    return connection.ops.adapt_datetimefield_value(value)


def _order(row: tuple) -> OrderRow:
    return OrderRow(
        id=row[0],
        client_id=row[1],
        package_id=row[2],
        package_type=row[3],
        status=row[4],
        vendor_id=row[5],
        assigned_to_id=row[6],
        escalation_level=row[7],
        created_at=to_datetime(row[8]),
        updated_at=to_datetime(row[9]),
    )


def get_order(order_id: str) -> OrderRow | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = %s", [order_id])
        row = cursor.fetchone()
    return _order(row) if row else None


def get_client(client_id: str) -> ClientRow | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name, tier FROM clients WHERE id = %s", [client_id])
        row = cursor.fetchone()
    return ClientRow(*row) if row else None


def insert_client(*, client_id: str, name: str, tier: str = "standard") -> ClientRow:
    """Create a client (the portal does this in production; tests and demo data here)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO clients (id, name, tier, created_at) VALUES (%s, %s, %s, %s)",
            [client_id, name, tier, db_datetime(timezone.now())],
        )
    return ClientRow(client_id, name, tier)


def insert_order(
    *,
    order_id: str,
    client_id: str,
    package_id: str,
    package_type: str,
    status: str = "pending",
    vendor_id: int | None = None,
    assigned_to_id: int | None = None,
    escalation_level: int = 0,
    created_at: datetime | None = None,
) -> OrderRow:
    """Create an order (the portal does this in production; tests and demo data here)."""
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {status!r}")
    created = created_at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO orders ({_ORDER_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                order_id,
                client_id,
                package_id,
                package_type,
                status,
                vendor_id,
                assigned_to_id,
                escalation_level,
                db_datetime(created),
                db_datetime(created),
            ],
        )
    return get_order(order_id)


def open_order_counts_by_vendor(vendor_ids: list[int]) -> dict[int, int]:
    """How many open orders each vendor holds (vendors with none are absent)."""
    if not vendor_ids:
        return {}
    sql = (
        f"SELECT vendor_id, COUNT(*) FROM orders WHERE vendor_id IN ({_placeholders(vendor_ids)}) "
        f"AND status IN ({_placeholders(OPEN_STATUSES)}) GROUP BY vendor_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*vendor_ids, *OPEN_STATUSES])
        return dict(cursor.fetchall())


def _placeholders(values: list | tuple) -> str:
    # psycopg 3 does not expand a tuple for `IN %s`; SQLite has no `= ANY`.
    return ", ".join(["%s"] * len(values))


# --- sla ---


def open_orders_select() -> tuple[str, list]:
    """A SELECT of every open order, to embed as a subquery in a set-based scan.

    Its columns have these names whatever the portal calls them: order_id,
    client_id, package_id, assigned_to_id, created_at. Returns (sql, params).
    """
    sql = (
        "SELECT id AS order_id, client_id, package_id, assigned_to_id, created_at "
        f"FROM orders WHERE status NOT IN ({_placeholders(CLOSED_STATUSES)})"
    )
    return sql, list(CLOSED_STATUSES)


def order_assignees(order_ids: list[str]) -> dict[str, int | None]:
    """The assigned processor's user id of each order, in one query (unknown ids are absent)."""
    if not order_ids:
        return {}
    sql = f"SELECT id, assigned_to_id FROM orders WHERE id IN ({_placeholders(order_ids)})"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(order_ids))
        return dict(cursor.fetchall())
