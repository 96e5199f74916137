from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    """Project-wide commands (sync_schedules) and the schedule sync after migrate."""

    name = "config"
    label = "config"
    verbose_name = "Back office"

    def ready(self) -> None:
        post_migrate.connect(_sync_schedules_after_migrate, dispatch_uid="config.sync_schedules")


def _sync_schedules_after_migrate(sender, app_config, using="default", **kwargs) -> None:
    # post_migrate fires once per app; django_q's owns the Schedule table.
    if app_config.label != "django_q":
        return
    from config.schedules import sync_schedules

    sync_schedules(using=using)
