"""The flask-restx Api: Swagger UI at ``/``, namespaces under ``/api/v1``."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
from flask import Flask, Response, jsonify
from flask_restx import Api

from devstack_client import __version__, openapi3
from devstack_client.api import auth, caching, common, errors, health, query, representation

# One module of this package per namespace, served under /api/v1/<its name>: adding one is adding its name here.
NAMESPACES = (
    "images",
    "flavors",
    "networks",
    "servers",
    "keypairs",
    "limits",
    "security_groups",
    "floating_ips",
    "volumes",
)

DESCRIPTION = """\
Manage virtual machines in an OpenStack cloud through one small JSON API.

**Who may call, and as whom, is the gateway's configuration.** With API keys,
every `/api/v1` call needs `Authorization: Bearer <key>` ("Authorize" below);
a `reader` key may only read. With user tokens allowed, a caller may instead
send its own Keystone token in `X-Auth-Token` and act as that user, in that
user's project. Otherwise every caller acts as the gateway's one configured
OpenStack identity (its user and project).

Errors are JSON: `{"code": "...", "message": "...", "request_id": "req-..."}`,
plus `upstream_status` and `upstream_request_id` when OpenStack answered.

Every answer carries an `X-Request-Id` header (yours, if you send one of the
form `req-<uuid>`); the gateway sends the same id to OpenStack as the global
request id, so it finds the call in Nova's, Glance's and Neutron's logs.

A live example dashboard built on this API's typed TypeScript client is at
[/dashboard/](dashboard/): servers with live status, create, start, stop,
reboot, delete, quota headroom.
"""


class GatewayApi(Api):
    @property
    def __schema__(self) -> dict:  # type: ignore[override]
        schema = super().__schema__
        if "error" not in schema and not getattr(self, "_nullable_marked", False):
            common.mark_answers(schema, self.models)  # once: restx caches the dict it built
            common.mark_conditional(schema)
            self._nullable_marked = True
        return schema

    def adopt(self, schema: dict) -> None:
        """Serve ``schema``, already built (and marked) for the same namespaces and settings, as restx's own."""
        self._schema = schema
        self._nullable_marked = True

    def handle_error(self, e: Exception):  # type: ignore[override]
        # One mapping for every error; restx's own would add str(e) (a leak)
        # and route lists to 404 bodies.
        return errors.handle(e)


def _no_content_is_empty(response: Response) -> Response:
    # restx serialises a view's "" as JSON; a 204 has no body and no type.
    if response.status_code == 204:
        response.set_data(b"")
        response.headers.pop("Content-Type", None)
    return response


# Each spec built in this process, by what it depends on (see _spec): its Swagger 2.0 and OpenAPI 3 documents
# (JSON, so that every app gets its own copy) and the query parameters each operation documents.
_SPECS: dict[bytes, tuple[bytes, dict[tuple[str, str], frozenset[str]], bytes]] = {}


def _spec(
    app: Flask, api: GatewayApi, authorizations: dict[str, Any] | None, security: list[dict[str, list]] | None
) -> tuple[dict[str, Any], dict[tuple[str, str], frozenset[str]], dict[str, Any]]:
    """The app's Swagger document, the query parameters each operation documents, and its OpenAPI 3 document.

    Built at the first app's start, so that a model error fails at start-up, not on the first visit (restx
    logs the error and serves {"error": ...} instead). The namespaces and their models are fixed at import:
    the documents differ only by the authentication the settings declare and by Flask's own URL settings.
    Building them (restx deep-copies every model for every operation) was most of an app's creation, and the
    tests create one per test.
    """
    key = orjson.dumps(
        [authorizations, security, *(app.config.get(name) for name in ("SERVER_NAME", "APPLICATION_ROOT"))],
        option=orjson.OPT_SORT_KEYS,
    )
    if key not in _SPECS:
        with app.test_request_context():
            swagger = api.__schema__
            if "error" in swagger:
                raise RuntimeError("the Swagger spec cannot be built; see the log")
            parameters = query.documented_parameters(swagger)
            _SPECS[key] = (orjson.dumps(swagger), parameters, orjson.dumps(openapi3.document(swagger)))
    swagger_json, parameters, openapi_json = _SPECS[key]
    return orjson.loads(swagger_json), dict(parameters), orjson.loads(openapi_json)


def init_app(app: Flask) -> None:
    app.config.setdefault("RESTX_ERROR_404_HELP", False)
    app.config.setdefault("RESTX_MASK_SWAGGER", False)
    authorizations, security = auth.security(app.extensions["settings"])
    api = GatewayApi(
        app,
        version=__version__,
        title="devstack-client",
        description=DESCRIPTION,
        doc="/",
        authorizations=authorizations,
        security=security,
    )
    api.representations["application/json"] = representation.output_json
    auth.init_app(app)
    for name in NAMESPACES:
        ns = importlib.import_module(f"{__name__}.{name}").ns
        api.add_namespace(ns, path=f"/api/v1/{ns.name}")
    api.add_namespace(health.ns)  # at the root (its own path), where orchestrators expect probes
    app.register_error_handler(Exception, errors.handle)
    app.after_request(_no_content_is_empty)
    caching.init_app(app)
    swagger, app.extensions["query_parameters"], app.extensions["openapi"] = _spec(app, api, authorizations, security)
    api.adopt(swagger)
    # The same API as /swagger.json, as OpenAPI 3 (what most client generators read), open like it.
    app.add_url_rule("/openapi.json", "openapi", lambda: jsonify(app.extensions["openapi"]))
    app.before_request(query.reject_unknown_parameters)
