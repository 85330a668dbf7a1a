"""Every setting, read from the environment in one place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The compute API microversion our models are written against: 2.47 embeds
# the flavor in a server, 2.75 makes flavor "swap" an integer. 2.79 (Train,
# 2019) is offered by every supported Nova release.
COMPUTE_MICROVERSION = "2.79"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("AUTH_URL", None, "Keystone URL of the service identity (`/v3` is added when absent)."),
    Setting("USERNAME", None, "User name of the service identity."),
    Setting("PASSWORD", None, "Password of the service identity (never logged)."),
    Setting("PROJECT_ID", None, "Project (tenant) id the identity works in."),
    Setting("USER_DOMAIN_NAME", "Default", "Keystone domain of the user."),
    Setting("REGION_NAME", None, "Region to use when the catalog has several."),
    Setting("INTERFACE", "public", "Catalog endpoint interface: public, internal or admin."),
    Setting("OS_CLOUD", None, "Cloud name in `clouds.yaml`; wins over every other credential setting."),
    Setting("APP_SECRET_KEY", None, "Flask secret key; a random one (and a warning) when unset."),
    Setting("HOST", "127.0.0.1", "Address to listen on."),
    Setting("PORT", "8080", "Port to listen on."),
    Setting("WORKERS", "2", "gunicorn worker processes."),
    Setting("THREADS", "8", "Threads per worker (and HTTP connections per worker)."),
    Setting("CONNECT_TIMEOUT", "5", "Seconds to wait for an OpenStack connection."),
    Setting("READ_TIMEOUT", "60", "Seconds to wait for an OpenStack answer."),
    Setting("IDEMPOTENCY_TTL", "86400", "Seconds an `Idempotency-Key` protects against a duplicate create."),
    Setting("LOG_LEVEL", "INFO", "Python log level."),
    Setting("LOG_FORMAT", "json", "`json` (one object per line, for log collectors) or `text` (for people)."),
    Setting(
        "CORS_ORIGINS",
        None,
        "Comma-separated origins browsers may call the API from (`*`: any); unset: no CORS headers.",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        None,
        "Where gunicorn's workers share their `/metrics` counts; a fresh temporary directory when unset.",
    ),
)

# The longest a create with ?wait=true holds its request (gunicorn's worker
# timeout is set above it).
MAX_WAIT_SECONDS = 300

_DEFAULTS = {s.name: s.default for s in SETTINGS}
_INTS = {"PORT", "WORKERS", "THREADS"}
_FLOATS = {"CONNECT_TIMEOUT", "READ_TIMEOUT", "IDEMPOTENCY_TTL"}


class ConfigError(ValueError):
    """A setting has a value we cannot use."""


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return every setting: defaults, then the environment, then overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = dict(_DEFAULTS)
    values.update({k: v for k, v in environ.items() if k in _DEFAULTS or k.startswith("OS_")})
    values.update(overrides or {})
    for name in _INTS | _FLOATS:
        kind = int if name in _INTS else float
        try:
            values[name] = kind(values[name])
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number, not {values[name]!r}") from None
        if values[name] <= 0:
            raise ConfigError(f"{name} must be positive, not {values[name]!r}")
    if values["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, not {values['LOG_FORMAT']!r}")
    values["CORS_ORIGINS"] = _origins(values["CORS_ORIGINS"])
    values["SECRET_KEY_GENERATED"] = not values.get("APP_SECRET_KEY")
    if values["SECRET_KEY_GENERATED"]:
        values["APP_SECRET_KEY"] = secrets.token_hex(32)
    return values


def _origins(value: str | list[str] | None) -> list[str]:
    if isinstance(value, list):
        return value
    return [origin.strip().rstrip("/") for origin in (value or "").split(",") if origin.strip()]
