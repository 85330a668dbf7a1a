"""The change stream's test kit: Nova over time (``Timeline``, played on the wire) and a stream reader."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from devstack_client.services.changes import iso
from tests import answers
from tests.fakes import NOVA, PROJECT_ID, make_fake_server, new_id, nova_error

FAST = {
    "EVENTS_POLL_SECONDS": "0.05",
    "EVENTS_IDLE_POLL_SECONDS": "0.05",
    "EVENTS_HEARTBEAT_SECONDS": "0.3",
    "EVENTS_RESYNC_SECONDS": "3600",
}
EVENTS = "/api/v1/server/events"


class Timeline:
    """Nova's servers over time, per project; its clock moves only when a test says (``tick``)."""

    def __init__(self, cloud: Any) -> None:
        self.now = int(time.time())
        self.projects: dict[str, dict[str, dict[str, Any]]] = {}
        self.tokens: dict[str, str] = {}  # a user's token -> their project (else the gateway's)
        self.failing = 0  # answer this many list calls with a 500
        self.broken_history = False  # answer every changes-since list with a 500 (as Nova can, for good)
        self.lists = cloud.mocker.get(f"{NOVA}/servers/detail", json=self._list)

    def tick(self, seconds: int = 1) -> None:
        self.now += seconds

    def put(self, which: str, project: str = PROJECT_ID, /, *, touch: bool = True, **nova: Any) -> dict[str, Any]:
        """Create or change the server named ``which`` (Nova's fields); ``touch``: Nova sets ``updated`` (it
        does not for a tag)."""
        servers = self.projects.setdefault(project, {})
        current = next((s for s in servers.values() if s["name"] == which and s["status"] != "DELETED"), None)
        if current is None:
            current = make_fake_server(new_id(), which, tenant_id=project, created=iso(self.now), updated=iso(self.now))
            servers[current["id"]] = current
        current.update(nova)
        if touch:
            current["updated"] = iso(self.now)
        return current

    def delete(self, which: str, project: str = PROJECT_ID) -> None:
        self.put(which, project, status="DELETED", **{"OS-EXT-STS:vm_state": "deleted", "OS-EXT-STS:task_state": None})

    def purge(self, name: str, project: str = PROJECT_ID) -> None:
        """The server's row is gone (archived), with no DELETED state ever listed."""
        servers = self.projects[project]
        del servers[next(sid for sid, s in servers.items() if s["name"] == name)]

    def _list(self, request: Any, context: Any) -> dict[str, Any]:
        if self.failing:
            self.failing -= 1
            context.status_code = 500
            return nova_error(500, "Unexpected API Error.")
        if self.broken_history and "changes-since" in request.url:
            context.status_code = 500
            context.headers["x-openstack-request-id"] = "req-nova-500"
            return nova_error(500, "Unexpected API Error. Please contact the administrator.")
        context.headers["Date"] = datetime.fromtimestamp(self.now, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        project = self.tokens.get(request.headers.get("X-Auth-Token"), PROJECT_ID)
        query = parse_qs(urlparse(request.url).query)
        servers = list(self.projects.get(project, {}).values())
        if "changes-since" in query:
            since = query["changes-since"][0]
            return {"servers": [s for s in servers if s["updated"] >= since]}
        return {"servers": [s for s in servers if s["status"] != "DELETED"]}

    def changes_since_calls(self) -> list[str]:
        return [
            parse_qs(urlparse(r.url).query)["changes-since"][0]
            for r in self.lists.request_history
            if "changes-since" in r.url
        ]


class Reader:
    """The events of one open stream, frame by frame."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self._chunks: Iterator[bytes] = iter(response.response)
        self._buffer = ""

    def frame(self) -> dict[str, Any]:
        while "\n\n" not in self._buffer:
            chunk = next(self._chunks)
            self._buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        text, self._buffer = self._buffer.split("\n\n", 1)
        frame: dict[str, Any] = {}
        for line in text.split("\n"):
            name, _, value = line.partition(": " if ": " in line else ":")
            frame[name or "comment"] = value
        if "data" in frame:
            frame["data"] = json.loads(frame["data"])
            answers.check_event(frame.get("event", ""), frame["data"])
        return frame

    def event(self, deadline: float = 5.0) -> dict[str, Any]:
        """The next event (heartbeats skipped)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            frame = self.frame()
            if "event" in frame:
                return frame
        raise AssertionError("no event came")

    def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Every frame for ``seconds`` (heartbeats come at least that often)."""
        end, frames = time.monotonic() + seconds, []
        while time.monotonic() < end:
            frames.append(self.frame())
        return frames

    def close(self) -> None:
        self.response.close()
