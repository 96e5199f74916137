from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory


@pytest.fixture
def member(db):
    """member(role, **user fields): a user in the role's group (created if new)."""

    def make(role: str, **kwargs):
        user = UserFactory(**kwargs)
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make
