"""Walking the server list while servers are being scheduled: every server exactly once.

Nova lists the servers it is still scheduling (build requests) ahead of the sorted rest. A marker found among
them makes it list the placed servers from the start again (one answered while scheduling comes again once
placed); a marker placed meanwhile makes it skip the build requests after it. The gateway's next_marker
carries what it needs to do neither (services/cursor.py).
"""

from __future__ import annotations

from typing import Any

from tests.fakes import NOVA, make_fake_server, make_fake_server_in


def scheduling(name: str) -> dict[str, Any]:
    return make_fake_server_in("BUILD", task_state="scheduling", name=name)


def placed(server: dict[str, Any]) -> dict[str, Any]:
    return make_fake_server_in("BUILD", task_state="spawning", server_id=server["id"], name=server["name"])


def nova_pages(cloud, pages: list[dict[str, Any]]) -> None:
    """Nova's answers to /servers/detail, one per call, in order."""
    cloud.mocker.get(
        f"{NOVA}/servers/detail", [{"json": page, "headers": {"x-openstack-request-id": "r"}} for page in pages]
    )


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


def nova_queries(cloud) -> list[tuple[str | None, str]]:
    """(marker, limit) of each server list the gateway asked Nova for."""
    lists = [r for r in cloud.history if r.url.startswith(f"{NOVA}/servers/detail")]
    return [(r.qs.get("marker", [None])[0], r.qs["limit"][0]) for r in lists]


def test_a_server_placed_between_two_pages_comes_once(client, cloud):
    c, b, a = scheduling("c"), scheduling("b"), make_fake_server(name="a")
    # Page 1: c and b still scheduling, ahead of a. With b as Nova's marker, page 2 would list every placed
    # server from the start again once c is placed: c twice. The gateway asks again without a marker, for two
    # more (the two it answered), and leaves those out.
    nova_pages(cloud, [{"servers": [c, b, a]}, {"servers": [b, placed(c), a]}, {"servers": []}])

    names, markers = walk(client, limit=2)

    assert names == ["c", "b", "a"]
    assert markers[0].startswith("~")  # no Nova marker yet: only what the walk answered while scheduling
    # b still scheduling: the short second page may not be the last (see below); after a, Nova has nothing
    assert nova_queries(cloud) == [(None, "3"), (None, "5"), (a["id"], "5")]


def test_a_server_still_scheduling_after_the_marker_is_not_skipped(client, cloud):
    c, b, a = scheduling("c"), scheduling("b"), scheduling("a")
    # With c as Nova's marker and c placed meanwhile, Nova would list only the placed servers after c: b and a,
    # still scheduling, would be skipped.
    nova_pages(
        cloud,
        [
            {"servers": [c, b]},
            {"servers": [b, a, placed(c)]},
            {"servers": [a, placed(c), placed(b)]},
            {"servers": [placed(c), placed(b), placed(a)]},
        ],
    )

    names, _ = walk(client, limit=1)

    assert names == ["c", "b", "a"]
    assert [marker for marker, _ in nova_queries(cloud)] == [None, None, None, None]


def test_the_walk_goes_on_from_the_first_placed_server(client, cloud):
    b, a, z = scheduling("b"), make_fake_server(name="a"), make_fake_server(name="z")
    nova_pages(cloud, [{"servers": [b, a, z]}, {"servers": [z]}])

    names, markers = walk(client, limit=2)

    assert names == ["b", "a", "z"]
    assert markers[0].startswith(a["id"] + "~")  # a placed server is a marker Nova keeps finding
    assert nova_queries(cloud) == [(None, "3"), (a["id"], "4")]


def test_a_walk_of_placed_servers_keeps_plain_markers(client, cloud):
    servers = [make_fake_server(name=n) for n in "abc"]
    nova_pages(
        cloud,
        [{"servers": servers}, {"servers": servers[2:]}],
    )

    names, markers = walk(client, limit=2)

    assert names == ["a", "b", "c"]
    assert markers == [servers[1]["id"]]  # a server id, as before: clients that pass an id keep working


def test_the_carried_servers_accumulate_over_pages(client, cloud):
    d, c, b, a = scheduling("d"), scheduling("c"), scheduling("b"), make_fake_server(name="a")
    # Nova's answers as the servers get placed: build requests first, then placed servers from the start.
    nova_pages(
        cloud,
        [
            {"servers": [d, c]},
            {"servers": [c, b, placed(d)]},
            {"servers": [b, placed(d), placed(c), a]},
            {"servers": [placed(d), placed(c), placed(b), a]},
        ],
    )

    names, _ = walk(client, limit=1)

    assert names == ["d", "c", "b", "a"]
    assert [limit for _, limit in nova_queries(cloud)] == ["2", "3", "4", "5"]


def test_a_short_page_while_a_server_schedules_is_not_the_last(client, cloud):
    c, a, z = scheduling("c"), make_fake_server(name="a"), make_fake_server(name="z")
    # Nova lists c as a build request and as placed at once, drops the twin, and answers short of the limit.
    nova_pages(cloud, [{"servers": [c, a]}, {"servers": [z]}])

    names, _ = walk(client, limit=2)

    assert names == ["c", "a", "z"]
    assert nova_queries(cloud) == [(None, "3"), (a["id"], "4")]


def test_a_forged_cursor_is_400_naming_marker(client, cloud):
    for marker in ["abc~!!!", "~", "abc~A"]:
        response = client.get("/api/v1/server", query_string={"marker": marker})

        assert response.status_code == 400, marker
        assert response.json["errors"][0]["field"] == "marker"
    assert cloud.api_calls() == []
