from flask_restx import Namespace, Resource, fields

from devstack_client.api.common import READ_ERRORS, documents_errors
from devstack_client.appctx import get_connection
from devstack_client.services import LimitsService

ns = Namespace("limits", description="The project's Nova quota, its usage, and room for more servers")


limit = ns.model(
    "Limit",
    {
        "max": fields.Integer(nullable=True, description="null: unlimited", example=51200),
        "used": fields.Integer(
            nullable=True, description="null: not counted project-wide (per server or group)", example=1024
        ),
        "remaining": fields.Integer(
            nullable=True, description="max - used, at least 0; null if either is null", example=50176
        ),
        "unit": fields.String(example="MiB"),
    },
)


def _limit(description: str) -> fields.Nested:
    return fields.Nested(limit, description=description)


def _cinder_limit(description: str) -> fields.Nested:
    return fields.Nested(limit, allow_null=True, description=description)


limits = ns.model(
    "Limits",
    {
        "instances": _limit("Servers (unit: servers)"),
        "cores": _limit("vCPUs of all servers (unit: vCPUs)"),
        "ram": _limit("RAM of all servers (unit: MiB)"),
        "keypairs": _limit("Keypairs of the gateway's user: Nova counts them per user, not per project"),
        "server_groups": _limit("Server groups (unit: server groups)"),
        "server_group_members": _limit("Servers in one server group; used is null"),
        "server_metadata_items": _limit("Metadata items on one server; used is null"),
        # Neutron's (reserved counted as used)
        "floating_ips": _limit("Floating IPs (Neutron)"),
        "security_groups": _limit("Security groups (Neutron)"),
        "security_group_rules": _limit("Security group rules, of all groups (Neutron)"),
        "ports": _limit("Ports (Neutron)"),
        "networks": _limit("Networks (Neutron)"),
        "volumes": _cinder_limit("Cinder: volumes (unit: volumes); null on a cloud without Cinder"),
        "gigabytes": _cinder_limit("Cinder: GiB of all volumes and snapshots; null on a cloud without Cinder"),
        "snapshots": _cinder_limit("Cinder: volume snapshots (unit: snapshots); null on a cloud without Cinder"),
    },
)
headroom = ns.model(
    "Headroom",
    {
        "flavor_id": fields.String(example="1"),
        "flavor_name": fields.String(example="m1.tiny"),
        "vcpus": fields.Integer(example=1),
        "ram": fields.Integer(description="MiB", example=512),
        "fits": fields.Integer(
            nullable=True,
            description="How many more servers of this flavor the quota allows now: "
            "min(instances left, cores left ÷ vcpus, RAM left ÷ ram); null when nothing limits it",
            example=8,
        ),
        "limited_by": fields.String(
            nullable=True,
            description="instances, cores or ram: the limit that binds first; null when unlimited",
            example="instances",
        ),
    },
)
limits_answer = ns.model(
    "LimitsAnswer",
    {
        "limits": fields.Nested(limits),
        "headroom": fields.List(
            fields.Nested(headroom), description="One entry per flavor; quota only, not hypervisor capacity"
        ),
    },
)


@ns.route("")
class Limits(Resource):
    @documents_errors(ns, *READ_ERRORS)
    @ns.marshal_with(limits_answer, description="Limits, usage and headroom per flavor")
    def get(self):
        """Show the project's limits, usage and room for more servers per flavor."""
        return LimitsService(get_connection()).get_limits()
