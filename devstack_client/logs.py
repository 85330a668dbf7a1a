"""Log formatting: one JSON object (or one line for people) per record, with the request's id.

gunicorn's master configures logging with this before any worker starts, so
it imports nothing that uses ssl (no Flask, requests or openstacksdk): a
gevent worker monkey-patches only after the fork (see main.py).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from devstack_client import tracing
from devstack_client.config import Settings


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a line logged while a request runs carries its request id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        trace = tracing.current()
        if trace is not None:
            entry.setdefault("request_id", trace.request_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """For people: time, level, logger, message, and the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace = tracing.current()
        return f"{line} [{trace.request_id}]" if trace is not None else line


class WithoutPoolFull(logging.Filter):
    """Drop urllib3's "Connection pool is full, discarding connection" lines.

    Under gevent more calls than UPSTREAM_POOL_SIZE may be in flight at once
    (a frozen Nova holds hundreds): the extra connections are closed after
    use by design (connection.py), and urllib3 would log one warning each.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Connection pool is full")


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for the process, gunicorn's own loggers included (its access log is off)."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gateway": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "filters": {"without_pool_full": {"()": f"{WithoutPoolFull.__module__}.{WithoutPoolFull.__qualname__}"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "gateway", "stream": "ext://sys.stderr"}
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            # Emptied of gunicorn's own handlers, so that they reach ours.
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
            "urllib3.connectionpool": {"filters": ["without_pool_full"]},
        },
    }
