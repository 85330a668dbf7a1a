"""Walking the server list while servers are being scheduled: every server exactly once.

Nova lists the servers it is still scheduling (build requests) ahead of the sorted rest. A marker found among
them makes it list the placed servers from the start again (one answered while scheduling comes again once
placed); a marker placed meanwhile makes it skip the build requests after it; and a server that is both a
build request and placed for an instant is listed once, short of the limit, as if the list ended there. The
gateway's next_marker carries what it needs to do none of these (services/cursor.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.fakes import NOVA, make_fake_server_in, new_id


class SchedulingNova:
    """Nova's GET /servers/detail while servers are scheduled, as nova/compute/api.py get_all answers it.

    ``order`` is the sort order (newest first). A server is a build request, placed, or both for an instant.
    ``then[n]`` runs after the n-th list call (1-based): how the servers move on meanwhile.
    """

    def __init__(self, cloud: Any, order: str, building: str, placed: str = "") -> None:
        self.order = list(order)
        self.ids = {name: new_id() for name in order}
        self.building, self.placed = set(building), set(placed)
        self.then: dict[int, Callable[[], None]] = {}
        self.calls: list[tuple[str | None, int]] = []
        cloud.mocker.get(f"{NOVA}/servers/detail", json=self.answer, headers={"x-openstack-request-id": "r"})

    def place(self, names: str, *, still_building: bool = False) -> None:
        self.placed |= set(names)
        if not still_building:
            self.building -= set(names)

    def answer(self, request: Any, context: Any) -> dict[str, Any]:
        limit, marker = int(request.qs["limit"][0]), request.qs.get("marker", [None])[0]
        self.calls.append((marker, limit))
        by_id = {server_id: name for name, server_id in self.ids.items()}
        builds = [n for n in self.order if n in self.building]
        placed = [n for n in self.order if n in self.placed]
        if marker is not None and by_id.get(marker) in builds:
            builds = builds[builds.index(by_id[marker]) + 1 :]  # then the placed ones from the start
        elif marker is not None:
            builds, placed = [], placed[placed.index(by_id[marker]) + 1 :]
        builds = builds[:limit]
        listed = [(n, "scheduling") for n in builds] + [(n, "spawning") for n in placed[: limit - len(builds)]]
        once = [(n, state) for i, (n, state) in enumerate(listed) if n not in [m for m, _ in listed[:i]]]
        servers = [make_fake_server_in("BUILD", task_state=state, server_id=self.ids[n], name=n) for n, state in once]
        if len(self.calls) in self.then:
            self.then[len(self.calls)]()
        return {"servers": servers}


def walk(client, limit: int) -> tuple[list[str], list[str]]:
    names, markers, marker = [], [], None
    for _ in range(10):  # bounded: a walk that never ends fails instead of hanging
        query = {"limit": limit, "fields": "id,name", **({"marker": marker} if marker else {})}
        response = client.get("/api/v1/server", query_string=query)
        assert response.status_code == 200, response.json
        names += [s["name"] for s in response.json["servers"]]
        marker = response.json["next_marker"]
        if not marker:
            return names, markers
        markers.append(marker)
    raise AssertionError(f"the walk did not end: {names}")


def test_a_server_placed_between_two_pages_comes_once(client, cloud):
    nova = SchedulingNova(cloud, "cba", building="cb", placed="a")
    nova.then[1] = lambda: nova.place("c")  # with b as the marker, Nova would list c again (placed, from the start)

    names, markers = walk(client, limit=2)

    assert names == ["c", "b", "a"]
    assert markers[0].startswith("~")  # no Nova marker yet: only what the walk answered while scheduling
    assert [marker for marker, _ in nova.calls] == [None, None, None]  # the third: is the short page the end?


def test_a_server_still_scheduling_after_the_marker_is_not_skipped(client, cloud):
    nova = SchedulingNova(cloud, "cba", building="cba")
    nova.then[1] = lambda: nova.place("c")  # with c as the marker, Nova would list only placed servers after c

    names, _ = walk(client, limit=1)

    assert names == ["c", "b", "a"]


def test_a_page_short_of_a_server_both_scheduling_and_placed_is_not_the_end(client, cloud):
    nova = SchedulingNova(cloud, "caz", building="c", placed="caz")  # c: a build request and placed at once

    names, _ = walk(client, limit=2)

    assert names == ["c", "a", "z"]
    # Nova's answers stay short by one while c is both (asked for one more each time until they stop
    # growing: z was there); then on after a, placed
    assert nova.calls == [(None, 3), (None, 4), (None, 5), (nova.ids["a"], 4)]


def test_servers_placed_one_after_the_other_during_a_walk(client, cloud):
    nova = SchedulingNova(cloud, "edcba", building="edcb", placed="a")
    steps = iter(["e", "d", "c", "b"])
    for n in range(1, 12):
        nova.then[n] = lambda: nova.place(next(steps, ""))

    names, _ = walk(client, limit=1)

    assert names == ["e", "d", "c", "b", "a"]


def test_a_walk_of_placed_servers_keeps_plain_markers(client, cloud):
    nova = SchedulingNova(cloud, "abc", building="", placed="abc")

    names, markers = walk(client, limit=2)

    assert names == ["a", "b", "c"]
    assert markers == [nova.ids["b"]]  # a server id, as before: clients that pass an id keep working
    assert nova.calls == [(None, 3), (nova.ids["b"], 3)]


def test_the_walk_goes_on_from_the_first_placed_server(client, cloud):
    nova = SchedulingNova(cloud, "baz", building="b", placed="az")

    names, markers = walk(client, limit=2)

    assert names == ["b", "a", "z"]
    assert markers[0].startswith(nova.ids["a"] + "~")  # a placed server is a marker Nova keeps finding
    assert nova.calls == [(None, 3), (nova.ids["a"], 4)]


def test_every_order_of_placement_answers_each_server_once(client, cloud):
    # Each server placed after some list call of the walk, in every order: the invariant holds for all.
    for placement in itertools.permutations("dcb"):
        cloud.mocker.reset_mock()
        nova = SchedulingNova(cloud, "dcba", building="dcb", placed="a")
        for n, name in enumerate(placement, start=1):
            nova.then[n] = lambda name=name, nova=nova: nova.place(name)

        names, _ = walk(client, limit=1)

        assert sorted(names) == ["a", "b", "c", "d"], (placement, names)


def test_a_forged_cursor_is_400_naming_marker(client, cloud):
    for marker in ["abc~!!!", "~", "abc~A"]:
        response = client.get("/api/v1/server", query_string={"marker": marker})

        assert response.status_code == 400, marker
        assert response.json["errors"][0]["field"] == "marker"
    assert cloud.api_calls() == []


def test_a_marker_with_characters_outside_base64_is_refused(client, cloud):
    listed = cloud.nova("GET", "/servers/detail", body={"servers": []})

    # Without the "!" (which a lenient decoder drops), one well-formed 4-byte digest.
    response = client.get("/api/v1/server", query_string={"marker": "~AAAAAA!!!!"})

    assert response.status_code == 400 and response.json["errors"][0]["field"] == "marker"
    assert not listed.called
