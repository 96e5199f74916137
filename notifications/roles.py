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


def order_recipients(assigned_to_id: int | None) -> list[AbstractBaseUser]:
    """Who hears about an order: its assigned processor, else the ops managers."""
    if assigned_to_id is not None:
        user = get_user_model().objects.filter(id=assigned_to_id, is_active=True).first()
        if user is not None:
            return [user]
    return role_members(OPS_MANAGER)
