from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from config.schedules import JOBS, job_named


class Command(BaseCommand):
    help = "Run one periodic job once, now, in this process, and print its summary."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="job name: " + ", ".join(job.name for job in JOBS))

    def handle(self, *args: object, name: str, **options: object) -> None:
        try:
            job = job_named(name)
        except KeyError:
            names = ", ".join(j.name for j in JOBS)
            raise CommandError(f"unknown job {name!r}; the jobs are: {names}") from None
        started = time.monotonic()
        result = import_string(job.func)()
        elapsed = time.monotonic() - started
        self.stdout.write(f"{job.name}: {result!r} ({elapsed:.2f} s)")
