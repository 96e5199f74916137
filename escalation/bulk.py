"""Thousands of rows written with one statement each way, without the ORM's per-row work.

An escalation storm writes tens of thousands of executions and audit rows.
bulk_create spends most of that time in Python: a model instance per row,
every field prepared one by one, and (on PostgreSQL) the UNNEST arrays quoted
client-side element by element. On PostgreSQL these helpers send the rows as
one JSON document that `jsonb_to_recordset` turns into a relation, encoded by
the C json module and parsed by the server; elsewhere (SQLite, the tests'
default) they use the ORM, with the same result.

Rows are dicts keyed by field attname (`rule_id`, not `rule`), every row of
one call naming the same fields. A field left out gets what the ORM would
give it: its default, or now for auto_now(_add).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.utils import timezone

# Rows per statement: a few MB of JSON, far below any limit, few round trips.
CHUNK = 5000


def rows_insert(
    model: type[models.Model], rows: list[dict[str, Any]], *, ignore_conflicts: bool = False
) -> None:
    """INSERT the rows; with ignore_conflicts a row that breaks a unique constraint is skipped."""
    if not rows:
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    missing = {f.attname: _default(f, now) for f in fields if f.attname not in rows[0]}
    complete = [{**missing, **row} for row in rows]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**row) for row in complete], ignore_conflicts=ignore_conflicts, batch_size=1000
        )
        return
    columns = ", ".join(_quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {_quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from _meta
        f"SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS r({_record(fields)})"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
    )
    _execute_chunked(sql, [], fields, complete)


def rows_update(
    model: type[models.Model], rows: list[dict[str, Any]], *, also: dict[str, Any] | None = None
) -> None:
    """UPDATE each row's fields by its "id" key, and set `also` on all of them.

    Every row must name the same fields. Elsewhere than PostgreSQL: one
    UPDATE per distinct set of values, which a batch has few of.
    """
    if not rows:
        return
    also = also or {}
    names = [name for name in rows[0] if name != "id"]
    if connection.vendor != "postgresql":
        groups: dict[str, list[int]] = {}
        for row in rows:
            key = json.dumps([row[name] for name in names])
            groups.setdefault(key, []).append(row["id"])
        for key, ids in groups.items():
            values = dict(zip(names, json.loads(key), strict=True))
            model.objects.filter(id__in=ids).update(**values, **also)
        return
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(name) for name in names)]
    table = _quote(meta.db_table)
    assignments = [f"{_quote(f.column)} = r.{_quote(f.column)}" for f in fields[1:]]
    assignments += [f"{_quote(meta.get_field(name).column)} = %s" for name in also]
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608 - names from _meta
        f"FROM jsonb_to_recordset(%s::jsonb) AS r({_record(fields)}) "
        f"WHERE {table}.{_quote(meta.pk.column)} = r.{_quote(meta.pk.column)}"
    )
    _execute_chunked(sql, list(also.values()), fields, rows)


def _execute_chunked(
    sql: str, params: list[Any], fields: list[models.Field], rows: list[dict[str, Any]]
) -> None:
    renamed = [(f.column, f.attname) for f in fields if f.column != f.attname]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            if renamed:  # jsonb_to_recordset matches keys to column names
                chunk = [{**row, **{col: row[att] for col, att in renamed}} for row in chunk]
            cursor.execute(sql, [*params, json.dumps(chunk, default=_json_default)])


def _default(field: models.Field, now: datetime) -> Any:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    return field.get_default()


def _record(fields: list[models.Field]) -> str:
    """The column definition list of jsonb_to_recordset: each column with its own type."""
    return ", ".join(f"{_quote(f.column)} {f.db_type(connection)}" for f in fields)


def _json_default(value: Any) -> Any:
    # Only what json cannot encode comes here: datetimes, in full precision.
    # (A JSON null becomes SQL NULL in jsonb_to_recordset, as the ORM stores None.)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)
