"""The whole system as it runs in production: real qcluster and listen_events processes.

PostgreSQL only: the test database must be shared with the subprocesses
(pytest-django's SQLite test database lives in memory). It finishes within
about two minutes: django-q2's scheduler makes its first pass about 30 s
after the cluster starts, and one pass runs every job once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from config.redis import get_redis, redis_url
from config.schedules import sync_schedules
from escalation.models import EscalationRule, TriggerType
from notifications.roles import OPS_MANAGER
from portal import orders as portal
from portal.events import ORDER_NEW, SLA_BREACHED, envelope
from sla.models import AlertType, SLAAlert
from tests.concurrency import wait_until
from tests.factories import (
    ClientFactory,
    SLAConfigFactory,
    UserFactory,
    VendorFactory,
    VendorRoutingRuleFactory,
)
from tests.servers import SmtpServer, free_port, subscribers
from vendors.models import Vendor, VendorStatus

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class VendorEndpoint:
    """A vendor's health URL on loopback whose answer the test switches."""

    def __init__(self) -> None:
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(endpoint.status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


def wait_for(what: str, check: Callable[[], object]) -> object:
    """The processes act on django-q2's scheduler passes, ~30 s apart: allow a few."""
    return wait_until(check, timeout=120, what=what, every=0.5)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url(),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS": "true",
        "HEALTH_CHECK_TIMEOUT_SECONDS": "2",
        "VENDOR_OFFLINE_FAILURE_THRESHOLD": "1",
        "SLA_BREACH_DETECTION_INTERVAL_MINUTES": "1",
        "TASK_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
    }


def start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", command],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> int:
    """SIGTERM to the main process only: the safe way for qcluster (django-q2 issue 346)."""
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def build_world(endpoint_a: VendorEndpoint, endpoint_b: VendorEndpoint) -> dict[str, object]:
    UserFactory(username="ops-e2e", email="ops-e2e@example.com", roles=[OPS_MANAGER])
    client = ClientFactory(client_id="e2e-client")
    vendor_a = VendorFactory(name="Vendor A", health_check_url=endpoint_a.url)
    vendor_b = VendorFactory(name="Vendor B", health_check_url=endpoint_b.url)
    VendorRoutingRuleFactory(vendor=vendor_a, priority=1)
    VendorRoutingRuleFactory(vendor=vendor_b, priority=2)
    SLAConfigFactory(target_minutes=60)
    EscalationRule.objects.create(
        name="Breach: escalate and tell",
        trigger_type=TriggerType.SLA_BREACH,
        actions=[{"type": "ESCALATE"}, {"type": "NOTIFY", "toRole": OPS_MANAGER}],
    )
    late = portal.insert_order(
        order_id="e2e-late",
        client_id=client.id,
        package_id="pkg",
        package_type="CRIMINAL",
        status="in_progress",
        vendor_id=vendor_b.id,
        created_at=portal.to_datetime("2020-01-01T00:00:00+00:00"),
    )
    sync_schedules()
    return {"a": vendor_a, "b": vendor_b, "client": client, "late": late}


def test_the_whole_system(tmp_path, smtp):
    endpoint_a, endpoint_b = VendorEndpoint(), VendorEndpoint()
    world = build_world(endpoint_a, endpoint_b)
    redis = get_redis()
    breaches = redis.pubsub(ignore_subscribe_messages=True)
    breaches.subscribe(SLA_BREACHED)
    env = process_env(smtp.port)
    workers = start("qcluster", env, tmp_path / "qcluster.log")
    listener = start("listen_events", env, tmp_path / "listener.log")
    try:
        wait_for("the listener", lambda: subscribers(redis, ORDER_NEW))

        # order:new from the portal: the listener assigns the best vendor (A).
        portal.insert_order(order_id="e2e-new", client_id=world["client"].id,
                            package_id="pkg", package_type="CRIMINAL")  # fmt: skip
        message = envelope(
            event_id="e2e-1", channel=ORDER_NEW, occurred_at=world["late"].created_at,
            data={"orderId": "e2e-new"},
        )  # fmt: skip
        redis.publish(ORDER_NEW, message)
        wait_for(
            "vendor A assigned", lambda: portal.get_order("e2e-new").vendor_id == world["a"].id
        )

        # Vendor A's endpoint fails: the health check takes it offline, its order moves to B.
        endpoint_a.status = 500
        wait_for("vendor A offline", lambda: Vendor.objects.get(pk=world["a"].pk).status
                 == VendorStatus.OFFLINE)  # fmt: skip
        assert portal.get_order("e2e-new").vendor_id == world["b"].id

        # The late order breaches: event on Redis, escalation applied, email received.
        wait_for("the breach alert", lambda: SLAAlert.objects.filter(
            order_id="e2e-late", type=AlertType.BREACHED).exists())  # fmt: skip
        event = wait_for("sla:breached on Redis", lambda: breaches.get_message(timeout=1))
        assert json.loads(event["data"])["data"]["orderId"] == "e2e-late"
        wait_for("the escalation", lambda: portal.get_order("e2e-late").escalation_level == 1)
        wait_for("the email", lambda: any("e2e-late" in r.message["Subject"]
                                          for r in smtp.received))  # fmt: skip
        assert any(r.rcpt_tos == ["ops-e2e@example.com"] for r in smtp.received)
    finally:
        codes = {"listener": stop(listener), "qcluster": stop(workers)}
        breaches.close()
    assert codes == {"listener": 0, "qcluster": 0}, [
        (tmp_path / f"{name}.log").read_text()[-3000:] for name in codes
    ]
