"""django-q2 entry points for notifications."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def notification_dispatch(notification_id: int) -> None:
    """Job notification-dispatch: email one AdminNotification (issue 3 builds the sending)."""
    logger.info("notification-dispatch %s: email sending not built yet", notification_id)
