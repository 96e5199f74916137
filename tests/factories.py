from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from escalation.models import EscalationRule, TriggerType
from notifications.models import ActorType, AdminNotification, AuditLog
from portal import orders as portal_orders
from sla.models import AlertType, SLAAlert, SLAConfig
from vendors.models import Vendor, VendorPerformance, VendorRoutingRule, VendorStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True  # roles only add groups; nothing to save again

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        """UserFactory(roles=["opsmanager"]): a member of those role groups."""
        for role in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=role)[0])


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    status = VendorStatus.ACTIVE
    health_check_url = ""
    contact_email = factory.Sequence(lambda n: f"vendor{n}@example.com")


class VendorRoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorRoutingRule

    vendor = factory.SubFactory(VendorFactory)
    package_type = ""
    client_id = ""
    priority = 1
    is_active = True


class VendorPerformanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorPerformance

    vendor = factory.SubFactory(VendorFactory)
    checked_at = factory.LazyFunction(timezone.now)
    response_time_ms = 42
    ok = True
    status_code = 200


class SLAConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAConfig

    client_id = ""
    package_id = ""
    target_minutes = 60
    warning_percent = 80
    is_active = True


class SLAAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAAlert

    order_id = factory.Sequence(lambda n: f"ord-{n}")
    type = AlertType.WARNING


class EscalationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    trigger_type = TriggerType.SLA_BREACH
    conditions = factory.LazyFunction(dict)
    actions = factory.LazyFunction(lambda: [{"type": "ESCALATE"}])
    delay_minutes = 0
    priority = 1
    is_active = True


class AdminNotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdminNotification

    recipient = factory.SubFactory(UserFactory)
    title = "Something happened"
    body = "Details."


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    actor_type = ActorType.SYSTEM
    actor_label = "test"
    action = "vendor.status_changed"
    target_type = "vendor"
    target_id = "1"


class ClientFactory(factory.Factory):
    """A row in the portal's `clients` table, written through the portal gateway."""

    class Meta:
        model = portal_orders.ClientRow

    client_id = factory.Sequence(lambda n: f"client-{n}")
    name = factory.Sequence(lambda n: f"Client {n}")
    tier = "standard"

    @classmethod
    def _create(cls, model_class: type, **kwargs: object) -> portal_orders.ClientRow:
        return portal_orders.insert_client(**kwargs)


class OrderFactory(factory.Factory):
    """A row in the portal's `orders` table, written through the portal gateway."""

    class Meta:
        model = portal_orders.OrderRow

    order_id = factory.Sequence(lambda n: f"order-{n}")
    client_id = factory.LazyFunction(lambda: ClientFactory().id)
    package_id = "pkg-basic"
    package_type = "CRIMINAL"
    status = "pending"

    @classmethod
    def _create(cls, model_class: type, **kwargs: object) -> portal_orders.OrderRow:
        return portal_orders.insert_order(**kwargs)
