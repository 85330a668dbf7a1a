"""The flask-restx Api: Swagger UI at ``/``, namespaces under ``/api/v1``."""

from __future__ import annotations

from flask import Flask
from flask_restx import Api

from devstack_client import __version__
from devstack_client.api import auth, errors, flavors, images, networks, servers

DESCRIPTION = """\
Manage virtual machines in an OpenStack cloud through one small JSON API.

**Who may call, and as whom, is the gateway's configuration.** With API keys,
every `/api/v1` call needs `Authorization: Bearer <key>` ("Authorize" below);
a `reader` key may only read. With user tokens allowed, a caller may instead
send its own Keystone token in `X-Auth-Token` and act as that user, in that
user's project. Otherwise every caller acts as the gateway's one configured
OpenStack identity (its user and project).

Errors are JSON: `{"code": "...", "message": "..."}`, plus `upstream_status`
and `upstream_request_id` when OpenStack answered.
"""


class GatewayApi(Api):
    def handle_error(self, e: Exception):  # type: ignore[override]
        # One mapping for every error; restx's own would add str(e) (a leak)
        # and route lists to 404 bodies.
        return errors.handle(e)


def init_app(app: Flask) -> None:
    app.config.setdefault("RESTX_ERROR_404_HELP", False)
    app.config.setdefault("RESTX_MASK_SWAGGER", False)
    api = GatewayApi(
        app,
        version=__version__,
        title="devstack-client",
        description=DESCRIPTION,
        doc="/",
        authorizations=auth.AUTHORIZATIONS,
        security=auth.SECURITY,
    )
    auth.init_app(app)
    for module in (images, flavors, networks, servers):
        api.add_namespace(module.ns, path=f"/api/v1/{module.ns.name}")
    app.register_error_handler(Exception, errors.handle)
    # Built now so that a model error fails at start-up, not on the first
    # visit (restx logs the error and serves {"error": ...} instead).
    with app.test_request_context():
        if "error" in api.__schema__:
            raise RuntimeError("the Swagger spec cannot be built; see the log")
