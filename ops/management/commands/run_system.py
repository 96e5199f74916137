from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.supervisor import Child, Supervisor
from ops.demo import database_is_empty, demo_load

logger = logging.getLogger(__name__)


def _manage(*args: str) -> list[str]:
    return [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]


class Command(BaseCommand):
    help = (
        "Run the whole system on one machine: migrate, sync schedules, ensure an admin user, "
        "load demo data into an empty database in demo mode, then the admin web server, the "
        "qcluster workers and the event listener under one supervisor. "
        "Ctrl-C stops everything."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="web server address")
        parser.add_argument("--skip-migrate", action="store_true")
        parser.add_argument(
            "--no-demo", action="store_true", help="never load demo data (also: DEMO_MODE=false)"
        )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.REDIS_URL:
            from config import embedded_redis

            self.stdout.write(f"Embedded Redis: {embedded_redis.ensure_running()}")
        if not options["skip_migrate"]:
            call_command("migrate", interactive=False, verbosity=1)  # also syncs schedules
        username, password = self._ensure_admin()
        self._load_demo(options["no_demo"], password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Admin: http://{options['addr']}/admin/  user: {username}  "
                f"password: {password}\n  Ctrl-C stops everything.\n"
            )
        )
        children = [
            Child("web", _manage("runserver", options["addr"], "--noreload")),
            Child("workers", _manage("qcluster")),
            Child("listener", _manage("listen_events")),
        ]
        code = Supervisor(children).run()
        self._stop_embedded_redis()
        sys.exit(code)

    def _ensure_admin(self) -> tuple[str, str]:
        """Create `admin` with a random password once; the password is kept under var/."""
        secret_file = Path(settings.VAR_DIR) / "admin-password.txt"
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            stored = secret_file.read_text().strip() if secret_file.exists() else "(as you set it)"
            return "admin", stored
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@localhost", password)
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
        return "admin", password

    def _load_demo(self, no_demo: bool, password: str) -> None:
        if no_demo or not settings.DEMO_MODE:
            return
        if not database_is_empty():
            self.stdout.write("Demo data: the database already has data; not loading it.")
            return
        demo_load(password=password)
        self.stdout.write(
            "Demo data loaded; users `processor` and `opsmanager` have the admin's password."
        )

    def _stop_embedded_redis(self) -> None:
        if not settings.REDIS_URL:
            from config import embedded_redis

            embedded_redis.stop()
            self.stdout.write("Embedded Redis stopped.")
