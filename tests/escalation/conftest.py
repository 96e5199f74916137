from __future__ import annotations

import pytest

from tests.factories import UserFactory


@pytest.fixture
def member(db):
    """member(role, **user fields): a user in the role's group (created if new)."""

    def make(role: str, **kwargs):
        return UserFactory(roles=[role], **kwargs)

    return make
