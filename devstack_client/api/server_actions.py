"""Acting on a server: actions, edits and consoles, on the ``server`` namespace."""

from flask import request, url_for
from flask_restx import Resource, fields

from devstack_client.api.common import BODY_ERRORS, READ_ERRORS, documents_errors, error_model
from devstack_client.api.servers import Server, ns, server
from devstack_client.api.validation import parse_body
from devstack_client.connection import get_connection
from devstack_client.errors import InvalidRequest
from devstack_client.services import server_actions as limits
from devstack_client.services.server_actions import ServerActionService


class StringMap(fields.Raw):
    """A JSON object whose values are strings."""

    def schema(self) -> dict:
        return {**super().schema(), "additionalProperties": {"type": "string", "maxLength": limits.METADATA_VALUE_MAX}}


server_action = ns.model(
    "ServerAction",
    {
        "action": fields.String(required=True, enum=list(limits.ACTIONS), example="reboot"),
        "type": fields.String(enum=list(limits.REBOOT_TYPES), description="reboot only; default soft", example="hard"),
        "name": fields.String(
            min_length=1, max_length=limits.NAME_MAX, description="snapshot only, required: the image's name"
        ),
    },
    strict=True,
)
action_accepted = ns.model(
    "ServerActionAccepted",
    {
        "id": fields.String(description="The server's id", example="2b1f6c0e-8a4d-4c2e-9f3b-7d5e1a0c9b84"),
        "action": fields.String(example="reboot"),
        "type": fields.String(description="reboot: soft or hard; null otherwise", example="hard"),
        "target_status": fields.String(
            description="The status the server reaches when Nova is done (task_state null again); "
            "null for a snapshot, which leaves the status alone",
            example="ACTIVE",
        ),
        "image_id": fields.String(description="snapshot: the new image's id; null otherwise", example=None),
    },
)
server_update = ns.model(
    "ServerUpdate",
    {
        "name": fields.String(min_length=1, max_length=limits.NAME_MAX, example="web-2"),
        "description": fields.String(
            max_length=limits.NAME_MAX, description='"" removes the description', example="Front-end web server"
        ),
        "metadata": StringMap(
            description="Replaces the whole set: send every key to keep; {} removes them all",
            example={"role": "web", "owner": "team-a"},
        ),
        "tags": fields.List(
            fields.String(min_length=1, max_length=limits.TAG_MAX, pattern=limits.TAG_PATTERN),
            max_items=limits.MAX_TAGS,
            description=f"Replaces the whole set; at most {limits.MAX_TAGS}, each 1-{limits.TAG_MAX} "
            "characters without '/' or ','",
            example=["prod", "web"],
        ),
    },
    strict=True,
)
console_log = ns.model(
    "ServerConsoleLog",
    {
        "output": fields.String(example="login: \ncirros login: "),
        "lines": fields.Integer(description="How many last lines were asked for; output may hold fewer", example=50),
    },
)
console = ns.model(
    "ServerConsole",
    {
        "type": fields.String(description="novnc or serial", example="novnc"),
        "protocol": fields.String(description="vnc or serial", example="vnc"),
        "url": fields.String(
            description="Open it in a browser (novnc) or a websocket client (serial); it embeds a short-lived token",
            example="http://cloud.example:6080/vnc_auto.html?path=%3Ftoken%3D5c1e…",
        ),
    },
)
invalid_state_error = ns.inherit(
    "InvalidStateError",
    error_model,
    {
        "status": fields.String(description="The server's status now", example="ACTIVE"),
        "task_state": fields.String(description="What Nova is doing to it now, if anything", example=None),
        "locked": fields.Boolean(description="A locked server refuses every action", example=False),
    },
)
INVALID_STATE = "Not possible in the server's current state (`invalid_state`, with `status`, `task_state`, `locked`)"
CONSOLE_UNAVAILABLE = "This cloud or this server offers no such console (`console_unavailable`)"
DEFAULT_LINES = 50


@ns.route("/<string:ref>/action")
@ns.param("ref", "Server id or exact name")
class ServerAction(Resource):
    @ns.expect(server_action)
    @documents_errors(ns, 404, *BODY_ERRORS, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.header("Location", "Where to poll: the server, or for a snapshot the new image")
    @ns.marshal_with(action_accepted, code=202, description="Accepted; poll the server until it has target_status")
    def post(self, ref):
        """Start, stop, reboot, pause, unpause, suspend, resume or snapshot a server."""
        body = parse_body(server_action)
        accepted = ServerActionService(get_connection()).act(
            ref, action=body["action"], reboot_type=body.get("type"), name=body.get("name")
        )
        if accepted["image_id"]:
            location = url_for("image_image", ref=accepted["image_id"])
        else:
            location = url_for("server_server", ref=accepted["id"])
        return accepted, 202, {"Location": location}


@ns.route("/<string:ref>/console-log")
@ns.param("ref", "Server id or exact name")
@ns.param(
    "lines",
    f"How many last lines (1-{limits.CONSOLE_LOG_MAX_LINES}, default {DEFAULT_LINES})",
    type=int,
    _in="query",
    minimum=1,
    maximum=limits.CONSOLE_LOG_MAX_LINES,
    default=DEFAULT_LINES,
)
class ServerConsoleLog(Resource):
    @documents_errors(ns, 400, 404, *READ_ERRORS)
    @ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
    @ns.response(501, CONSOLE_UNAVAILABLE, error_model)
    @ns.marshal_with(console_log, description="The end of the server's console log")
    def get(self, ref):
        """Show the last lines of a server's console log."""
        lines = _lines(request.args.get("lines"))
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


@ns.expect(server_update)
@documents_errors(ns, 404, *BODY_ERRORS, *READ_ERRORS)
@ns.response(409, f"{INVALID_STATE}, or the name is ambiguous (`ambiguous_name`)", invalid_state_error)
@ns.marshal_with(server, description="The updated server")
def patch(self, ref):
    """Rename a server or change its description, metadata or tags."""
    body = parse_body(server_update)
    return ServerActionService(get_connection()).update_server(ref, **body)


# PATCH shares its URL with GET and DELETE, whose Resource lives in servers.py.
# A second Resource on the same URL would replace that one in the Swagger spec
# (restx keys paths by URL), so the method joins the existing Resource instead;
# before create_app registers the route, which copies `methods`.
Server.patch = patch
Server.methods = Server.methods | {"PATCH"}


def _lines(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LINES
    # isascii: int() also reads "²" and "１" and fails on 5,000 digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= limits.CONSOLE_LOG_MAX_LINES):
        message = f"lines must be a whole number from 1 to {limits.CONSOLE_LOG_MAX_LINES}"
        raise InvalidRequest(f"Invalid query: {message}.", [{"field": "lines", "message": message}])
    return int(raw)
