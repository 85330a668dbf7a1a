# Load an OpenStack WSGI app under gunicorn.
# oslo.config parses sys.argv when the app initialises, and gunicorn's own flags
# (--bind, --workers, ...) make it exit with "unrecognized arguments". Hide them. An app without a config-file
# environment variable (cinder) gets its own flags from DEVSTACK_CLOUD_WSGI_ARGS instead.
# For keystone, also note who asks for a token: the user name in a password authentication request goes into the
# WSGI environment as "devstack_cloud.auth_user", which the access log prints (tests/cloud/lib.sh), so that the
# tests can tell their gateway's token requests from other clients' with the same User-Agent.
import importlib
import io
import json
import os
import shlex
import sys

sys.argv = [sys.argv[0], *shlex.split(os.environ.get("DEVSTACK_CLOUD_WSGI_ARGS", ""))]
_target = os.environ["DEVSTACK_CLOUD_WSGI_TARGET"]  # e.g. "keystone.wsgi.api:application"
_mod, _attr = _target.split(":")
_app = getattr(importlib.import_module(_mod), _attr)


def _note_auth_user(environ, start_response):
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO", "").rstrip("/").endswith("/auth/tokens"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if 0 < length <= 65536:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            try:
                user = json.loads(body)["auth"]["identity"]["password"]["user"]
                environ["devstack_cloud.auth_user"] = str(user.get("name") or user.get("id"))
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
    return _app(environ, start_response)


application = _note_auth_user if _mod.startswith("keystone.") else _app
