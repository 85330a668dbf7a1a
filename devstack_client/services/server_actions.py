"""Acting on one server: power and state actions, snapshots, edits and consoles.

Every action is asynchronous in Nova: it answers 202 and the server's
``status``/``task_state`` change over the next seconds. When Nova refuses an
action in the server's current state (its 409), we read the server once to say
which state that is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openstack import connection
from openstack import exceptions as os_exc

from devstack_client.errors import ConsoleUnavailable, InvalidRequest, InvalidState
from devstack_client.services._wire import call, is_printable, is_uuid
from devstack_client.services.compute import ComputeService, shape_server
from devstack_client.services.rules import METADATA_KEY


@dataclass(frozen=True)
class Action:
    key: str  # the key of Nova's action body
    target_status: str | None  # the status the server reaches when the action completes


ACTIONS = {
    "start": Action("os-start", "ACTIVE"),
    "stop": Action("os-stop", "SHUTOFF"),
    "reboot": Action("reboot", "ACTIVE"),
    "pause": Action("pause", "PAUSED"),
    "unpause": Action("unpause", "ACTIVE"),
    "suspend": Action("suspend", "SUSPENDED"),
    "resume": Action("resume", "ACTIVE"),
    # The server keeps its status; the new image goes queued → saving → active.
    "snapshot": Action("createImage", None),
}
REBOOT_TYPES = ("soft", "hard")

# Tried in order: a graphical console when the cloud has one, else a serial one.
CONSOLES = (("vnc", "novnc"), ("serial", "serial"))


class ServerActionService:
    def __init__(self, conn: connection.Connection) -> None:
        self._api = conn.compute
        self._compute = ComputeService(conn)

    # -- power and state actions ---------------------------------------------

    def act(self, ref: str, *, action: str, reboot_type: str | None = None, name: str | None = None) -> dict[str, Any]:
        """Ask Nova to act on a server; return what was accepted (Nova works on it afterwards)."""
        body = _action_body(action, reboot_type, name)
        server_id = self._server_id(ref)
        answer = self._post(server_id, f"/servers/{server_id}/action", body)
        return {
            "id": server_id,
            "action": action,
            "type": (reboot_type or "soft") if action == "reboot" else None,
            "target_status": ACTIONS[action].target_status,
            # null only if Nova made no image (its schema allows it)
            "image_id": (answer or {}).get("image_id") if action == "snapshot" else None,
        }

    # -- editing -------------------------------------------------------------

    def update_server(
        self,
        ref: str,
        *,
        name: str | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Change what was given (metadata and tags replace the whole set); return the server.

        Not atomic: Nova takes metadata, tags and name/description in separate
        calls. Everything is checked up front so that Nova rarely refuses one
        after another succeeded.
        """
        _check_update(name, description, metadata, tags)
        server_id = self._server_id(ref)
        if metadata is not None:
            self._put(server_id, f"/servers/{server_id}/metadata", {"metadata": metadata})
        if tags is not None:
            self._put(server_id, f"/servers/{server_id}/tags", {"tags": tags})
        fields: dict[str, str | None] = {} if name is None else {"name": name}
        if description is not None:
            fields["description"] = description or None  # "" removes it (Nova then shows null)
        if fields:
            # Last, because from microversion 2.75 its answer is the whole
            # server, metadata and tags included: no GET needed.
            server = self._put(server_id, f"/servers/{server_id}", {"server": fields})["server"]
        else:
            server = call(self._api, "GET", f"/servers/{server_id}")["server"]
        return shape_server(server)

    # -- consoles ------------------------------------------------------------

    def get_console_log(self, ref: str, *, lines: int) -> dict[str, Any]:
        """Return the last ``lines`` lines of the server's console log."""
        server_id = self._server_id(ref)
        body = {"os-getConsoleOutput": {"length": lines}}
        try:
            answer = self._post(server_id, f"/servers/{server_id}/action", body)
        except os_exc.HttpException as exc:
            if exc.status_code == 404:
                # Nova answers 404 both for a missing server and for a guest
                # without a console: reading the server tells them apart.
                call(self._api, "GET", f"/servers/{server_id}")
            elif exc.status_code != 501:  # 501: the virt driver has no console log
                raise
            raise ConsoleUnavailable(
                f"Nova has no console log for this server: {exc.details}",
                upstream_status=exc.status_code,
                upstream_request_id=exc.request_id,
            ) from exc
        return {"output": answer["output"], "lines": lines}

    def get_console(self, ref: str) -> dict[str, Any]:
        """Return a URL to the server's console: noVNC if the cloud offers it, else serial."""
        server_id = self._server_id(ref)
        refusals: list[os_exc.HttpException] = []
        for protocol, kind in CONSOLES:
            body = {"remote_console": {"protocol": protocol, "type": kind}}
            try:
                answer = self._post(server_id, f"/servers/{server_id}/remote-consoles", body)
            except os_exc.HttpException as exc:
                # 400 "Unavailable console type novnc." when the cloud has that
                # console disabled; 501 when the virt driver has none.
                if exc.status_code not in (400, 501):
                    raise
                refusals.append(exc)
                continue
            console = answer["remote_console"]
            return {"type": console["type"], "protocol": console["protocol"], "url": console["url"]}
        last = refusals[-1]
        reasons = " ".join(f"{protocol}: {exc.details}" for (protocol, _), exc in zip(CONSOLES, refusals, strict=True))
        raise ConsoleUnavailable(
            f"This cloud offers no console for this server ({reasons})",
            upstream_status=last.status_code,
            upstream_request_id=last.request_id,
        )

    # -- helpers -------------------------------------------------------------

    def _server_id(self, ref: str) -> str:
        # Nova server ids are UUIDs: act on one directly (Nova answers 404 if
        # it is unknown) and save the lookup.
        return ref if is_uuid(ref) else self._compute.find_server(ref)["id"]

    def _post(self, server_id: str, path: str, body: dict[str, Any]) -> Any:
        return self._send(server_id, "POST", path, body)

    def _put(self, server_id: str, path: str, body: dict[str, Any]) -> Any:
        return self._send(server_id, "PUT", path, body)

    def _send(self, server_id: str, method: str, path: str, body: dict[str, Any]) -> Any:
        try:
            return call(self._api, method, path, json=body)
        except os_exc.ConflictException as exc:
            raise self._invalid_state(server_id, exc) from exc

    def _invalid_state(self, server_id: str, exc: os_exc.HttpException) -> InvalidState:
        try:
            server = call(self._api, "GET", f"/servers/{server_id}")["server"]
        except os_exc.HttpException:  # gone meanwhile: Nova's refusal still stands
            server = {}
        return InvalidState(
            exc.details or "Nova refused the operation in the server's current state.",
            status=server.get("status"),
            task_state=server.get("OS-EXT-STS:task_state"),
            locked=server.get("locked"),
            upstream_status=exc.status_code,
            upstream_request_id=exc.request_id,
        )


def _action_body(action: str, reboot_type: str | None, name: str | None) -> dict[str, Any]:
    # The API model has checked types, enums and lengths; these rules span fields.
    errors = []
    if reboot_type is not None and action != "reboot":
        errors.append(("type", "type applies to the reboot action only"))
    if action == "snapshot":
        if name is None:
            errors.append(("name", "name is required for a snapshot"))
        else:
            errors.extend(_name_errors("name", name))
    elif name is not None:
        errors.append(("name", "name applies to the snapshot action only"))
    _raise_if(errors)
    key = ACTIONS[action].key
    if action == "reboot":
        return {key: {"type": (reboot_type or "soft").upper()}}
    if action == "snapshot":
        return {key: {"name": name, "metadata": {}}}
    return {key: None}


def _check_update(
    name: str | None, description: str | None, metadata: dict[str, Any] | None, tags: list[str] | None
) -> None:
    # Types and lengths are the API model's job; these are the rules it cannot express.
    if name is None and description is None and metadata is None and tags is None:
        raise InvalidRequest(
            "Nothing to change: send at least one of name, description, metadata, tags.",
            [{"field": "body", "message": "at least one of name, description, metadata, tags is required"}],
        )
    errors = text_errors(name, description)
    errors.extend(
        (f"metadata.{key}", "metadata keys are 1-255 letters, digits, spaces or - _ : .")
        for key in metadata or {}
        if not METADATA_KEY.match(key)
    )
    _raise_if(errors)


def text_errors(name: str | None, description: str | None) -> list[tuple[str, str]]:
    """Nova's rules for a server's name and description, on create and edit alike: (field, message) pairs."""
    errors = []
    if name is not None:
        errors.extend(_name_errors("name", name))
    if description is not None and not is_printable(description):
        errors.append(("description", "description must not contain control characters or emoji"))
    return errors


def _name_errors(field: str, name: str) -> list[tuple[str, str]]:
    if name != name.strip() or not is_printable(name):
        return [(field, f"{field} must not start or end with spaces nor contain control characters or emoji")]
    return []


def _raise_if(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise InvalidRequest(
            "Invalid request: " + "; ".join(message for _, message in errors) + ".",
            [{"field": field, "message": message} for field, message in errors],
        )
