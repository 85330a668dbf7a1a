"""The security-group namespace: the project's Neutron security groups and their rules."""

from flask import url_for
from flask_restx import Namespace, Resource, fields, reqparse

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors, error_model
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
from devstack_client.services import security_group as sg
from devstack_client.services.rules import NAME_MAX
from devstack_client.services.security_group import SECURITY_GROUPS, SecurityGroupService

ns = Namespace("security-group", description="Neutron security groups (firewall rules for servers' ports)")

GROUP_ID = "85cc3048-abc3-43cc-89b3-377341426ac5"
rule = ns.model(
    "SecurityGroupRule",
    {
        "id": fields.String(example="2a1b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"),
        "direction": fields.String(description="ingress or egress", example="ingress"),
        "ethertype": fields.String(description="IPv4 or IPv6", example="IPv4"),
        "protocol": fields.String(description="tcp, udp, icmp, a number, or any", example="tcp"),
        "port_min": fields.Integer(nullable=True, description="First port (ICMP: the type); null: all", example=22),
        "port_max": fields.Integer(nullable=True, description="Last port (ICMP: the code); null: all", example=22),
        "remote_cidr": fields.String(
            nullable=True, description="Traffic from (ingress) or to (egress) here", example="0.0.0.0/0"
        ),
        "remote_group_id": fields.String(nullable=True, description="Traffic from members of this group", example=None),
        "description": fields.String(example=""),
    },
)
group = ns.model(
    "SecurityGroup",
    {
        "id": fields.String(example=GROUP_ID),
        "name": fields.String(example="web"),
        "description": fields.String(example="HTTP and SSH from anywhere"),
        "is_stateful": fields.Boolean(example=True),
        "project_id": fields.String(example="5d1e2e6b3b7c4c36a2ab0c7e5e8f7a10"),
        "rules": fields.List(fields.Nested(rule)),
        "created_at": fields.String(example="2026-11-30T11:02:03Z"),
        "updated_at": fields.String(example="2026-11-30T11:02:03Z"),
    },
)
_name = {"min_length": 1, "max_length": NAME_MAX, "example": "web"}
group_create = ns.model(
    "SecurityGroupCreate",
    {
        "name": fields.String(required=True, **_name),
        "description": fields.String(max_length=NAME_MAX, example="HTTP and SSH from anywhere"),
    },
    strict=True,
)
group_update = ns.model(
    "SecurityGroupUpdate",
    {"name": fields.String(**_name), "description": fields.String(max_length=NAME_MAX, example="SSH only")},
    strict=True,
)
_port = {"min": 0, "max": 65535}
rule_create = ns.model(
    "SecurityGroupRuleCreate",
    {
        "direction": fields.String(required=True, enum=list(sg.DIRECTIONS), example="ingress"),
        "protocol": fields.String(
            min_length=1, max_length=8, description="tcp, udp, icmp, any (default) or 0-255", example="tcp"
        ),
        "port": fields.Integer(description="One port (tcp/udp) or ICMP type", example=22, **_port),
        "port_min": fields.Integer(description="First port of a range (ICMP: the type)", **_port),
        "port_max": fields.Integer(description="Last port of a range (ICMP: the code)", **_port),
        "remote_cidr": fields.String(
            min_length=1, max_length=64, description="From/to this CIDR (default: anywhere)", example="0.0.0.0/0"
        ),
        "remote_group": fields.String(min_length=1, description="From/to members of this group (id or name)"),
        "ethertype": fields.String(enum=list(sg.ETHERTYPES), description="Default: remote_cidr's, else IPv4"),
        "description": fields.String(max_length=NAME_MAX, example="SSH"),
    },
    strict=True,
)

list_query = paged_parser()
list_query.add_argument("name", location="args", help="Exact name")
sort_argument(list_query, SECURITY_GROUPS.sort)
fields_argument(list_query, "id,name")
create_query = reqparse.RequestParser(bundle_errors=True)
idempotency_key_argument(create_query, "security group")

IN_USE = "In use by servers' ports (`in_use`, with `servers` and `ports`), or the name is ambiguous"
CREATED_HEADERS = {"Location": "URL of the group", "Idempotent-Replayed": "true when an earlier request's group"}


@ns.route("")
class SecurityGroupList(Resource):
    @lists(ns, "security_groups", group, list_query, "One page of the project's security groups, with their rules")
    def get(self, **query):
        """List the project's security groups, a page at a time."""
        query.pop("fields", None)
        return SecurityGroupService(get_connection()).list_security_groups(**query)

    @ns.expect(group_create, create_query)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(
        201,
        "Created, with the rules Neutron gives new groups (its default-rule templates)",
        group,
        headers=CREATED_HEADERS,
    )
    @ns.marshal_with(
        group, code=201, description="Created, with the rules Neutron gives new groups (its default-rule templates)"
    )
    def post(self):
        """Create a security group."""
        key = idempotency_key(parse_query(create_query)["Idempotency-Key"])
        body = parse_body(group_create)
        created, replayed = SecurityGroupService(get_connection()).create_security_group(
            name=body["name"], description=body.get("description"), idempotency_key=key
        )
        headers = {"Location": url_for("security-group_security_group", ref=created["id"])}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return created, 201, headers


@ns.route("/<string:ref>")
@ns.param("ref", "Security group id or exact name")
class SecurityGroup(Resource):
    @shows(ns, group, "The security group and its rules")
    def get(self, ref):
        """Show one security group and its rules, by id or name."""
        return SecurityGroupService(get_connection()).get_security_group(ref)

    @ns.expect(group_update)
    @documents_errors(ns, 404, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.marshal_with(group, description="The updated group")
    def patch(self, ref):
        """Rename a security group or change its description."""
        body = parse_body(group_update)
        return SecurityGroupService(get_connection()).update_security_group(ref, **body)

    @documents_errors(ns, 404, *READ_ERRORS)
    @ns.response(409, IN_USE, error_model)
    @ns.response(204, "Deleted")
    def delete(self, ref):
        """Delete a security group that no server uses."""
        SecurityGroupService(get_connection()).delete_security_group(ref)
        return "", 204


@ns.route("/<string:ref>/rule")
@ns.param("ref", "Security group id or exact name")
class SecurityGroupRuleList(Resource):
    @ns.expect(rule_create)
    @documents_errors(ns, 404, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(409, "The same rule exists (`conflict`, Neutron's words name it), or the name is ambiguous",
                 error_model)  # fmt: skip
    @ns.marshal_with(rule, code=201, description="The rule, added")
    def post(self, ref):
        """Add a rule to a security group."""
        body = parse_body(rule_create)
        return SecurityGroupService(get_connection()).create_rule(ref, **body), 201


@ns.route("/<string:ref>/rule/<string:rule_id>")
@ns.param("ref", "Security group id or exact name")
@ns.param("rule_id", "The rule's id")
class SecurityGroupRule(Resource):
    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.response(204, "Deleted")
    def delete(self, ref, rule_id):
        """Delete a rule of a security group."""
        SecurityGroupService(get_connection()).delete_rule(ref, rule_id)
        return "", 204
