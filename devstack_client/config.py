"""Every setting, read from the environment in one place."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, get_type_hints

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
    Setting(
        "WORKER_CLASS",
        "gevent",
        "`gevent` (each request a greenlet: thousands of long requests per worker) or `gthread` "
        "(each active request holds one of `THREADS` threads).",
    ),
    Setting(
        "WORKER_CONNECTIONS",
        "1000",
        "With `gevent`: client connections (open requests and idle keep-alives) each worker serves at once.",
    ),
    Setting("THREADS", "8", "With `gthread`: threads per worker, so requests each worker serves at once."),
    Setting(
        "UPSTREAM_POOL_SIZE",
        "32",
        "Idle HTTP connections to each OpenStack service a worker keeps for reuse (at least `THREADS` with "
        "`gthread`); more calls at once open extra connections, closed after use.",
    ),
    Setting(
        "KEEPALIVE",
        "75",
        "Seconds an idle client connection is kept open. Keep it longer than the idle timeout of whatever "
        "sits in front (a load balancer's: AWS ALB 60 s, nginx's upstream keepalive 60 s), so that the "
        "gateway never closes a connection at the instant the client reuses it.",
    ),
    Setting("CONNECT_TIMEOUT", "5", "Seconds to wait for an OpenStack connection."),
    Setting("READ_TIMEOUT", "60", "Seconds to wait for an OpenStack answer."),
    Setting(
        "READY_TIMEOUT",
        "2",
        "Seconds each `/readyz` check waits for OpenStack (connect and read) before it answers not ready.",
    ),
    Setting("IDEMPOTENCY_TTL", "86400", "Seconds an `Idempotency-Key` protects against a duplicate create."),
    Setting(
        "IDEMPOTENCY_SETTLE_SECONDS",
        "2",
        "Seconds a create with an `Idempotency-Key` waits after its POST for same-instant twins to show.",
    ),
    Setting(
        "IDEMPOTENCY_WATCH_SECONDS",
        "120",
        "Seconds after a keyed create during which its gateway looks again (5 times) for a late duplicate, made "
        "by a POST whose gateway died before it answered, and deletes it; 0: off.",
    ),
    Setting(
        "EVENTS_POLL_SECONDS",
        "2",
        "Seconds between two reads of Nova's changes for the server event stream while a server is in transition.",
    ),
    Setting(
        "EVENTS_IDLE_POLL_SECONDS",
        "4",
        "Seconds between two such reads while every server is at rest (a change then shows within this, plus a read).",
    ),
    Setting(
        "EVENTS_RESYNC_SECONDS",
        "60",
        "Seconds between two full server lists of an event stream's feed: Nova does not mark a server changed when "
        "only its tags change, so such a change shows within this.",
    ),
    Setting(
        "CATALOG_CACHE_SECONDS",
        "30",
        "Seconds a page of flavors and the image names of a server list are reused, per user and project, "
        "before Nova and Glance are asked again (a new or renamed flavor or image shows within this); 0: ask "
        "every time.",
    ),
    Setting(
        "REDIS_URL",
        None,
        "Redis (`redis://host:6379/0`) shared by every worker and gateway instance: one of them reads Nova's "
        "changes per identity for all the event streams, and all share the catalog cache; unset: each worker "
        "reads them and keeps its cache itself.",
    ),
    Setting("EVENTS_HEARTBEAT_SECONDS", "15", "Seconds between two heartbeat comments on a quiet event stream."),
    Setting(
        "EVENTS_CURSOR_MAX_AGE",
        "3600",
        "Seconds an event id can be resumed from; older ones answer 410 `cursor_expired`. Keep it below the age at "
        "which the cloud archives deleted servers (`nova-manage db archive_deleted_rows --before`).",
    ),
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
    Setting(
        "API_KEYS_FILE",
        None,
        "File of hashed gateway API keys, one `sha256:<hex> <role> [label]` a line, role `reader` or `operator` "
        "(`devstack-client hash-key` makes them); with keys, every call needs `Authorization: Bearer <key>`.",
    ),
    Setting("API_KEYS", None, "More such key lines, separated by commas or newlines."),
    Setting(
        "ALLOW_USER_TOKENS",
        "false",
        "`true`: a caller may send its own Keystone token in `X-Auth-Token` and act as that user, in its project.",
    ),
    Setting(
        "REQUIRE_USER_TOKENS",
        "false",
        "`true`: every call must carry a Keystone token; none acts as the gateway's own identity "
        "(implies `ALLOW_USER_TOKENS`).",
    ),
    Setting(
        "TOKEN_CACHE_TTL",
        "300",
        "Seconds a validated user token is trusted before Keystone is asked again (never past its expiry).",
    ),
    Setting("TOKEN_CACHE_SIZE", "1000", "User tokens (with their connections) each worker keeps validated."),
    Setting(
        "ALLOW_INSECURE_BIND",
        "false",
        "`true`: listen on a non-loopback `HOST` with neither API keys nor user tokens "
        "(only behind a proxy that authenticates).",
    ),
)

WORKER_CLASSES = ("gevent", "gthread")

# The longest a create with ?wait=true holds its request (gunicorn's worker
# timeout is set above it).
MAX_WAIT_SECONDS = 300


@dataclass(frozen=True)
class Settings:
    """Every setting, converted and checked once by ``load()``: one attribute per SETTINGS entry, lower-cased."""

    auth_url: str | None
    username: str | None
    # Secrets stay out of repr(): a settings object in a log line or a traceback must not leak them.
    password: str | None = field(repr=False)
    project_id: str | None
    user_domain_name: str | None
    region_name: str | None
    interface: str | None
    os_cloud: str | None
    app_secret_key: str = field(repr=False)
    host: str
    port: int
    workers: int
    worker_class: str
    worker_connections: int
    threads: int
    upstream_pool_size: int
    keepalive: int
    connect_timeout: float
    read_timeout: float
    ready_timeout: float
    idempotency_ttl: float
    idempotency_settle_seconds: float
    idempotency_watch_seconds: float
    events_poll_seconds: float
    events_idle_poll_seconds: float
    events_resync_seconds: float
    catalog_cache_seconds: float
    redis_url: str | None = field(repr=False)  # it may hold a password
    events_heartbeat_seconds: float
    events_cursor_max_age: int
    log_level: str
    log_format: str
    cors_origins: tuple[str, ...]
    prometheus_multiproc_dir: str | None
    api_keys_file: str | None
    api_keys: str | None
    allow_user_tokens: bool
    require_user_tokens: bool
    token_cache_ttl: float
    token_cache_size: int
    allow_insecure_bind: bool
    # Whether app_secret_key was made up for this process (APP_SECRET_KEY unset).
    secret_key_generated: bool
    # Every OS_* variable (an openrc file's, OS_CLIENT_CONFIG_FILE …), read-only; OS_PASSWORD among them.
    os_variables: Mapping[str, str] = field(repr=False)


_DEFAULTS = {s.name: s.default for s in SETTINGS}
_MAY_BE_ZERO = {"IDEMPOTENCY_SETTLE_SECONDS", "IDEMPOTENCY_WATCH_SECONDS", "CATALOG_CACHE_SECONDS"}
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


def is_setting(name: str) -> bool:
    """Whether ``name`` is one of our settings (or an ``OS_*`` variable the credentials may come from)."""
    return name in _DEFAULTS or name.startswith("OS_")


class ConfigError(ValueError):
    """A setting has a value we cannot use."""


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Return every setting: defaults, then the environment, then overrides (all keyed by variable name)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = dict(_DEFAULTS)
    values.update({k: v for k, v in environ.items() if k in _DEFAULTS or k.startswith("OS_")})
    for name in overrides or {}:
        if not is_setting(name):
            # It used to land in a dict nobody read: a typo must not pass for a setting.
            raise ConfigError(f"{name} is not a setting")
    values.update(overrides or {})
    # The attribute types say how to convert each variable (one source of truth).
    kinds = get_type_hints(Settings)
    for setting in SETTINGS:
        name, kind = setting.name, kinds[setting.name.lower()]
        if kind in (int, float):
            values[name] = _number(name, kind, values[name])
        elif kind is bool:
            values[name] = _boolean(name, values[name])
    if values["WORKER_CLASS"] not in WORKER_CLASSES:
        raise ConfigError(f"WORKER_CLASS must be gevent or gthread, not {values['WORKER_CLASS']!r}")
    if values["LOG_FORMAT"] not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, not {values['LOG_FORMAT']!r}")
    values["CORS_ORIGINS"] = _origins(values["CORS_ORIGINS"])
    # Requiring user tokens without accepting them would refuse every call.
    values["ALLOW_USER_TOKENS"] = values["ALLOW_USER_TOKENS"] or values["REQUIRE_USER_TOKENS"]
    generated = not values["APP_SECRET_KEY"]
    if generated:
        values["APP_SECRET_KEY"] = secrets.token_hex(32)
    return Settings(
        **{s.name.lower(): values[s.name] for s in SETTINGS},
        secret_key_generated=generated,
        os_variables=MappingProxyType({k: v for k, v in values.items() if k.startswith("OS_")}),
    )


def _number(name: str, kind: type[int] | type[float], value: Any) -> int | float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number < 0 or (number == 0 and name not in _MAY_BE_ZERO):
        raise ConfigError(f"{name} must be positive, not {number!r}")
    return number


def _origins(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return tuple(origin.strip().rstrip("/") for origin in (value or "").split(",") if origin.strip())


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def authentication_enabled(settings: Settings) -> bool:
    """Whether callers must identify themselves (with an API key or their own Keystone token)."""
    return bool(settings.api_keys_file or settings.api_keys or settings.allow_user_tokens)


def bind_problem(settings: Settings) -> str | None:
    """Why the gateway must not listen where HOST says, or None."""
    host = settings.host.strip("[]")
    if host == "localhost" or _is_loopback(host) or authentication_enabled(settings) or settings.allow_insecure_bind:
        return None
    return (
        f"refusing to listen on {host}: every caller would act as the gateway's OpenStack identity. "
        "Configure API keys (API_KEYS_FILE or API_KEYS, see `devstack-client hash-key`) or user tokens "
        "(ALLOW_USER_TOKENS=true), or set ALLOW_INSECURE_BIND=true if a proxy in front authenticates callers."
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay local
        return False
