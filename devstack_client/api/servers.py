"""The server namespace: list, create, show, edit, delete, act on and read the consoles of servers."""

from flask import request, url_for
from flask_restx import Namespace, Resource, inputs, marshal, reqparse

from devstack_client.api import events
from devstack_client.api.caching import check_if_match
from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors, error_model
from devstack_client.api.listing import lists, shows
from devstack_client.api.query import (
    fields_argument,
    idempotency_key_argument,
    moment,
    paged_parser,
    parse_query,
    sort_argument,
    still_accepts,
    wait_arguments,
    whole_number,
)
from devstack_client.api.query import idempotency_key as _idempotency_key
from devstack_client.api.server_models import (
    action_accepted,
    console,
    console_log,
    dry_run_model,
    invalid_state_error,
    server,
    server_action,
    server_create,
    server_interfaces,
    server_update,
)
from devstack_client.api.server_models import register as register_models
from devstack_client.api.validation import parse_body
from devstack_client.appctx import catalog, get_connection, keywatch, settings
from devstack_client.metrics import CREATES_IN_FLIGHT
from devstack_client.services import ComputeService, boot_volume, server_network, volume_actions
from devstack_client.services.compute import SERVERS
from devstack_client.services.launch import LaunchService
from devstack_client.services.rules import CONSOLE_LOG_MAX_LINES
from devstack_client.services.server_actions import ServerActionService, text_errors
from devstack_client.services.server_network import ServerNetworkService
from devstack_client.services.volume_actions import VolumeActionService

ns = Namespace("server", description="Nova servers (virtual machines)")
register_models(ns)

STATUSES = (
    "ACTIVE", "BUILD", "DELETED", "ERROR", "HARD_REBOOT", "MIGRATING", "PASSWORD", "PAUSED", "REBOOT", "REBUILD",
    "RESCUE", "RESIZE", "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED", "SHUTOFF", "SOFT_DELETED", "SUSPENDED",
    "UNKNOWN", "VERIFY_RESIZE",
)  # fmt: skip
list_query = paged_parser()
list_query.add_argument("status", type=str.upper, choices=STATUSES, location="args", help="Only servers in this status")
list_query.add_argument("name", location="args", help="Exact name")
list_query.add_argument("name_like", location="args", help="Name contains this text")
list_query.add_argument("image", location="args", help="Booted from this image (id or name)")
list_query.add_argument("flavor", location="args", help="Of this flavor (id or name)")
list_query.add_argument(
    "changes_since",
    type=moment("changes_since"),
    location="args",
    help="Only servers changed at or after this time (ISO 8601), deleted ones included (`status: DELETED`)",
)
sort_argument(list_query, SERVERS.sort)
fields_argument(list_query, "id,name,status")

events_query = events.query_parser(STATUSES)

create_query = reqparse.RequestParser(bundle_errors=True)
wait_arguments(create_query, "ACTIVE")
idempotency_key_argument(create_query, "server")
# ?dry_run=true, from before POST /api/v1/server/dry-run: still accepted, no longer documented (its 200 beside the
# create's 201 gave generated clients one type for both answers, the dry run's).
legacy_create_query = create_query.copy()
legacy_create_query.add_argument("dry_run", type=inputs.boolean, default=False, location="args")
still_accepts("/api/v1/server", "POST", "dry_run")

DEFAULT_LINES = 50
console_log_query = reqparse.RequestParser(bundle_errors=True)
console_log_query.add_argument(
    "lines", type=whole_number("lines", 1, CONSOLE_LOG_MAX_LINES), default=DEFAULT_LINES, location="args"
)

INVALID_STATE = "Not possible in the server's current state (`invalid_state`, with `status`, `task_state`, `locked`)"
CONSOLE_UNAVAILABLE = "This cloud or this server offers no such console (`console_unavailable`)"


@ns.route("")
class ServerList(Resource):
    # 409: the image or flavor filter names several. Not marshalled: shape_server already returns exactly the
    # Server model's fields (tests/api/test_server_shape.py), and marshalling every field of every server again
    # took 60% of a 100-server list's CPU (bench/).
    @lists(
        ns,
        "servers",
        server,
        list_query,
        "One page of the project's servers, with image and flavor names",
        errors=(409,),
        shaped=True,
    )
    def get(self, fields=None, **query):
        """List the servers, a page at a time."""
        image_names = fields is None or "image" in fields
        return ComputeService(get_connection(), catalog()).list_servers(**query, image_names=image_names)

    @ns.expect(server_create, create_query)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(
        201,
        "Created: BUILD until Nova makes it ACTIVE (ACTIVE with ?wait=true)",
        server,
        headers={"Location": "URL of the server", "Idempotent-Replayed": "true when an earlier request's server"},
    )
    @ns.response(202, "With ?wait=true: still BUILD when the timeout passed; poll Location", server)
    @ns.response(502, "With ?wait=true: the server went to ERROR (`build_failed`, with its fault)", error_model)
    def post(self):
        """Create a server, by image, flavor and network names or ids."""
        query = parse_query(legacy_create_query)
        body = parse_body(server_create, check=_check_create)
        launch = _launch()
        if query["dry_run"]:
            return {"dry_run": True, "server": launch.dry_run(body)}, 200
        with CREATES_IN_FLIGHT.track_inprogress():
            key = _idempotency_key(query["Idempotency-Key"])
            created, replayed = launch.create_server(body, idempotency_key=key)
            events.poke()
            status = 201
            if query["wait"] and created["status"] != "ACTIVE":
                created = launch.wait_for_server(created["id"], timeout=query["timeout"])
                status = 201 if created["status"] == "ACTIVE" else 202
            if key and not replayed:
                created = launch.settled(created)
        headers = {"Location": url_for("server_server", ref=created["id"])}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return marshal(created, server), status, headers


@ns.route("/dry-run")
class ServerDryRun(Resource):
    @ns.expect(server_create)
    @documents_errors(ns, 409, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(200, "Every check passed; nothing was created", dry_run_model)
    def post(self):
        """Check a server create and create nothing: names resolved, flavor fits image, name free, quota."""
        body = parse_body(server_create, check=_check_create)
        return {"dry_run": True, "server": _launch().dry_run(body)}


def _launch() -> LaunchService:
    return LaunchService(
        get_connection(),
        idempotency_ttl=settings().idempotency_ttl,
        settle_seconds=settings().idempotency_settle_seconds,
        watch=keywatch(),
    )


def if_match(method):
    """Document the If-Match precondition of a change to a server."""
    method = ns.param(
        "If-Match", "The server's ETag as you read it: the change is refused (412) if it changed since", _in="header"
    )(method)
    return ns.response(412, "The server changed since its ETag was read (`precondition_failed`, with `etag`)",
                       error_model)(method)  # fmt: skip


def _unless_changed(ref: str) -> str:
    """With If-Match: refuse (412) unless the server is the version the caller read (one GET more).

    Returns the server's id when it was read, so that a name is not looked up twice, else ``ref``.
    """
    if "If-Match" not in request.headers:
        return ref
    current = ComputeService(get_connection()).get_server(ref)
    check_if_match(marshal(current, server))
    return current["id"]


def _check_create(body: dict) -> list[dict[str, str]]:
    # An existing boot volume replaces the image (services/boot_volume.py checks the rest of the volume fields).
    kinds = ("flavor", "network") if body.get("boot_volume") else ("image", "flavor", "network")
    errors = [
        {"field": kind, "message": f"give one of {kind} (id or name) and {kind}_id"}
        for kind in kinds
        if len([name for name in (kind, f"{kind}_id") if body.get(name)]) != 1
    ]
    errors += boot_volume.field_errors(body)
    # Nova's own name rules, checked here so that nothing is sent that Nova would refuse.
    name, description = body.get("name"), body.get("description")
    texts = text_errors(name if isinstance(name, str) else None, description if isinstance(description, str) else None)
    return errors + [{"field": field, "message": message} for field, message in texts]


@ns.route("/events")
class ServerEvents(Resource):
    @ns.expect(events_query)
    @ns.param("Last-Event-ID", "Resume after this event id (a browser's EventSource sends it itself)", _in="header")
    @documents_errors(ns, 400, *READ_ERRORS)
    @ns.produces(["text/event-stream"])
    @ns.response(
        200,
        "A text/event-stream of `added`, `modified` and `deleted` events, each `data:` a server as its show "
        "answers it and `id:` a cursor; `synced` after ?initial's servers, `bookmark` now and then on a quiet "
        "stream, `expired` when a user token expires; a `: heartbeat` comment every 15 s",
    )
    @ns.response(410, "The event id is too old to resume from (`cursor_expired`): list again", error_model)
    def get(self):
        """Stream every change to the project's servers (Server-Sent Events)."""
        return events.open_stream(events_query)


@ns.route("/<string:ref>")
@ns.param("ref", "Server id or exact name")
class Server(Resource):
    # Not marshalled: shape_server answers exactly the Server model (tests/api/test_server_shape.py).
    @shows(ns, server, "The server", shaped=True)
    def get(self, ref):
        """Show one server, by id or name."""
        return ComputeService(get_connection()).get_server(ref)

    @ns.expect(server_update)
    @if_match
    @documents_errors(ns, 404, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.marshal_with(server, description="The updated server")
    def patch(self, ref):
        """Rename a server or change its description, metadata or tags."""
        body = parse_body(server_update)
        ref = _unless_changed(ref)
        updated = ServerActionService(get_connection()).update_server(ref, **body)
        events.poke()
        return updated

    @documents_errors(ns, 404, 409, *READ_ERRORS)
    @ns.response(204, "Deletion started; the server disappears a few seconds later")
    def delete(self, ref):
        """Delete a server, by id or name."""
        ComputeService(get_connection()).delete_server(ref)
        events.poke()
        return "", 204


@ns.route("/<string:ref>/action")
@ns.param("ref", "Server id or exact name")
class ServerAction(Resource):
    @ns.expect(server_action)
    @if_match
    @documents_errors(ns, 404, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.response(501, "attach_volume, detach_volume: the cloud has no Cinder (`not_supported`)", error_model)
    @ns.header("Location", "Where to poll: the server, for a snapshot the new image, for a volume action the volume")
    @ns.marshal_with(action_accepted, code=202, description="Accepted; poll the server until it has target_status")
    def post(self, ref):
        """Start, stop, reboot, pause, unpause, suspend, resume or snapshot a server, change its network access, or
        attach or detach a volume."""
        body = parse_body(server_action, check=lambda body: server_network.field_errors(body.get("action"), body))
        volume_actions.check_fields(body["action"], body)
        ref = _unless_changed(ref)
        if body["action"] in server_network.ACTIONS:
            fields = {name: body[name] for name in server_network.FIELDS if name in body}
            accepted = {
                **ServerNetworkService(get_connection()).act(ref, action=body["action"], **fields),
                "image_id": None,
            }
        elif body["action"] in volume_actions.ACTIONS:
            accepted = VolumeActionService(get_connection()).act_on_volume(
                ref, action=body["action"], volume=body["volume"], device=body.get("device")
            )
        else:
            accepted = ServerActionService(get_connection()).act(
                ref, action=body["action"], reboot_type=body.get("type"), name=body.get("name")
            )
        events.poke()
        if accepted.get("volume_id"):  # not in the answer's model: Location names the volume
            location = url_for("volume_volume", ref=accepted["volume_id"])
        elif accepted["image_id"]:
            location = url_for("image_image", ref=accepted["image_id"])
        else:
            location = url_for("server_server", ref=accepted["id"])
        return accepted, 202, {"Location": location}


@ns.route("/<string:ref>/console-log")
@ns.param("ref", "Server id or exact name")
@ns.param(
    "lines",
    f"How many last lines (1-{CONSOLE_LOG_MAX_LINES}, default {DEFAULT_LINES})",
    type=int,
    _in="query",
    minimum=1,
    maximum=CONSOLE_LOG_MAX_LINES,
    default=DEFAULT_LINES,
)
class ServerConsoleLog(Resource):
    @documents_errors(ns, 400, 404, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.response(501, CONSOLE_UNAVAILABLE, error_model)
    @ns.marshal_with(console_log, description="The end of the server's console log")
    def get(self, ref):
        """Show the last lines of a server's console log."""
        lines = parse_query(console_log_query)["lines"]
        return ServerActionService(get_connection()).get_console_log(ref, lines=lines)


@ns.route("/<string:ref>/console")
@ns.param("ref", "Server id or exact name")
class ServerConsole(Resource):
    @documents_errors(ns, 404, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.response(501, CONSOLE_UNAVAILABLE, error_model)
    @ns.marshal_with(console, description="A console URL: noVNC when the cloud offers it, else serial")
    def get(self, ref):
        """Get a URL to a server's console."""
        return ServerActionService(get_connection()).get_console(ref)


@ns.route("/<string:ref>/interfaces")
@ns.param("ref", "Server id or exact name")
class ServerInterfaces(Resource):
    @shows(ns, server_interfaces, "The server's ports")
    def get(self, ref):
        """List a server's ports: addresses, MAC, network, status and security groups (with ids)."""
        return {"interfaces": ServerNetworkService(get_connection()).list_interfaces(ref)}
