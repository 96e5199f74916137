"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import models


def delete_in_batches(queryset: models.QuerySet, *, batch_size: int = 5000) -> int:
    """Delete the rows of `queryset` a batch at a time; return how many.

    Batches keep each transaction (and its locks) short on a large table; two
    runs at once only split the work.
    """
    deleted = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        count, _ = queryset.model.objects.filter(pk__in=ids).delete()
        deleted += count
