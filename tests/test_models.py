"""Model constraints that the jobs rely on."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from sla.models import AlertType, SLAConfig
from tests.factories import OrderFactory, SLAAlertFactory, SLAConfigFactory, VendorFactory
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def test_one_alert_per_order_and_type():
    SLAAlertFactory(order_id="o-1", type=AlertType.WARNING)
    SLAAlertFactory(order_id="o-1", type=AlertType.BREACHED)
    with pytest.raises(IntegrityError), transaction.atomic():
        SLAAlertFactory(order_id="o-1", type=AlertType.WARNING)


def test_only_one_default_sla_config():
    SLAConfigFactory(client_id="", package_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        SLAConfigFactory(client_id="", package_id="")


def test_one_sla_config_per_scope_and_a_clear_message():
    SLAConfigFactory(client_id="c1", package_id="p1")
    duplicate = SLAConfig(client_id="c1", package_id="p1", target_minutes=10)
    with pytest.raises(ValidationError, match="already exists"):
        duplicate.full_clean()


@pytest.mark.parametrize("url", ["ftp://vendor.example/health", "file:///etc/passwd", "nope"])
def test_health_url_must_be_http(url):
    vendor = Vendor(name="v", health_check_url=url)
    with pytest.raises(ValidationError) as error:
        vendor.full_clean()
    assert "health_check_url" in error.value.message_dict


def test_health_url_http_accepted():
    VendorFactory.build(health_check_url="https://vendor.example/health").full_clean()


def test_portal_order_round_trip_keeps_aware_times():
    order = OrderFactory(status="in_progress")
    assert order.created_at.tzinfo is not None
    assert order.is_open and not order.is_closed
