"""Demo data that makes every job visible within a few minutes of `bin/run`.

Vendors' health URLs point at this web server's demo endpoint (served only
with DEMO_MODE on); one of them answers 503, so it goes offline after three
sweeps and its orders fail over. Orders are created in the past so the first
SLA scan raises warnings and breaches, which start the escalation rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from escalation.models import EscalationRule, TriggerType
from notifications.roles import OPS_MANAGER, PROCESSOR
from portal import orders as portal
from sla.models import SLAConfig
from vendors.models import Vendor, VendorRoutingRule, VendorStatus

logger = logging.getLogger(__name__)

# Slugs the demo endpoint answers 503 for.
FAILING_VENDORS = {"verify-fast"}


@dataclass(frozen=True)
class DemoVendor:
    slug: str
    name: str
    status: str = VendorStatus.ACTIVE


VENDORS = (
    DemoVendor("verify-fast", "Verify Fast (fails its health checks)"),
    DemoVendor("courthouse-runners", "Courthouse Runners"),
    DemoVendor("labcorp-demo", "LabCorp Demo"),
    DemoVendor("archive-search", "Archive Search", VendorStatus.MAINTENANCE),
)


def demo_health_url(slug: str) -> str:
    return f"{settings.SITE_BASE_URL}/demo/vendors/{slug}/health"


def database_is_empty() -> bool:
    return not Vendor.objects.exists() and portal.get_order("demo-1001") is None


def _users(password: str) -> dict[str, object]:
    users = {}
    for username, role in (("processor", PROCESSOR), ("opsmanager", OPS_MANAGER)):
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", "is_staff": True}
        )
        if created:
            user.set_password(password)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    return users


def _vendors() -> dict[str, Vendor]:
    return {
        v.slug: Vendor.objects.create(
            name=v.name,
            status=v.status,
            health_check_url=demo_health_url(v.slug),
            contact_email=f"ops@{v.slug}.example",
        )
        for v in VENDORS
    }


def _routing(vendors: dict[str, Vendor]) -> None:
    rules = [
        ("verify-fast", "CRIMINAL", 1),
        ("courthouse-runners", "CRIMINAL", 2),
        ("labcorp-demo", "DRUG", 1),
        ("courthouse-runners", "", 5),
        ("archive-search", "", 1),
    ]
    VendorRoutingRule.objects.bulk_create(
        VendorRoutingRule(vendor=vendors[slug], package_type=ptype, priority=priority)
        for slug, ptype, priority in rules
    )


def _sla_configs() -> None:
    SLAConfig.objects.bulk_create(
        [
            SLAConfig(target_minutes=240),  # the default
            SLAConfig(package_id="criminal-basic", target_minutes=60),
            SLAConfig(client_id="acme", target_minutes=45),
        ]
    )


def _escalation_rules() -> None:
    to_managers = {"type": "NOTIFY", "toRole": OPS_MANAGER, "message": "Please look at this order."}
    rules = [
        # (name, trigger, conditions, actions, delay minutes, priority)
        ("Breach: tell the ops managers", TriggerType.SLA_BREACH, {}, [to_managers], 0, 1),
        ("Enterprise breach: escalate to level 2", TriggerType.SLA_BREACH,
         {"clientTier": "enterprise"}, [{"type": "ESCALATE", "level": 2}], 0, 2),
        ("Still breached after 2 min: an ops manager takes it", TriggerType.SLA_BREACH, {},
         [{"type": "REASSIGN", "toRole": OPS_MANAGER}], 2, 3),
        ("Vendor offline, no failover: escalate and tell", TriggerType.VENDOR_OFFLINE, {},
         [{"type": "ESCALATE"}, to_managers], 0, 1),
        ("Exception unresolved for 30 min: escalate", TriggerType.EXCEPTION_UNRESOLVED,
         {"minutesUnresolved": 30}, [{"type": "ESCALATE"}], 0, 1),
    ]  # fmt: skip
    EscalationRule.objects.bulk_create(
        EscalationRule(
            name=name,
            trigger_type=trigger,
            conditions=conditions,
            actions=actions,
            delay_minutes=delay,
            priority=priority,
        )
        for name, trigger, conditions, actions, delay, priority in rules
    )


# (id suffix, client, package id, package type, status, minutes ago, vendor slug)
ORDERS = (
    ("1001", "acme", "criminal-basic", "CRIMINAL", "in_progress", 50, "verify-fast"),  # breach
    ("1002", "globex", "criminal-basic", "CRIMINAL", "in_progress", 52, "verify-fast"),  # warning
    ("1003", "globex", "criminal-basic", "CRIMINAL", "pending", 10, "verify-fast"),
    ("1004", "initech", "criminal-basic", "CRIMINAL", "in_progress", 75, "courthouse-runners"),
    ("1005", "globex", "drug-5-panel", "DRUG", "in_progress", 200, "labcorp-demo"),  # warning
    ("1006", "initech", "drug-5-panel", "DRUG", "awaiting_client", 300, "labcorp-demo"),
    ("1007", "acme", "drug-5-panel", "DRUG", "exception", 45, "labcorp-demo"),
    ("1008", "globex", "employment-verify", "EMPLOYMENT", "pending", 5, None),
    ("1009", "initech", "criminal-basic", "CRIMINAL", "completed", 500, "courthouse-runners"),
    ("1010", "acme", "criminal-basic", "CRIMINAL", "pending", 20, "verify-fast"),
)


def _portal_rows(vendors: dict[str, Vendor], processor_id: int) -> None:
    for client_id, name, tier in (
        ("acme", "Acme Corp", "enterprise"),
        ("globex", "Globex", "standard"),
        ("initech", "Initech", "standard"),
    ):
        if portal.get_client(client_id) is None:
            portal.insert_client(client_id=client_id, name=name, tier=tier)
    now = timezone.now()
    for suffix, client, package_id, package_type, status, minutes_ago, vendor in ORDERS:
        portal.insert_order(
            order_id=f"demo-{suffix}",
            client_id=client,
            package_id=package_id,
            package_type=package_type,
            status=status,
            vendor_id=vendors[vendor].id if vendor else None,
            assigned_to_id=processor_id if int(suffix) % 2 else None,
            created_at=now - timedelta(minutes=minutes_ago),
        )


@transaction.atomic
def demo_load(*, password: str) -> None:
    """Write the demo data; callers check database_is_empty() first."""
    users = _users(password)
    vendors = _vendors()
    _routing(vendors)
    _sla_configs()
    _escalation_rules()
    _portal_rows(vendors, users[PROCESSOR].id)
    logger.info("demo data loaded: %d vendors, %d orders", len(vendors), len(ORDERS))
