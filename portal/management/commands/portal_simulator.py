"""Play the client portal against a running back office: new orders and status changes."""

from __future__ import annotations

import json
import random
import signal
import time
import uuid

from django.core.management.base import BaseCommand
from django.utils import timezone

from config.redis import get_redis
from portal import orders as portal
from portal.events import ORDER_NEW, ORDER_STATUS_CHANGED, envelope

PACKAGES = (
    ("criminal-basic", "CRIMINAL"),
    ("drug-5-panel", "DRUG"),
    ("employment-verify", "EMPLOYMENT"),
)
NEXT_STATUS = {"pending": "in_progress", "in_progress": "completed"}


class Command(BaseCommand):
    help = (
        "Insert orders into the portal's tables and publish order:new / order:status:changed "
        "on Redis, like the client portal does, so you can watch the listener work."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rate", type=float, default=1.0, help="events per second")
        parser.add_argument("--count", type=int, default=0, help="stop after this many (0: never)")
        parser.add_argument("--client", default="sim-client", help="client id for new orders")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: object, **options: object) -> None:
        self.running = True
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        rng = random.Random(options["seed"])  # noqa: S311 - simulation, not security
        if portal.get_client(options["client"]) is None:
            portal.insert_client(client_id=options["client"], name="Simulated client")
        open_orders: dict[str, str] = {}
        sent = 0
        while self.running and (not options["count"] or sent < options["count"]):
            if open_orders and rng.random() < 0.4:
                self._advance(rng.choice(list(open_orders)), open_orders)
            else:
                self._new_order(options["client"], rng, open_orders)
            sent += 1
            time.sleep(1.0 / options["rate"])
        self.stdout.write(f"portal_simulator: {sent} events sent")

    def _stop(self, signum: int, frame: object) -> None:
        self.running = False

    def _publish(self, channel: str, data: dict) -> None:
        message = envelope(
            event_id=uuid.uuid4(), channel=channel, occurred_at=timezone.now(), data=data
        )
        receivers = get_redis().publish(channel, message)
        self.stdout.write(f"{channel} -> {receivers} listener(s): {json.dumps(data)}")

    def _new_order(self, client_id: str, rng: random.Random, open_orders: dict) -> None:
        package_id, package_type = rng.choice(PACKAGES)
        order = portal.insert_order(
            order_id=f"sim-{uuid.uuid4().hex[:10]}",
            client_id=client_id,
            package_id=package_id,
            package_type=package_type,
        )
        open_orders[order.id] = order.status
        self._publish(
            ORDER_NEW,
            {"orderId": order.id, "clientId": client_id, "packageId": package_id,
             "packageType": package_type},
        )  # fmt: skip

    def _advance(self, order_id: str, open_orders: dict) -> None:
        previous = open_orders[order_id]
        status = NEXT_STATUS[previous]
        portal.set_order_status(order_id=order_id, status=status)
        if status in NEXT_STATUS:
            open_orders[order_id] = status
        else:
            del open_orders[order_id]
        self._publish(
            ORDER_STATUS_CHANGED,
            {"orderId": order_id, "status": status, "previousStatus": previous},
        )
