from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from config.schedules import JOBS, sync_schedules

pytestmark = pytest.mark.django_db


def test_every_declared_job_is_written():
    sync_schedules()
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {job.name for job in JOBS} <= names
    for job in JOBS:
        schedule = Schedule.objects.get(name=job.name)
        assert schedule.func == job.func
        assert schedule.schedule_type == Schedule.MINUTES
        assert schedule.minutes == job.minutes
        assert schedule.args is None and schedule.kwargs is None


def test_sync_is_idempotent_and_keeps_next_run():
    sync_schedules()
    later = timezone.now() + timedelta(hours=3)
    Schedule.objects.update(next_run=later)
    result = sync_schedules()
    assert result.created == []
    assert Schedule.objects.filter(name__in=[j.name for j in JOBS]).count() == len(JOBS)
    assert all(s.next_run == later for s in Schedule.objects.all())


def test_interval_change_is_applied(settings):
    sync_schedules()
    job = JOBS[0]
    setattr(settings, job.interval_setting, 7)
    sync_schedules()
    assert Schedule.objects.get(name=job.name).minutes == 7


def test_owned_schedule_no_longer_declared_is_removed_and_others_kept():
    Schedule.objects.create(name="old-job", func="vendors.tasks.gone", schedule_type="I", minutes=5)
    Schedule.objects.create(name="someone-else", func="math.floor", schedule_type="I", minutes=5)
    result = sync_schedules()
    assert result.removed == ["old-job"]
    assert Schedule.objects.filter(name="someone-else").exists()


def test_duplicate_rows_from_a_race_are_collapsed():
    sync_schedules()
    job = JOBS[0]
    Schedule.objects.create(name=job.name, func=job.func, schedule_type="I", minutes=1)
    sync_schedules()
    assert Schedule.objects.filter(name=job.name).count() == 1


def test_command_runs(capsys):
    call_command("sync_schedules")
    assert "vendor-performance-retention" in capsys.readouterr().out
