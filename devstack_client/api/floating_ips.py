"""The floating-ip namespace: the project's public addresses (Neutron floating IPs)."""

from flask import request, url_for
from flask_restx import Namespace, Resource, fields, reqparse

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors
from devstack_client.api.listing import lists, shows
from devstack_client.api.query import (
    fields_argument,
    idempotency_key,
    idempotency_key_argument,
    paged_parser,
    parse_query,
    sort_argument,
)
from devstack_client.api.validation import parse_body
from devstack_client.appctx import get_connection
from devstack_client.errors import InvalidRequest, NotFound
from devstack_client.services.floating_ip import FLOATING_IPS, FloatingIpService
from devstack_client.services.rules import NAME_MAX
from devstack_client.services.server_network import ServerNetworkService

ns = Namespace("floating-ip", description="Neutron floating IPs: public addresses for servers")

floating_ip = ns.model(
    "FloatingIp",
    {
        "id": fields.String(example="61cea855-49cb-4846-997d-801b70c71bdd"),
        "address": fields.String(example="172.24.4.228"),
        "status": fields.String(
            description="ACTIVE once an L3 agent set up its NAT; DOWN while unattached, or on a cloud without one",
            example="DOWN",
        ),
        "network_id": fields.String(description="The external network", example="376da547-b977-4cfe-9cba-275c80debf57"),
        "fixed_address": fields.String(
            nullable=True, description="The server's own address it leads to", example="10.0.0.12"
        ),
        "port_id": fields.String(nullable=True, example="ce705c24-c1ef-408a-bda3-7bbd946164ab"),
        "server_id": fields.String(
            nullable=True, description="The server it is attached to; null if none", example=None
        ),
        "router_id": fields.String(nullable=True, example="d23abc8d-2991-4a55-ba98-2aaea84cc72f"),
        "description": fields.String(example=""),
        "project_id": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "created_at": fields.String(example="2026-11-30T11:02:03Z"),
    },
)
floating_ip_create = ns.model(
    "FloatingIpCreate",
    {
        "network": fields.String(
            min_length=1,
            description="External network (id or name) to allocate from; default: the only or default one",
            example="public",
        ),
        "description": fields.String(max_length=NAME_MAX, example="web front"),
    },
    strict=True,
)

STATUSES = ("ACTIVE", "DOWN", "ERROR")
list_query = paged_parser()
list_query.add_argument("status", type=str.upper, choices=STATUSES, location="args", help="Only in this status")
list_query.add_argument("server", location="args", help="Only those attached to this server (id or name)")
sort_argument(list_query, FLOATING_IPS.sort)
fields_argument(list_query, "id,address,server_id")
create_query = reqparse.RequestParser(bundle_errors=True)
idempotency_key_argument(create_query, "floating IP")
CREATED = "Allocated (status DOWN until attached)"
CREATED_HEADERS = {"Location": "URL of the floating IP", "Idempotent-Replayed": "true when an earlier request's"}


@ns.route("")
class FloatingIpList(Resource):
    @lists(ns, "floating_ips", floating_ip, list_query, "One page of the project's floating IPs", errors=(400, 409))
    def get(self, server=None, **query):
        """List the project's floating IPs, a page at a time."""
        query.pop("fields", None)
        conn = get_connection()
        try:
            port_ids = ServerNetworkService(conn).port_ids(server) if server else None
        except NotFound as exc:  # a filter naming nothing is a bad filter, as for the server list's image
            raise InvalidRequest(f"server: {exc.message}", [{"field": "server", "message": exc.message}]) from exc
        return FloatingIpService(conn).list_floating_ips(port_ids=port_ids, **query)

    @ns.expect(floating_ip_create, create_query)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(201, CREATED, floating_ip, headers=CREATED_HEADERS)
    @ns.marshal_with(floating_ip, code=201, description=CREATED)
    def post(self):
        """Allocate a floating IP from an external network."""
        key = idempotency_key(parse_query(create_query)["Idempotency-Key"])
        body = parse_body(floating_ip_create) if _has_body() else {}
        created, replayed = FloatingIpService(get_connection()).create_floating_ip(
            network=body.get("network"), description=body.get("description"), idempotency_key=key
        )
        headers = {"Location": url_for("floating-ip_floating_ip", ref=created["id"])}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return created, 201, headers


def _has_body() -> bool:
    # Every field is optional: an empty POST allocates from the default network.
    return bool(request.get_data(cache=True).strip())


@ns.route("/<string:ref>")
@ns.param("ref", "Floating IP id or address")
class FloatingIp(Resource):
    @shows(ns, floating_ip, "The floating IP", errors=(404,))
    def get(self, ref):
        """Show one floating IP, by id or address."""
        return FloatingIpService(get_connection()).get_floating_ip(ref)

    @documents_errors(ns, 404, *READ_ERRORS)
    @ns.response(204, "Released (detached first if it was attached)")
    def delete(self, ref):
        """Release a floating IP, by id or address."""
        FloatingIpService(get_connection()).delete_floating_ip(ref)
        return "", 204
