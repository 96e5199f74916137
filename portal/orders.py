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


def set_order_status(*, order_id: str, status: str, at: datetime | None = None) -> bool:
    """Change an order's status as the portal does (tests, demo, simulator): moves updated_at.

    The back office itself never changes an order's status; it is the portal's.
    """
    if status not in ORDER_STATUSES:
        raise ValueError(f"unknown order status {status!r}")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders SET status = %s, updated_at = %s WHERE id = %s",
            [status, db_datetime(at or timezone.now()), order_id],
        )
        return cursor.rowcount == 1


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


# --- escalation ---

_CHUNK = 500  # parameters per statement stay far below SQLite's and PostgreSQL's limits


def _chunks(values: list) -> list[list]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def get_orders(order_ids: list[str]) -> dict[str, OrderRow]:
    """The orders with these ids, by id (missing ids are absent)."""
    found: dict[str, OrderRow] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(list(dict.fromkeys(order_ids))):
            cursor.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id IN ({_placeholders(chunk)})", chunk
            )
            found.update((row[0], _order(row)) for row in cursor.fetchall())
    return found


def client_tiers(client_ids: list[str]) -> dict[str, str]:
    """Each client's tier, by client id."""
    tiers: dict[str, str] = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(list(dict.fromkeys(client_ids))):
            cursor.execute(
                f"SELECT id, tier FROM clients WHERE id IN ({_placeholders(chunk)})", chunk
            )
            tiers.update(cursor.fetchall())
    return tiers


def orders_in_status(status: str, *, updated_before: datetime | None = None) -> list[OrderRow]:
    """Every order in `status` (last changed by the portal by `updated_before`), oldest first."""
    sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE status = %s"
    params: list[object] = [status]
    if updated_before is not None:
        sql += " AND updated_at <= %s"
        params.append(db_datetime(updated_before))
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY updated_at, id", params)
        return [_order(row) for row in cursor.fetchall()]


def open_order_counts_by_assignee(user_ids: list[int]) -> dict[int, int]:
    """How many open orders each user is assigned (users with none are absent)."""
    if not user_ids:
        return {}
    sql = (
        f"SELECT assigned_to_id, COUNT(*) FROM orders "
        f"WHERE assigned_to_id IN ({_placeholders(user_ids)}) "
        f"AND status IN ({_placeholders(OPEN_STATUSES)}) GROUP BY assigned_to_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*user_ids, *OPEN_STATUSES])
        return dict(cursor.fetchall())


def orders_reassign(changes: list[tuple[str, int | None, int]]) -> set[str]:
    """Set assigned_to_id for (order id, expected current assignee, new assignee) triples.

    Conditional: an order whose assignee changed meanwhile, or that closed, is
    left alone. Returns the ids changed. updated_at is the portal's clock: untouched.
    """
    groups: dict[tuple[int | None, int], list[str]] = {}
    for order_id, expected, new in changes:
        groups.setdefault((expected, new), []).append(order_id)
    changed: set[str] = set()
    with connection.cursor() as cursor:
        for (expected, new), order_ids in groups.items():
            current = "assigned_to_id IS NULL" if expected is None else "assigned_to_id = %s"
            for chunk in _chunks(order_ids):
                cursor.execute(
                    f"UPDATE orders SET assigned_to_id = %s WHERE id IN ({_placeholders(chunk)}) "
                    f"AND {current} AND status IN ({_placeholders(OPEN_STATUSES)}) RETURNING id",
                    [new, *chunk, *([] if expected is None else [expected]), *OPEN_STATUSES],
                )
                changed.update(row[0] for row in cursor.fetchall())
    return changed


def orders_raise_escalation_level(levels: dict[str, int]) -> set[str]:
    """Raise each order's escalation_level to the level given; a level is never lowered.

    `WHERE escalation_level < %s` makes it a no-op for an order already at or
    above the level (portable, unlike GREATEST on SQLite). Returns the ids
    raised. updated_at is the portal's clock: untouched.
    """
    groups: dict[int, list[str]] = {}
    for order_id, level in levels.items():
        groups.setdefault(level, []).append(order_id)
    raised: set[str] = set()
    with connection.cursor() as cursor:
        for level, order_ids in groups.items():
            for chunk in _chunks(order_ids):
                cursor.execute(
                    f"UPDATE orders SET escalation_level = %s "
                    f"WHERE id IN ({_placeholders(chunk)}) AND escalation_level < %s RETURNING id",
                    [level, *chunk, level],
                )
                raised.update(row[0] for row in cursor.fetchall())
    return raised


# --- vendors ---
# Orders a vendor still works on: failover moves these when the vendor goes offline.
FAILOVER_STATUSES = ("pending", "in_progress")


def orders_to_fail_over(vendor_id: int) -> list[OrderRow]:
    """The vendor's pending and in-progress orders, oldest first."""
    sql = (
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE vendor_id = %s "
        f"AND status IN ({_placeholders(FAILOVER_STATUSES)}) ORDER BY created_at, id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [vendor_id, *FAILOVER_STATUSES])
        return [_order(row) for row in cursor.fetchall()]


def order_move_vendor(*, order_id: str, from_vendor_id: int, to_vendor_id: int) -> bool:
    """Move an order still held by `from_vendor_id` (and still pending/in progress).

    Conditional, so two failovers (or a portal change) never move it twice;
    True if this call moved it. `updated_at` is the portal's clock: untouched.
    """
    sql = (
        "UPDATE orders SET vendor_id = %s WHERE id = %s AND vendor_id = %s "
        f"AND status IN ({_placeholders(FAILOVER_STATUSES)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [to_vendor_id, order_id, from_vendor_id, *FAILOVER_STATUSES])
        return cursor.rowcount == 1


# --- ops status page ---


def count_open_orders() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM orders WHERE status IN ({_placeholders(OPEN_STATUSES)})",
            list(OPEN_STATUSES),
        )
        return cursor.fetchone()[0]


# --- events (vendor assignment, order-status-sync) ---


def order_set_vendor_if_unassigned(*, order_id: str, vendor_id: int) -> bool:
    """Give an open order with no vendor this vendor; False if it has one or is closed.

    One conditional UPDATE, so two listeners (or a listener and
    order-status-sync) handling the same order never assign twice.
    Leaves updated_at alone: it is the portal's clock.
    """
    sql = (
        "UPDATE orders SET vendor_id = %s WHERE id = %s AND vendor_id IS NULL "
        f"AND status IN ({_placeholders(OPEN_STATUSES)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [vendor_id, order_id, *OPEN_STATUSES])
        return cursor.rowcount == 1


def orders_changed_since(*, updated_at: datetime, after_id: str = "", limit: int) -> list[OrderRow]:
    """Orders by (updated_at, id) after the key (updated_at, after_id), oldest first.

    A keyset page: pass the last row's (updated_at, id) to get the next one.
    after_id="" includes every order updated exactly at `updated_at`.
    """
    at = db_datetime(updated_at)
    sql = (
        f"SELECT {_ORDER_COLUMNS} FROM orders "
        "WHERE updated_at > %s OR (updated_at = %s AND id > %s) "
        "ORDER BY updated_at, id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, at, after_id, limit])
        return [_order(row) for row in cursor.fetchall()]


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
