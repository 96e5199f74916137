from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications.roles import OPS_MANAGER
from tests.factories import ClientFactory, OrderFactory, UserFactory

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    """The clock stands still at NOW (tick=False): thresholds are exact."""
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def client_row(db):
    return ClientFactory(client_id="acme")


@pytest.fixture
def order_at(now, client_row):
    """`order_at(percent, target_minutes=60, **fields)`: an open order that far into its target."""

    def make(percent: float, target_minutes: int = 60, **fields):
        fields.setdefault("client_id", client_row.id)
        age = timedelta(minutes=target_minutes * percent / 100)
        return OrderFactory(created_at=now - age, **fields)

    return make


@pytest.fixture
def ops_manager(db):
    return UserFactory(username="ops", roles=[OPS_MANAGER])


@pytest.fixture(autouse=True)
def queued_tasks(monkeypatch):
    """Tasks are queued as ORM-broker rows (OrmQ), as in production, instead of run inline.

    The test settings run tasks inline (Q_CLUSTER sync), and inline an unknown
    function raises in the caller: escalation.tasks.auto_escalate is built on
    another branch. Queued, the task is a row written in the scan's
    transaction, which is exactly what the scan promises. Returns a function
    listing the queued (func, args) pairs.
    """
    from django_q.conf import Conf
    from django_q.models import OrmQ

    monkeypatch.setattr(Conf, "SYNC", False)
    return lambda: [(q.func(), q.args()) for q in OrmQ.objects.order_by("id")]
