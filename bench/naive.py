"""The "naive" gateway: what a first attempt looks like, for reference.

A new openstacksdk connection per request (a token and version discovery
every time), and the SDK's Resource objects turned into dicts. Served by
gunicorn with the same workers and threads as the real gateway:
``gunicorn bench.naive:app``. Credentials come from the gateway's variables
(AUTH_URL, USERNAME, PASSWORD, PROJECT_ID, USER_DOMAIN_NAME).
"""

from __future__ import annotations

import os
from typing import Any

import openstack
from flask import Flask, request

app = Flask(__name__)


def connect() -> openstack.connection.Connection:
    return openstack.connection.Connection(
        auth={
            "auth_url": os.environ["AUTH_URL"],
            "username": os.environ["USERNAME"],
            "password": os.environ["PASSWORD"],
            "project_id": os.environ["PROJECT_ID"],
            "user_domain_name": os.environ.get("USER_DOMAIN_NAME", "Default"),
        },
        auth_type="v3password",
        compute_api_version="2.79",
    )


def _server(server: Any) -> dict[str, Any]:
    return server.to_dict(computed=False)


@app.get("/api/v1/server")
def list_servers() -> dict[str, Any]:
    conn = connect()
    query: dict[str, Any] = {"limit": int(request.args.get("limit", 100)), "paginated": False}
    if request.args.get("marker"):
        query["marker"] = request.args["marker"]
    servers = [_server(s) for s in conn.compute.servers(**query)]
    # the image names, as the real gateway gives them: one Glance call for the page
    ids = sorted({s["image"]["id"] for s in servers if s.get("image") and s["image"].get("id")})
    names = {i.id: i.name for i in conn.image.images(id="in:" + ",".join(ids), limit=len(ids))} if ids else {}
    for s in servers:
        if s.get("image") and s["image"].get("id"):
            s["image"]["name"] = names.get(s["image"]["id"])
    return {"servers": servers, "next_marker": servers[-1]["id"] if len(servers) == query["limit"] else None}


@app.get("/api/v1/server/<server_id>")
def show_server(server_id: str) -> dict[str, Any]:
    return _server(connect().compute.get_server(server_id))


@app.get("/api/v1/flavor")
def list_flavors() -> dict[str, Any]:
    flavors = connect().compute.flavors(limit=int(request.args.get("limit", 100)), paginated=False)
    return {"flavors": [f.to_dict(computed=False) for f in flavors]}
