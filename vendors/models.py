from __future__ import annotations

from django.core.validators import URLValidator
from django.db import models


class VendorStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    MAINTENANCE = "maintenance", "Maintenance"
    SUSPENDED = "suspended", "Suspended"
    # Set and cleared only by the vendor-health-check job.
    OFFLINE = "offline", "Offline (set by health checks)"


MANUAL_STATUSES = [c for c in VendorStatus.choices if c[0] != VendorStatus.OFFLINE]


class Vendor(models.Model):
    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=20, choices=VendorStatus.choices, default=VendorStatus.ACTIVE, db_index=True
    )
    health_check_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="http(s) URL answered with a 2xx when the vendor is healthy; blank: not checked.",
    )
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VendorRoutingRule(models.Model):
    """Which vendor may take which orders; the lowest priority number wins."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="routing_rules")
    package_type = models.CharField(max_length=64, blank=True, help_text="Blank: any package type.")
    client_id = models.CharField(max_length=64, blank=True, help_text="Blank: any client.")
    priority = models.PositiveIntegerField(default=1, help_text="Lower numbers are tried first.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        indexes = [
            models.Index(fields=["is_active", "package_type", "client_id"], name="routing_match")
        ]

    def __str__(self) -> str:
        scope = f"{self.package_type or 'any package'} / {self.client_id or 'any client'}"
        return f"{self.vendor} for {scope} (priority {self.priority})"


class VendorPerformance(models.Model):
    """One health probe of one vendor."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="performance")
    checked_at = models.DateTimeField(db_index=True)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at", "-id"]
        verbose_name_plural = "vendor performance"
        indexes = [models.Index(fields=["vendor", "-checked_at"], name="perf_vendor_checked")]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"{self.vendor_id} at {self.checked_at:%Y-%m-%d %H:%M:%S}: {outcome}"
