"""Rejected events are reviewed in the admin: listed, filterable, read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from portal.inbound import handle_message, load_handlers
from portal.models import RejectedEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def test_rejected_events_are_listed_filtered_and_read_only(superuser_client, rf):
    handlers = load_handlers()
    handle_message("order:new", b"this is not json", handlers)
    handle_message("order:new", b'{"orderId": 7}', handlers)
    url = reverse("admin:portal_rejectedevent_changelist")
    page = superuser_client.get(url).content.decode()
    assert "this is not json" in page and "Not JSON" in page and "Malformed orderId" in page
    filtered = superuser_client.get(url, {"reason__exact": "bad_order_id"}).content.decode()
    assert "Malformed orderId" in filtered and "this is not json" not in filtered
    bad_id = RejectedEvent.objects.get(reason="bad_order_id")
    detail = superuser_client.get(reverse("admin:portal_rejectedevent_change", args=[bad_id.pk]))
    assert detail.status_code == 200
    assert "orderId must be a non-empty printable string" in detail.content.decode()
    request = rf.get("/")
    request.user = UserFactory(username="root")
    model_admin = admin.site._registry[RejectedEvent]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, bad_id)
    assert not model_admin.has_delete_permission(request, bad_id)
