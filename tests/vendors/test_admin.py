"""The vendor admin: health figures on the pages, SSRF refused in the form, the actions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import AuditLog
from portal.events import VENDOR_STATUS_CHANGED
from tests.factories import UserFactory, VendorFactory, VendorPerformanceFactory
from vendors.models import Vendor, VendorPerformance, VendorStatus
from vendors.services import failures_key

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:vendors_vendor_changelist"


@pytest.fixture
def staff(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def with_history(vendor, *, ok: int, failed: int, old: int = 0):
    now = timezone.now()
    for i in range(ok):
        VendorPerformanceFactory(
            vendor=vendor, ok=True, checked_at=now - timedelta(hours=1, minutes=i)
        )
    for i in range(failed):
        VendorPerformanceFactory(
            vendor=vendor, ok=False, status_code=500, checked_at=now - timedelta(hours=2, minutes=i)
        )
    for i in range(old):  # outside the 24 h window
        VendorPerformanceFactory(
            vendor=vendor, ok=False, checked_at=now - timedelta(days=2, minutes=i)
        )


def test_changelist_shows_failures_last_check_and_uptime(staff, redis_client):
    vendor = VendorFactory(name="Acme Labs")
    with_history(vendor, ok=3, failed=1, old=5)
    VendorPerformanceFactory(
        vendor=vendor, ok=True, response_time_ms=123, checked_at=timezone.now()
    )
    redis_client.set(failures_key(vendor.id), 2)
    page = staff.get(reverse(CHANGELIST)).content.decode()
    assert "80.0 % of 5" in page
    assert "123 ms" in page
    assert "(ok)" in page
    assert '<td class="field-failure_count">2</td>' in page


def test_changelist_queries_do_not_grow_with_the_vendors(staff, redis_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(reverse(CHANGELIST)).status_code == 200
        return len(captured)

    for _ in range(2):
        with_history(VendorFactory(), ok=2, failed=1)
    few = queries()
    for _ in range(10):
        with_history(VendorFactory(), ok=2, failed=1)
    assert queries() == few


def test_change_page_shows_the_figures(staff, redis_client):
    vendor = VendorFactory()
    with_history(vendor, ok=1, failed=1)
    redis_client.set(failures_key(vendor.id), 1)
    page = staff.get(reverse("admin:vendors_vendor_change", args=[vendor.id])).content.decode()
    assert "50.0 % of 2" in page
    assert "consecutive failures" in page.lower()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/health", "http://169.254.169.254/", "http://localhost/health"],
)
def test_form_refuses_an_internal_health_url(staff, settings, url):
    settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = False
    response = staff.post(
        reverse("admin:vendors_vendor_add"),
        {
            "name": "Sneaky",
            "status": "active",
            "health_check_url": url,
            "contact_email": "",
            "routing_rules-TOTAL_FORMS": "0",
            "routing_rules-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "may not be checked" in response.content.decode()
    assert not Vendor.objects.filter(name="Sneaky").exists()


def test_form_accepts_a_public_health_url(staff, settings):
    settings.HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = False
    response = staff.post(
        reverse("admin:vendors_vendor_add"),
        {
            "name": "Public",
            "status": "active",
            "health_check_url": "https://93.184.216.34/health",
            "contact_email": "",
            "routing_rules-TOTAL_FORMS": "0",
            "routing_rules-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Vendor.objects.filter(name="Public").exists()


def run_action(client, action: str, *vendors) -> list[str]:
    response = client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [v.id for v in vendors]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_check_now_probes_and_applies_the_result(staff, redis_client, httpserver, settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 1
    httpserver.expect_request("/up").respond_with_data("ok")
    httpserver.expect_request("/down").respond_with_data("no", status=503)
    up = VendorFactory(name="Up", health_check_url=httpserver.url_for("/up"))
    down = VendorFactory(name="Down", health_check_url=httpserver.url_for("/down"))
    unchecked = VendorFactory(name="NoURL")
    redis_client.set(failures_key(down.id), 2)
    notes = run_action(staff, "check_now", up, down, unchecked)
    assert any(n.startswith("Up: OK, HTTP 200") for n in notes)
    assert any("Down: failed (HTTP 503" in n and "Taken offline" in n for n in notes)
    assert any("NoURL: no health check URL" in n for n in notes)
    assert VendorPerformance.objects.filter(vendor__in=[up, down]).count() == 2
    assert Vendor.objects.get(id=down.id).status == VendorStatus.OFFLINE


def test_maintenance_and_back_to_active_are_audited_with_the_user(staff, redis_client):
    vendor = VendorFactory(status=VendorStatus.ACTIVE)
    offline = VendorFactory(status=VendorStatus.OFFLINE)
    redis_client.set(failures_key(offline.id), 7)
    run_action(staff, "put_in_maintenance", vendor)
    assert Vendor.objects.get(id=vendor.id).status == VendorStatus.MAINTENANCE
    entry = AuditLog.objects.get(target_id=str(vendor.id))
    assert entry.actor_user == staff.user and entry.after == {"status": "maintenance"}

    notes = run_action(staff, "back_to_active", vendor, offline)
    assert Vendor.objects.filter(id__in=[vendor.id, offline.id], status="active").count() == 2
    assert (
        AuditLog.objects.filter(
            actor_user=staff.user, after={"status": "active"}, action="vendor.status_changed"
        ).count()
        == 2
    )
    assert any("Now active" in n for n in notes)


def test_back_to_active_clears_the_failure_counter(
    staff, redis_client, django_capture_on_commit_callbacks
):
    offline = VendorFactory(status=VendorStatus.OFFLINE)
    redis_client.set(failures_key(offline.id), 7)
    with django_capture_on_commit_callbacks(execute=True):
        run_action(staff, "back_to_active", offline)
    assert redis_client.get(failures_key(offline.id)) is None


def test_a_status_changed_in_the_form_is_audited_and_published(
    staff, django_capture_on_commit_callbacks, subscriber
):
    vendor = VendorFactory(status="active")
    channel = subscriber(VENDOR_STATUS_CHANGED)
    form = {"name": vendor.name, "status": "suspended", "health_check_url": "",
            "contact_email": "", "routing_rules-TOTAL_FORMS": "0",
            "routing_rules-INITIAL_FORMS": "0"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("admin:vendors_vendor_change", args=[vendor.pk]), form)
    assert response.status_code == 302
    assert Vendor.objects.get(pk=vendor.pk).status == "suspended"
    row = AuditLog.objects.get(action="vendor.status_changed", target_id=str(vendor.pk))
    assert row.before == {"status": "active"} and row.after == {"status": "suspended"}
    assert row.actor_user == staff.user
    assert json.loads(channel.get_message(timeout=2)["data"])["data"]["status"] == "suspended"
