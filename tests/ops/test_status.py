from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from sla.models import AlertType
from tests.factories import OrderFactory, SLAAlertFactory, UserFactory, VendorFactory
from vendors.models import VendorStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_index_links_to_the_status_page(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("ops-status") in page


def test_status_page_needs_a_staff_login(client):
    response = client.get(reverse("ops-status"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_status_page_shows_sla_states_vendors_and_jobs(staff_client):
    breached, warned, _on_track = OrderFactory(), OrderFactory(), OrderFactory()
    OrderFactory(status="completed")
    SLAAlertFactory(order_id=breached.id, type=AlertType.WARNING)
    SLAAlertFactory(order_id=breached.id, type=AlertType.BREACHED)
    SLAAlertFactory(order_id=warned.id, type=AlertType.WARNING)
    VendorFactory(name="Down Vendor", status=VendorStatus.OFFLINE)
    async_task("vendors.tasks.vendor_performance_retention")  # runs inline in tests

    response = staff_client.get(reverse("ops-status"))
    assert response.status_code == 200
    assert response.context["sla"] == {"open": 3, "on_track": 1, "warning": 1, "breached": 1}
    assert response.context["vendors_by_status"] == {"offline": 1}
    jobs = {job.name: job for job in response.context["jobs"]}
    assert jobs["vendor-performance-retention"].succeeded is True
    assert jobs["vendor-health-check"].last_started is None
    assert "Down Vendor" in response.content.decode()


def test_status_page_queries_do_not_grow_with_orders(staff_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(reverse("ops-status")).status_code == 200
        return len(captured)

    OrderFactory()
    few = queries()
    for _ in range(30):
        SLAAlertFactory(order_id=OrderFactory().id, type=AlertType.BREACHED)
    assert queries() == few


def test_status_page_counts_rejected_and_unpublished_events(staff_client):
    from portal.models import RejectedEvent

    RejectedEvent.objects.create(
        channel="order:new", reason="not_json", raw="{", raw_size=1, received_at=timezone.now()
    )
    response = staff_client.get(reverse("ops-status"))
    assert response.context["events"]["rejected_last_day"] == 1
    assert response.context["events"]["outbox_backlog"] == 0


def test_on_demand_jobs_count_their_batch_variants(staff_client):
    async_task("escalation.tasks.auto_escalate_batch", [])  # runs inline in tests
    jobs = {job.name: job for job in staff_client.get(reverse("ops-status")).context["jobs"]}
    assert jobs["auto-escalation"].succeeded is True
