"""The JSON schema of an escalation rule's conditions and actions, checked in plain Python.

Conditions: one JSON object; every key must hold (AND). The identity keys take
one value or a list of values (any of). An empty object matches every order.

    {"packageType": ["CRIMINAL", "DRUG"], "clientTier": "premium", "minElapsedPercent": 120}

Actions: a non-empty list, run in order:

    [{"type": "REASSIGN", "toRole": "opsmanager"},
     {"type": "NOTIFY", "toRole": "opsmanager", "message": "Call the client"},
     {"type": "NOTIFY", "toUser": "alice"},
     {"type": "ESCALATE"},                       one level up
     {"type": "ESCALATE", "level": 2}]           at least level 2 (never lowered)

`conditions_problems` / `actions_problems` return messages naming each problem
(empty when valid). The admin form shows them as field errors; the job skips a
rule that has any (a rule edited in the database behind the admin's back).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

# Keys whose value is one value or a list of values (any of), and its type.
IDENTITY_KEYS: dict[str, type] = {
    "packageType": str,
    "packageId": str,
    "clientId": str,
    "clientTier": str,
    "vendorId": int,
}
# Keys whose value is one threshold number.
THRESHOLD_KEYS: dict[str, tuple[type, ...]] = {
    "minElapsedPercent": (int, float),
    "minEscalationLevel": (int,),
    "maxEscalationLevel": (int,),
    "minutesUnresolved": (int,),
}
CONDITION_KEYS = (*IDENTITY_KEYS, *THRESHOLD_KEYS)

REASSIGN = "REASSIGN"
NOTIFY = "NOTIFY"
ESCALATE = "ESCALATE"
ACTION_KEYS: dict[str, tuple[str, ...]] = {
    REASSIGN: ("type", "toRole"),
    NOTIFY: ("type", "toRole", "toUser", "message"),
    ESCALATE: ("type", "level"),
}

CONDITIONS_HELP = (
    "A JSON object; every key must hold. Keys: "
    + ", ".join(f"<code>{key}</code>" for key in CONDITION_KEYS)
    + ". packageType, packageId, clientId, clientTier and vendorId take a value or a list "
    "(any of); the others one number. minElapsedPercent uses the SLA breach, minutesUnresolved "
    "counts minutes in status exception. <code>{}</code> matches every order. Example: "
    '<code>{"packageType": ["CRIMINAL", "DRUG"], "clientTier": "premium", '
    '"minElapsedPercent": 120}</code>'
)
ACTIONS_HELP = (
    "A JSON list, run in order. "
    '<code>{"type": "REASSIGN", "toRole": "processor"}</code> (the least-loaded active member), '
    '<code>{"type": "NOTIFY", "toRole": "opsmanager", "message": "optional text"}</code> or '
    '<code>{"type": "NOTIFY", "toUser": "alice"}</code>, '
    '<code>{"type": "ESCALATE"}</code> (one level up) or '
    '<code>{"type": "ESCALATE", "level": 2}</code> (at least that level; never lowered). '
    "Roles are the user groups. Example: "
    '<code>[{"type": "ESCALATE", "level": 2}, {"type": "NOTIFY", "toRole": "opsmanager"}]</code>'
)


def _type_name(value: Any) -> str:
    names = {
        str: "text",
        int: "an integer",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _is_a(value: Any, types: tuple[type, ...]) -> bool:
    # JSON true/false are Python bools, which are ints: never accept them as numbers.
    return isinstance(value, types) and not isinstance(value, bool)


def conditions_problems(conditions: Any) -> list[str]:
    if not isinstance(conditions, dict):
        return [f"conditions must be a JSON object, got {_type_name(conditions)}"]
    problems = []
    for key, value in conditions.items():
        if key in IDENTITY_KEYS:
            problems += _identity_problems(key, value, IDENTITY_KEYS[key])
        elif key in THRESHOLD_KEYS:
            if not _is_a(value, THRESHOLD_KEYS[key]):
                kind = "a number" if float in THRESHOLD_KEYS[key] else "an integer"
                problems.append(f"{key} must be {kind}, got {value!r}")
            elif value < 0:
                problems.append(f"{key} must not be negative, got {value!r}")
        else:
            problems.append(f"unknown key {key!r} (allowed: {', '.join(CONDITION_KEYS)})")
    low, high = conditions.get("minEscalationLevel"), conditions.get("maxEscalationLevel")
    if _is_a(low, (int,)) and _is_a(high, (int,)) and low > high:
        problems.append(f"minEscalationLevel ({low}) is above maxEscalationLevel ({high})")
    return problems


def _identity_problems(key: str, value: Any, kind: type) -> list[str]:
    kind_name = "text" if kind is str else "an integer"
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        return [f"{key} must not be an empty list"]
    return [
        f"{key} must be {kind_name} or a list of them, got {item!r}"
        for item in values
        if not _is_a(item, (kind,)) or (kind is str and not item)
    ]


def actions_problems(actions: Any, *, check_references: bool = True) -> list[str]:
    """Problems of the actions list; with check_references, roles and users must exist."""
    if not isinstance(actions, list):
        return [f"actions must be a JSON list, got {_type_name(actions)}"]
    if not actions:
        return ["actions must list at least one action"]
    problems = []
    for index, action in enumerate(actions, start=1):
        problems += [f"action {index}: {p}" for p in _action_problems(action, check_references)]
    return problems


def _action_problems(action: Any, check_references: bool) -> list[str]:
    if not isinstance(action, dict):
        return [f"must be a JSON object, got {_type_name(action)}"]
    kind = action.get("type")
    if kind not in ACTION_KEYS:
        return [f"type must be one of {', '.join(ACTION_KEYS)}, got {kind!r}"]
    problems = [
        f"unknown key {key!r} for {kind} (allowed: {', '.join(ACTION_KEYS[kind])})"
        for key in action
        if key not in ACTION_KEYS[kind]
    ]
    if kind == REASSIGN:
        problems += _text_problems(action, "toRole", required=True)
    elif kind == NOTIFY:
        if ("toRole" in action) == ("toUser" in action):
            problems.append("NOTIFY needs exactly one of toRole or toUser")
        problems += _text_problems(action, "toRole", required=False)
        problems += _text_problems(action, "toUser", required=False)
        if "message" in action and not isinstance(action["message"], str):
            problems.append(f"message must be text, got {action['message']!r}")
    elif "level" in action and (not _is_a(action["level"], (int,)) or action["level"] < 1):
        problems.append(f"level must be an integer of at least 1, got {action['level']!r}")
    if check_references and not problems:
        problems += _reference_problems(action)
    return problems


def _text_problems(action: dict, key: str, *, required: bool) -> list[str]:
    if key not in action:
        return [f"{action['type']} needs {key}"] if required else []
    value = action[key]
    if not isinstance(value, str) or not value.strip():
        return [f"{key} must be a non-empty text, got {value!r}"]
    return []


def _reference_problems(action: dict) -> list[str]:
    problems = []
    role = action.get("toRole")
    if role is not None and not Group.objects.filter(name=role).exists():
        known = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
        problems.append(f"unknown role {role!r} (roles are the user groups: {known or 'none'})")
    username = action.get("toUser")
    if username is not None:
        user_model = get_user_model()
        lookup = {user_model.USERNAME_FIELD: username, "is_active": True}
        if not user_model.objects.filter(**lookup).exists():
            problems.append(f"unknown or inactive user {username!r}")
    return problems


def rule_problems(conditions: Any, actions: Any) -> list[str]:
    """Structural problems only (no database look-ups): what the job checks before running."""
    return conditions_problems(conditions) + actions_problems(actions, check_references=False)
