"""The SLA admin: a clear refusal of duplicate scopes, and an alert list ops can act on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from sla.models import SLAAlert, SLAConfig
from tests.factories import OrderFactory, SLAAlertFactory, SLAConfigFactory, UserFactory

pytestmark = pytest.mark.django_db

DUPLICATE = "An SLA config for this client and package already exists"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def post_config(admin_client, **fields):
    data = {"client_id": "", "package_id": "", "target_minutes": "60", "warning_percent": "80",
            "is_active": "on", **fields}  # fmt: skip
    return admin_client.post(reverse("admin:sla_slaconfig_add"), data)


def test_a_second_default_is_refused_with_a_clear_message(admin_client):
    SLAConfigFactory(target_minutes=120)
    response = post_config(admin_client)
    assert response.status_code == 200  # the form again, not a 500
    assert DUPLICATE in response.content.decode()
    assert SLAConfig.objects.count() == 1


def test_a_duplicate_scope_is_refused_with_a_clear_message(admin_client):
    SLAConfigFactory(client_id="acme", package_id="pkg-a")
    response = post_config(admin_client, client_id="acme", package_id="pkg-a")
    assert DUPLICATE in response.content.decode()
    assert SLAConfig.objects.count() == 1


def test_an_inactive_duplicate_is_refused_too(admin_client):
    SLAConfigFactory(client_id="acme", is_active=False)
    assert DUPLICATE in post_config(admin_client, client_id="acme").content.decode()


def test_distinct_scopes_are_accepted(admin_client):
    SLAConfigFactory()
    for client_id, package_id in [("acme", ""), ("", "pkg-a"), ("acme", "pkg-a")]:
        response = post_config(admin_client, client_id=client_id, package_id=package_id)
        assert response.status_code == 302
    assert SLAConfig.objects.count() == 4


def test_alert_list_links_the_order_and_shows_target_and_lateness(admin_client, now):
    order = OrderFactory(created_at=now - timedelta(minutes=75))
    SLAAlertFactory(order_id=order.id, type="breached", client_id=order.client_id,
                    target_minutes=60, order_created_at=order.created_at)  # fmt: skip
    SLAAlertFactory(order_id="o-early", type="warning", target_minutes=60,
                    order_created_at=now - timedelta(minutes=50))  # fmt: skip
    page = admin_client.get(reverse("admin:sla_slaalert_changelist")).content.decode()
    assert reverse("admin:portal_order_change", args=[order.id]) in page
    assert "60 min" in page
    assert "15 min late" in page
    assert "10 min left" in page


def test_resolved_alert_lateness_is_measured_at_resolution(admin_client, now):
    SLAAlertFactory(order_id="o-r", type="breached", target_minutes=60,
                    order_created_at=now - timedelta(hours=5),
                    resolved_at=now - timedelta(hours=3, minutes=30))  # fmt: skip
    page = admin_client.get(reverse("admin:sla_slaalert_changelist")).content.decode()
    assert "30 min late" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type__exact=breached", {"o-b"}),
        ("resolved=yes", {"o-w2"}),
        ("resolved=no", {"o-w", "o-b"}),
        ("client_id=acme", {"o-w", "o-b"}),
    ],
)
def test_alert_list_filters(admin_client, query, expected, now):
    SLAAlertFactory(order_id="o-w", type="warning", client_id="acme")
    SLAAlertFactory(order_id="o-b", type="breached", client_id="acme")
    SLAAlertFactory(order_id="o-w2", type="warning", client_id="beta", resolved_at=now)
    response = admin_client.get(reverse("admin:sla_slaalert_changelist") + "?" + query)
    assert response.status_code == 200
    shown = {alert.order_id for alert in response.context["cl"].result_list}
    assert shown == expected
    assert SLAAlert.objects.count() == 3
