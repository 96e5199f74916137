"""A malformed setting stops the start with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}
    }
    environment.update({"VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"})
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "true", "TASK_WORKERS": "two"}, "TASK_WORKERS"),
        ({"DEBUG": "true", "DATABASE_URL": "mysqll://x"}, "DATABASE_URL"),
        ({"DEBUG": "true", "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"DEBUG": "true", "TASK_BROKER": "kafka"}, "TASK_BROKER"),
        ({"DEBUG": "true", "TASK_BROKER": "redis"}, "TASK_BROKER"),
        ({"DEBUG": "true", "TASK_TIMEOUT_SECONDS": "300", "TASK_RETRY_SECONDS": "200"},
         "TASK_RETRY_SECONDS"),
        ({"DEBUG": "true", "EMAIL_URL": "nonsense"}, "EMAIL_URL"),
    ],
)  # fmt: skip
def test_malformed_setting_names_the_variable(tmp_path, env, variable):
    result = run_check(tmp_path, **env)
    assert result.returncode != 0
    assert f"Environment variable {variable}" in result.stderr
    assert "Traceback" not in result.stderr


def test_good_settings_start(tmp_path):
    result = run_check(tmp_path, DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
