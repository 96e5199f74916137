from __future__ import annotations

from django.core.management.base import BaseCommand

from config.schedules import sync_schedules


class Command(BaseCommand):
    help = "Write every declared periodic job as a django-q2 Schedule (also run after migrate)."

    def handle(self, *args: object, **options: object) -> None:
        result = sync_schedules()
        self.stdout.write(
            f"created: {', '.join(result.created) or '-'}; "
            f"updated: {', '.join(result.updated) or '-'}; "
            f"removed: {', '.join(result.removed) or '-'}"
        )
