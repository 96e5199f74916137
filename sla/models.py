from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class SLAConfig(models.Model):
    """An SLA target for a scope: (client, package), either part blank meaning any.

    Both blank is the default. One row per scope, so at most one default.
    """

    client_id = models.CharField(max_length=64, blank=True, help_text="Blank: any client.")
    package_id = models.CharField(max_length=64, blank=True, help_text="Blank: any package.")
    target_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    warning_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SLA config"
        ordering = ["client_id", "package_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client_id", "package_id"],
                name="sla_config_one_per_scope",
                violation_error_message=(
                    "An SLA config for this client and package already exists "
                    "(both blank is the default, and there is only one)."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(warning_percent__gte=1, warning_percent__lte=99),
                name="sla_config_warning_percent_range",
            ),
            models.CheckConstraint(
                condition=models.Q(target_minutes__gte=1), name="sla_config_target_positive"
            ),
        ]

    def __str__(self) -> str:
        if self.is_default:
            return f"Default: {self.target_minutes} min"
        return (
            f"{self.client_id or 'any client'} / {self.package_id or 'any package'}: "
            f"{self.target_minutes} min"
        )

    @property
    def is_default(self) -> bool:
        return not self.client_id and not self.package_id


class AlertType(models.TextChoices):
    WARNING = "warning", "Warning"
    BREACHED = "breached", "Breached"


class SLAAlert(models.Model):
    order_id = models.CharField(max_length=64)
    type = models.CharField(max_length=10, choices=AlertType.choices)
    client_id = models.CharField(max_length=64, blank=True, db_index=True)
    package_id = models.CharField(max_length=64, blank=True)
    target_minutes = models.PositiveIntegerField(null=True, blank=True)
    order_created_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "SLA alert"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order_id", "type"], name="sla_alert_once_per_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} for order {self.order_id}"
