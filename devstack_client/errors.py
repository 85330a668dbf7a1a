"""The gateway's own error conditions; ``api/errors.py`` maps them to HTTP."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the errors we raise ourselves."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CredentialsMissing(GatewayError):
    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class Misconfigured(GatewayError):
    """The cloud cannot serve us as configured (old Nova, missing service…)."""


class DiscoveryFailed(GatewayError):
    """A service's version discovery got no answer (keystoneauth hides why: most often it is down)."""

    def __init__(self, service_type: str) -> None:
        super().__init__(
            f"The {service_type} service did not answer its version discovery: it is unreachable, or offers "
            "no API version the gateway speaks. Try again later."
        )
        self.service_type = service_type


class NotFound(GatewayError):
    def __init__(self, kind: str, ref: str) -> None:
        super().__init__(f"No {kind} with the id or name {ref!r}.")
        self.kind = kind
        self.ref = ref


class AmbiguousName(GatewayError):
    def __init__(self, kind: str, name: str, candidates: list[dict[str, str]]) -> None:
        super().__init__(f"{len(candidates)} {kind}s are named {name!r}: use an id instead.")
        self.kind = kind
        self.candidates = candidates


class InvalidRequest(GatewayError):
    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class UnsupportedMediaType(GatewayError):
    def __init__(self, media_type: str, accepted: tuple[str, ...]) -> None:
        super().__init__(f"The body's Content-Type {media_type!r} is not supported: send JSON ({', '.join(accepted)}).")
        self.media_type = media_type
        self.accepted = list(accepted)


class UriTooLong(GatewayError):
    """The request's URL (path and query string) is longer than the gateway reads."""


class NameInUse(GatewayError):
    def __init__(self, name: str, servers: list[dict[str, str]]) -> None:
        super().__init__(f"A server named {name!r} already exists.")
        self.servers = servers


class QuotaExceeded(GatewayError):
    """Our own quota check (a dry run) found no room."""


class IdempotencyConflict(GatewayError):
    def __init__(self, server_id: str, *, kind: str = "server") -> None:
        super().__init__(
            f"This Idempotency-Key was used for a different request ({kind} {server_id}); "
            "use a new key for a new request."
        )
        self.server_id = server_id  # the resource's id (a server's, for servers)
        self.kind = kind


class CreateUnconfirmed(GatewayError):
    """Nova did not answer a create: the server may exist (the request may have reached Nova)."""

    def __init__(self, name: str, idempotency_key: str | None, *, timed_out: bool = True) -> None:
        if idempotency_key:
            how = (
                "Send the same request again with the same Idempotency-Key: it answers that server if it "
                "exists, and creates it (once) if not."
            )
        else:
            how = (
                f"Look for it by name (GET /api/v1/server?name={name}) before creating it again; send an "
                "Idempotency-Key with a create to make retrying it safe."
            )
        what = (
            "did not answer the create of server {!r} in time"
            if timed_out
            else ("closed the connection before answering the create of server {!r}")
        )
        super().__init__(f"Nova {what.format(name)}; it may have been created. {how}")
        self.name = name
        self.idempotency_key = idempotency_key
        self.timed_out = timed_out


class BuildFailed(GatewayError):
    def __init__(self, server: dict) -> None:
        fault = server.get("fault") or {}
        super().__init__(f"Server {server['id']} went to ERROR: {fault.get('message') or 'no reason given'}")
        self.server = server


class InvalidState(GatewayError):
    """Nova refused an operation in the server's current state (its 409)."""

    def __init__(
        self,
        message: str,
        *,
        status: str | None,
        task_state: str | None,
        locked: bool | None,
        upstream_status: int | None = None,
        upstream_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.task_state = task_state
        self.locked = locked
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id


class ConsoleUnavailable(GatewayError):
    """The cloud offers no console (or console log) of the kind asked for."""

    def __init__(
        self, message: str, *, upstream_status: int | None = None, upstream_request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id


class Unauthorized(GatewayError):
    """The call carries no credentials, or a gateway API key we do not know."""


class InvalidToken(GatewayError):
    """The caller's Keystone token is invalid, expired, revoked or not accepted here."""


class ForbiddenRole(GatewayError):
    def __init__(self, role: str, method: str) -> None:
        super().__init__(f"This API key has the role {role!r}, which may only read (GET); {method} needs 'operator'.")
        self.role = role


class PreconditionFailed(GatewayError):
    """The request's If-Match names another version of the resource than the current one."""

    def __init__(self, etag: str) -> None:
        super().__init__(
            f"The server changed since you read it (its ETag is now {etag}): read it again, then retry the change."
        )
        self.etag = etag


class StreamUnavailable(GatewayError):
    """A change stream cannot start: its first read of Nova did not finish in time."""

    def __init__(self) -> None:
        super().__init__("The server change stream cannot start: Nova did not answer in time. Try again later.")


class CursorExpired(GatewayError):
    """A change stream's cursor is older than the gateway can vouch for (Nova may have purged deletions)."""

    def __init__(self, age: int, max_age: int) -> None:
        super().__init__(
            f"The event id is {age} s old, older than the {max_age} s this gateway can resume from: "
            "list the servers again (or open the stream with ?initial=true)."
        )
        self.age = age
        self.max_age = max_age


class CursorUnreadable(GatewayError):
    """Nova failed to list the changes since a stream's cursor: the gateway cannot vouch for it."""

    def __init__(self, upstream_request_id: str | None) -> None:
        super().__init__(
            "Nova failed to list the server changes since this event id: list the servers again "
            "(or open the stream with ?initial=true)."
        )
        self.upstream_request_id = upstream_request_id


class InUse(GatewayError):
    """OpenStack refused to delete something still in use (Neutron's 409): by these servers and ports."""

    def __init__(
        self,
        kind: str,
        ref: str,
        details: str,
        *,
        servers: list[str],
        ports: list[str],
        upstream_status: int | None = None,
        upstream_request_id: str | None = None,
    ) -> None:
        users = f"servers {', '.join(servers)}" if servers else f"ports {', '.join(ports)}" if ports else "something"
        super().__init__(f"The {kind} {ref} is in use by {users}: {details}".rstrip(": "))
        self.servers = servers
        self.ports = ports
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id


class NotSupported(GatewayError):
    """The cloud lacks an optional service (its catalog has no entry for it)."""

    def __init__(self, message: str, *, service_type: str) -> None:
        super().__init__(message)
        self.service_type = service_type


class VolumeInUse(GatewayError):
    """A volume attached to servers cannot be deleted."""

    def __init__(self, volume: dict, servers: list[dict[str, str | None]]) -> None:
        named = ", ".join(f"{s['name'] or s['id']} ({s['id']})" if s["name"] else s["id"] for s in servers)
        super().__init__(f"Volume {volume['name'] or volume['id']!r} is attached to server {named}: detach it first.")
        self.volume_id = volume["id"]
        self.servers = servers


class VolumeFailed(GatewayError):
    def __init__(self, volume: dict) -> None:
        super().__init__(f"Volume {volume['id']} went to {volume['status']}: Cinder could not create it.")
        self.volume = volume


class VolumeKeyReused(GatewayError):
    def __init__(self, volume_id: str) -> None:
        super().__init__(
            f"This Idempotency-Key was used for a different request (volume {volume_id}); "
            "use a new key for a new request."
        )
        self.volume_id = volume_id
