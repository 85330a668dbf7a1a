"""devstack-client: a REST gateway to an OpenStack cloud."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported by create_app only: gunicorn's master must not import it (main.py)
    from flask import Flask

__version__ = "0.1.0"

# Request bodies are small JSON objects; anything larger is refused with 413.
MAX_BODY_BYTES = 64 * 1024
# A URL (path and query) over this is refused with 414; gunicorn refuses
# request lines over 8190 bytes itself (an HTML page, not ours).
MAX_URI_BYTES = 4096


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the app: defaults, then the environment, then ``config`` (our settings and Flask's own keys)."""
    from flask import Flask

    from devstack_client import api, appctx, cors, dashboard, observe
    from devstack_client.config import is_setting, load

    app = Flask(__name__)
    # Our settings go to one typed object; anything else is Flask's own configuration (TESTING, …).
    settings = load({name: value for name, value in (config or {}).items() if is_setting(name)})
    app.config.update({name: value for name, value in (config or {}).items() if not is_setting(name)})
    # Our settings live in one typed object (appctx.settings() in a request);
    # app.config keeps only what Flask and flask-restx read themselves.
    app.extensions["settings"] = settings
    app.config["SECRET_KEY"] = settings.app_secret_key
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    if settings.secret_key_generated:
        app.logger.warning("APP_SECRET_KEY is not set: using a random key for this process")
    # Before any route exists: afterwards it no longer applies to them.
    app.url_map.strict_slashes = False
    observe.init_app(app)
    cors.init_app(app)
    appctx.init_app(app)
    api.init_app(app)
    dashboard.init_app(app)
    logging.getLogger("devstack_client").setLevel(settings.log_level)
    # At DEBUG these log whole response bodies: tokens, generated private keys.
    for name in ("keystoneauth", "openstack"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).getEffectiveLevel()))
    return app
