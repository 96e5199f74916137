from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from escalation.models import EscalationRule, TriggerType
from ops.demo import ORDERS, database_is_empty, demo_load
from portal import orders as portal
from vendors.models import Vendor, VendorStatus

pytestmark = pytest.mark.django_db


def test_demo_load_fills_an_empty_database():
    assert database_is_empty()
    demo_load(password="pw")
    assert not database_is_empty()
    assert Vendor.objects.filter(status=VendorStatus.ACTIVE).count() == 3
    triggers = set(EscalationRule.objects.values_list("trigger_type", flat=True))
    assert triggers == {
        TriggerType.SLA_BREACH,
        TriggerType.VENDOR_OFFLINE,
        TriggerType.EXCEPTION_UNRESOLVED,
    }
    action_types = {a["type"] for r in EscalationRule.objects.all() for a in r.actions}
    assert action_types == {"REASSIGN", "NOTIFY", "ESCALATE"}
    assert all(portal.get_order(f"demo-{o[0]}") is not None for o in ORDERS)


def test_demo_vendor_endpoint_only_in_demo_mode(client, settings):
    settings.DEMO_MODE = True
    assert client.get("/demo/vendors/courthouse-runners/health").status_code == 200
    assert client.get("/demo/vendors/verify-fast/health").status_code == 503
    settings.DEMO_MODE = False
    assert client.get("/demo/vendors/courthouse-runners/health").status_code == 404


def test_run_job_runs_a_declared_job(capsys):
    call_command("run_job", "vendor-performance-retention")
    assert capsys.readouterr().out.startswith("vendor-performance-retention: 0")


def test_run_job_names_the_jobs_for_an_unknown_one():
    with pytest.raises(CommandError, match="vendor-performance-retention"):
        call_command("run_job", "no-such-job")


def test_portal_simulator_inserts_orders_and_publishes(redis_client, subscriber):
    pubsub = subscriber("order:new", "order:status:changed")
    call_command("portal_simulator", "--count", "6", "--rate", "200", "--seed", "1")
    messages = []
    while (message := pubsub.get_message(timeout=1.0)) is not None:
        messages.append(json.loads(message["data"]))
    assert len(messages) == 6
    for message in messages:
        assert set(message) == {"id", "type", "occurredAt", "data"}
        assert portal.get_order(message["data"]["orderId"]) is not None
