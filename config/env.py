"""Reading settings from the environment, strictly.

django-environ parses the values; this module makes every bad value stop the
start with a message that names the variable, instead of a bare ValueError or,
worse, a silent default (django-environ reads "DEBUG=ture" as False).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingError(ImproperlyConfigured):
    """A setting read from the environment is malformed or missing."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"Environment variable {name}: {problem}")
        self.variable = name


def _parse(name: str, default: Any, parse: Callable[[str], Any], expected: str) -> Any:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return parse(value)
    except (ValueError, TypeError, ImproperlyConfigured, environ.ImproperlyConfigured) as exc:
        raise SettingError(name, f"expected {expected}, got {value!r} ({exc})") from exc


def env_str(name: str, default: str = "", *, choices: tuple[str, ...] = ()) -> str:
    value = os.environ.get(name, default)
    if choices and value not in choices:
        raise SettingError(name, f"expected one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("not a boolean")


def env_bool(name: str, default: bool) -> bool:
    return _parse(name, default, _bool, "true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _parse(name, default, lambda v: int(v.strip()), "an integer")
    if minimum is not None and value < minimum:
        raise SettingError(name, f"must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _parse(name, default, lambda v: float(v.strip()), "a number")
    if minimum is not None and value < minimum:
        raise SettingError(name, f"must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    return _parse(name, default, lambda v: [p.strip() for p in v.split(",") if p.strip()], "a list")


_DB_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def _db_url(value: str) -> dict[str, Any]:
    scheme = value.split("://", 1)[0]
    if "://" not in value or scheme not in _DB_SCHEMES:
        raise ValueError(f"the scheme must be one of {', '.join(_DB_SCHEMES)}")
    return _env.db_url_config(value)


def env_database(name: str, default: str) -> dict[str, Any]:
    return _parse(name, _db_url(default), _db_url, "a database URL such as postgres://user@host/db")


def env_email_url(name: str) -> dict[str, Any] | None:
    return _parse(name, None, _env.email_url_config, "an email URL such as smtp://user:pw@host:587")


def env_prefixed(prefix: str) -> dict[str, str]:
    """Every variable starting with prefix, with the prefix removed (ANYMAIL_X -> X)."""
    return {k[len(prefix) :]: v for k, v in os.environ.items() if k.startswith(prefix)}


def ensure_longer(name: str, value: float, *, than: float, than_name: str, why: str) -> None:
    """Stop the start unless setting `name` exceeds another duration it must outlast."""
    if value <= than:
        raise SettingError(
            name, f"must be larger than {than_name} ({than:g}), {why}; got {value:g}"
        )
