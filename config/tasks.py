"""The one way to start a job from code: by dotted path, tied to the caller's transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

logger = logging.getLogger(__name__)


def enqueue(job: str, func: str, *args: Any, **kwargs: Any) -> None:
    """Queue `func` (a dotted path) for the workers, as job `job`.

    With the ORM broker the task is a row written in the caller's transaction:
    it exists exactly when the change that caused it commits, and a crash
    after the commit loses nothing. With the Redis broker a push cannot be
    rolled back, so it waits for the commit (a crash in between loses it;
    the periodic jobs are the safety net).
    Arguments must be plain values (ids, strings), never model instances.
    """

    def push() -> None:
        async_task(func, *args, group=job, **kwargs)

    if settings.TASK_BROKER == "orm":
        push()
    else:
        transaction.on_commit(push)
