from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The top of the import order: the status page and the demo that exercise every app."""

    name = "ops"
    verbose_name = "Operations"
