"""Health-check settings that cannot work stop the start with a message naming the variable."""

from __future__ import annotations

import pytest

from tests.config.test_settings import run_check


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HEALTH_CHECK_TIMEOUT_SECONDS": "soon"}, "HEALTH_CHECK_TIMEOUT_SECONDS"),
        ({"HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS": "maybe"}, "HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS"),
        ({"VENDOR_HEALTH_CHECK_POOL_SIZE": "0"}, "VENDOR_HEALTH_CHECK_POOL_SIZE"),
        (
            {
                "VENDOR_HEALTH_CHECK_INTERVAL_MINUTES": "5",
                "VENDOR_FAILURE_COUNTER_TTL_SECONDS": "300",
            },
            "VENDOR_FAILURE_COUNTER_TTL_SECONDS",
        ),
    ],
)
def test_bad_health_check_setting_names_the_variable(tmp_path, env, variable):
    result = run_check(tmp_path, DEBUG="true", **env)
    assert result.returncode != 0
    assert f"Environment variable {variable}" in result.stderr
