"""Test settings: the real settings with tasks run inline and fast hashing.

Tests use PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set, the
SQLite file and the embedded Redis when not.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("DEBUG", "false")

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

# django-q2 reads its configuration once at import, so override_settings has
# no effect on it: inline task execution must be set here.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Test vendors answer on loopback.
HEALTH_CHECK_ALLOW_PRIVATE_NETWORKS = True
