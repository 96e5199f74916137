"""Roles are Django auth groups; a role means its active members."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

PROCESSOR = "processor"
OPS_MANAGER = "opsmanager"
ROLES = (PROCESSOR, OPS_MANAGER)


def role_members(role: str) -> list[AbstractBaseUser]:
    """Active members of the group named `role`, by id (an unknown role has none)."""
    return list(
        get_user_model().objects.filter(groups__name=role, is_active=True).order_by("id").distinct()
    )


def orders_recipients(assignees: dict[str, int | None]) -> dict[str, list[AbstractBaseUser]]:
    """Who hears about each order (order id -> its assigned user id), in at most two queries:
    the assigned processor if active, else the ops managers."""
    user_ids = {user_id for user_id in assignees.values() if user_id is not None}
    users = (
        {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True)}
        if user_ids
        else {}
    )
    managers: list[AbstractBaseUser] | None = None
    result = {}
    for order_id, assigned_to_id in assignees.items():
        user = users.get(assigned_to_id)
        if user is not None:
            result[order_id] = [user]
            continue
        if managers is None:
            managers = role_members(OPS_MANAGER)
        result[order_id] = managers
    return result
