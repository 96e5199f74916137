"""Every admin page a superuser can reach answers; bad JSON is a form error, not a 500."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from escalation.models import EscalationRule
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = [model for model in admin.site._registry]


@pytest.fixture
def superuser_client(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    return client


def _url(model: type, view: str) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_answers(superuser_client, model):
    OrderFactory()  # the portal tables have a row to show
    assert superuser_client.get(_url(model, "changelist")).status_code == 200


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_add_page_answers_or_is_refused_for_system_rows(superuser_client, rf, model):
    request = rf.get("/")
    request.user = UserFactory(username="root")
    can_add = admin.site._registry[model].has_add_permission(request)
    expected = 200 if can_add else 403
    assert superuser_client.get(_url(model, "add")).status_code == expected


@pytest.mark.parametrize(
    "read_only_label",
    ["vendors.VendorPerformance", "notifications.AuditLog", "portal.Order", "portal.Client"],
)
def test_system_rows_are_read_only(rf, read_only_label):
    model_admin = next(
        a for m, a in admin.site._registry.items() if m._meta.label == read_only_label
    )
    request = rf.get("/")
    request.user = UserFactory(username="root", is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_invalid_json_is_a_form_error(superuser_client):
    response = superuser_client.post(
        _url(EscalationRule, "add"),
        {
            "name": "Broken",
            "trigger_type": "SLA_BREACH",
            "conditions": "{not json",
            "actions": "[]",
            "delay_minutes": 0,
            "priority": 1,
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "conditions" in response.context["adminform"].form.errors
    assert not EscalationRule.objects.exists()


def test_django_q_pages_present(superuser_client):
    assert superuser_client.get(reverse("admin:django_q_schedule_changelist")).status_code == 200
    assert superuser_client.get(reverse("admin:django_q_failure_changelist")).status_code == 200


def test_vendor_form_never_offers_offline(superuser_client):
    page = superuser_client.get(reverse("admin:vendors_vendor_add")).content.decode()
    assert 'value="maintenance"' in page
    assert 'value="offline"' not in page
