"""`python manage.py listen_events`: the subscriber for events from the client portal."""

from __future__ import annotations

import signal

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from portal.inbound import load_handlers
from portal.listener import EventListener


class Command(BaseCommand):
    help = (
        "Subscribe to the client portal's channels (order:new, order:status:changed) and run "
        "the handlers in settings.EVENT_HANDLERS for each message. Runs until SIGTERM or "
        "Ctrl-C; reconnects to Redis by itself."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            handlers = load_handlers()  # once: a bad dotted path stops us here, not mid-stream
        except ImproperlyConfigured as exc:
            raise CommandError(f"cannot start the listener: {exc}") from exc
        listener = EventListener(handlers=handlers)
        signal.signal(signal.SIGTERM, listener.request_stop)
        signal.signal(signal.SIGINT, listener.request_stop)
        listener.run()
