from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from escalation.admin import audit_story
from escalation.models import EscalationExecution, EscalationRule, ExecutionStatus
from escalation.services import escalation_trigger
from sla.models import AlertType
from tests.factories import EscalationRuleFactory, OrderFactory, SLAAlertFactory, UserFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:escalation_escalationrule_add")


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def post_rule(admin_client, *, conditions, actions):
    data = {
        "name": "Breach on premium", "trigger_type": "SLA_BREACH", "delay_minutes": 0,
        "priority": 1, "is_active": "on",
        "conditions": conditions if isinstance(conditions, str) else json.dumps(conditions),
        "actions": actions if isinstance(actions, str) else json.dumps(actions),
    }  # fmt: skip
    return admin_client.post(ADD_URL, data)


def field_errors(response, field: str) -> list[str]:
    assert response.status_code == 200, response.status_code
    return list(response.context["adminform"].form.errors.get(field, []))


def test_add_page_shows_the_schema_with_examples(admin_client):
    page = admin_client.get(ADD_URL).content.decode()
    assert "minElapsedPercent" in page and "toRole" in page and "ESCALATE" in page


def test_valid_rule_is_saved(admin_client, member):
    member("opsmanager", username="alice")
    actions = [{"type": "REASSIGN", "toRole": "processor"},
               {"type": "NOTIFY", "toUser": "alice", "message": "Call them"},
               {"type": "ESCALATE", "level": 2}]  # fmt: skip
    response = post_rule(admin_client, conditions={"clientTier": ["premium"]}, actions=actions)
    assert response.status_code == 302
    assert EscalationRule.objects.get().actions == actions


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"minElapsedPercent": "high"}, "minElapsedPercent must be a number, got 'high'"),
        ({"minEscalationLevel": 1.5}, "minEscalationLevel must be an integer"),
        ({"vendorId": ["3"]}, "vendorId must be an integer or a list of them, got '3'"),
        ({"packageType": []}, "packageType must not be an empty list"),
        ({"minEscalationLevel": 3, "maxEscalationLevel": 1}, "is above maxEscalationLevel"),
        (["packageType"], "conditions must be a JSON object, got a list"),
        ("{not json", "Enter a valid JSON."),
    ],
)
def test_invalid_conditions_are_field_errors(admin_client, conditions, expected):
    response = post_rule(admin_client, conditions=conditions, actions=[{"type": "ESCALATE"}])
    assert any(expected in error for error in field_errors(response, "conditions"))
    assert not EscalationRule.objects.exists()


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([], "This field is required."),
        ({"type": "ESCALATE"}, "actions must be a JSON list, got an object"),
        ([{"type": "EMAIL"}], "action 1: type must be one of REASSIGN, NOTIFY, ESCALATE"),
        ([{"type": "REASSIGN"}], "action 1: REASSIGN needs toRole"),
        ([{"type": "REASSIGN", "toRole": "wizards"}], "action 1: unknown role 'wizards'"),
        ([{"type": "NOTIFY", "toUser": "nobody"}], "action 1: unknown or inactive user 'nobody'"),
        ([{"type": "NOTIFY"}], "NOTIFY needs exactly one of toRole or toUser"),
        ([{"type": "NOTIFY", "toRole": "opsmanager", "message": 5}], "message must be text"),
        ([{"type": "ESCALATE", "level": 0}], "level must be an integer of at least 1"),
        ([{"type": "ESCALATE", "levle": 2}], "unknown key 'levle' for ESCALATE"),
        ([{"type": "ESCALATE"}, "NOTIFY"], "action 2: must be a JSON object"),
    ],
)
def test_invalid_actions_are_field_errors(admin_client, actions, expected):
    response = post_rule(admin_client, conditions={}, actions=actions)
    assert any(expected in error for error in field_errors(response, "actions"))
    assert not EscalationRule.objects.exists()


def test_rules_list_counts_executions(admin_client):
    rule = EscalationRuleFactory()
    for n in range(3):
        EscalationExecution.objects.create(
            rule=rule, order_id=f"o-{n}", trigger="SLA_BREACH", occurrence="x",
            due_at=timezone.now(),
        )  # fmt: skip
    page = admin_client.get(reverse("admin:escalation_escalationrule_changelist")).content.decode()
    assert f"rule__id__exact={rule.pk}" in page and ">3</a>" in page


def test_executions_filter_by_status_rule_and_order(admin_client):
    url = reverse("admin:escalation_escalationexecution_changelist")
    for query in ("?status__exact=pending", "?rule__id__exact=1", "?q=order-1"):
        assert admin_client.get(url + query).status_code == 200


def test_run_now_runs_a_pending_execution_before_its_delay(admin_client):
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(delay_minutes=60, actions=[{"type": "ESCALATE"}])
    escalation_trigger(order_id=order.id, trigger="SLA_BREACH", occurrence="sla-alert:1")
    execution = EscalationExecution.objects.get()
    assert execution.status == ExecutionStatus.PENDING
    url = reverse("admin:escalation_escalationexecution_changelist")
    admin_client.post(url, {"action": "run_now", "_selected_action": [execution.pk]})
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.DONE


def test_execution_page_tells_the_story(admin_client, member):
    member("processor", username="bob")
    member("opsmanager", username="carol")
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(
        name="Premium breach",
        actions=[{"type": "REASSIGN", "toRole": "processor"},
                 {"type": "NOTIFY", "toRole": "opsmanager"}, {"type": "ESCALATE"}],
    )  # fmt: skip
    escalation_trigger(order_id=order.id, trigger="SLA_BREACH", occurrence="sla-alert:9")
    execution = EscalationExecution.objects.get()
    assert [row.action for row in audit_story(execution)] == [
        "escalation.reassign", "escalation.notify", "escalation.escalate",
    ]  # fmt: skip
    url = reverse("admin:escalation_escalationexecution_change", args=[execution.pk])
    page = admin_client.get(url).content.decode()
    for step in ("sla-alert:9", "matched rule", "reassigned to bob", "notified role opsmanager",
                 "escalation level raised to 1", f"target_id={order.id}"):  # fmt: skip
        assert step in page, step


def test_sla_alert_admin_escalates_now(admin_client):
    order = OrderFactory(escalation_level=0)
    EscalationRuleFactory(trigger_type="MANUAL", actions=[{"type": "ESCALATE", "level": 3}])
    alert = SLAAlertFactory(order_id=order.id, type=AlertType.BREACHED)
    url = reverse("admin:sla_slaalert_changelist")
    response = admin_client.post(url, {"action": "escalate_now", "_selected_action": [alert.pk]})
    assert response.status_code == 302
    execution = EscalationExecution.objects.get()  # tasks run inline in tests
    assert execution.trigger == "MANUAL" and execution.occurrence.startswith("manual:")
    assert execution.context == {"requestedBy": "root", "slaAlertId": alert.pk}
    assert execution.status == ExecutionStatus.DONE
