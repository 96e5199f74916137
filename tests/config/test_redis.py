"""The one Redis client, real server: REDIS_URL when set, the embedded one when not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config.redis import get_redis, new_redis, redis_url

ROOT = Path(__file__).resolve().parents[2]


def test_ping(redis_client):
    assert redis_client.ping() is True


def test_get_redis_is_shared_within_a_process():
    assert get_redis() is get_redis()


def test_pubsub_round_trip_between_two_clients(redis_client, subscriber):
    pubsub = subscriber("test:round-trip")
    receivers = redis_client.publish("test:round-trip", json.dumps({"hello": "world"}))
    assert receivers == 1
    message = pubsub.get_message(timeout=2.0)
    assert message["channel"] == b"test:round-trip"
    assert json.loads(message["data"]) == {"hello": "world"}


def test_another_process_reaches_the_same_server(redis_client):
    """Web, workers, listener and tests share one server: a key set here is seen there."""
    redis_client.set("test:shared", "from-tests")
    code = (
        "import django; django.setup();"
        "from config.redis import get_redis; print(get_redis().get('test:shared').decode())"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "from-tests"


def test_embedded_redis_used_without_redis_url(settings):
    if settings.REDIS_URL:
        assert redis_url() == settings.REDIS_URL
    else:
        assert redis_url().startswith("unix://")
        assert new_redis().ping()
