from __future__ import annotations

from tests.config.test_settings import run_check


def test_claim_timeout_must_outlast_a_task(tmp_path):
    result = run_check(
        tmp_path,
        DEBUG="true",
        TASK_TIMEOUT_SECONDS="120",
        NOTIFICATION_CLAIM_TIMEOUT_SECONDS="100",
    )
    assert result.returncode != 0
    assert "Environment variable NOTIFICATION_CLAIM_TIMEOUT_SECONDS" in result.stderr
