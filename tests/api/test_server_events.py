"""The server change stream (GET /api/v1/server/events) and the delta list (?changes_since), on the wire.

Nova is played by ``Timeline``: servers that change as a test says, answered with ``changes-since`` as Nova
does (deleted ones included, ``updated`` at one-second resolution, the ``Date`` header its clock).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from devstack_client import create_app, siblings
from devstack_client.services import feeds as feeds_module
from devstack_client.services.changes import OVERLAP, EventCursor, change, iso
from tests.api.test_user_tokens import ALICE, ALICE_PROJECT, BOB, BOB_PROJECT, as_user
from tests.events import EVENTS, FAST
from tests.fakes import CREDENTIALS, make_fake_server, nova_error


@pytest.fixture
def app(cloud):
    return create_app({**CREDENTIALS, **FAST})


def shown(client: Any, server: dict[str, Any], cloud: Any) -> dict[str, Any]:
    """The server as GET /api/v1/server/{id} answers it (from the same Nova JSON), but for what only a show adds
    (its security groups' ids, from Neutron: null in events as in lists)."""
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    shown = client.get(f"/api/v1/server/{server['id']}").json
    return {**shown, "security_groups": [{**group, "id": None} for group in shown["security_groups"]]}


# -- the stream ------------------------------------------------------------------------------------------------


def test_initial_sends_every_server_then_synced_then_each_change_as_a_show(client, cloud, nova, watch):
    web = nova.put("web", status="ACTIVE")
    nova.put("db", status="ACTIVE")
    stream = watch(f"{EVENTS}?initial=true")

    added = [stream.event(), stream.event()]
    synced = stream.event()
    assert [e["event"] for e in added] == ["added", "added"] and {e["data"]["name"] for e in added} == {"web", "db"}
    assert synced["event"] == "synced" and synced["data"] == {"servers": 2} and synced["id"]
    assert next(e for e in added if e["data"]["name"] == "web")["data"] == shown(client, web, cloud)

    nova.tick()
    web = nova.put("web", status="SHUTOFF", **{"OS-EXT-STS:power_state": 4})
    modified = stream.event()
    assert modified["event"] == "modified" and modified["data"] == shown(client, web, cloud)

    nova.tick()
    nova.delete("web")
    deleted = stream.event()
    assert deleted["event"] == "deleted"
    assert deleted["data"]["id"] == web["id"] and deleted["data"]["status"] == "DELETED"
    assert deleted["data"]["name"] == "web"
    assert int(deleted["id"].split(".")[0]) >= int(modified["id"].split(".")[0])


def test_a_new_server_is_added_and_changes_come_in_order(nova, watch):
    stream = watch()
    nova.put("app", status="BUILD")
    nova.tick()
    nova.put("app", status="ACTIVE", **{"OS-EXT-STS:task_state": None})

    first = stream.event()
    if first["data"]["status"] == "BUILD":  # the feed read between the two states
        assert first["event"] == "added"
        second = stream.event()
        assert (second["event"], second["data"]["status"]) == ("modified", "ACTIVE")
    else:
        assert (first["event"], first["data"]["status"]) == ("added", "ACTIVE")


def test_only_real_changes_are_sent_not_a_new_updated_time(nova, watch):
    nova.put("quiet", status="ACTIVE")
    stream = watch()
    nova.tick()
    nova.put("quiet")  # Nova touched `updated`, nothing a client sees changed
    nova.tick()
    nova.put("quiet", name="renamed")

    event = stream.event()
    assert (event["event"], event["data"]["name"]) == ("modified", "renamed")


def test_a_quiet_stream_sends_heartbeat_comments(nova, watch):
    stream = watch()
    reads = len(nova.lists.request_history)

    frames = [stream.frame() for _ in range(3)]

    assert frames == [{"comment": "heartbeat"}] * 3
    # Every 0.3 s here, not once per read of Nova (every 0.05 s): the feed read more often than that.
    assert len(nova.lists.request_history) - reads > 3


def test_answers_event_stream_headers(client, nova, watch):
    stream = watch()
    headers = stream.response.headers

    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["Cache-Control"] == "no-cache" and headers["X-Accel-Buffering"] == "no"
    assert "ETag" not in headers


def test_streams_of_one_identity_share_one_poller(app, cloud, nova, watch):
    streams = [watch() for _ in range(5)]
    feeds = app.extensions["feeds"]._feeds

    assert len(feeds) == 1 and next(iter(feeds.values())).subscribers == 5
    nova.put("shared", status="ACTIVE")
    assert [s.event()["data"]["name"] for s in streams] == ["shared"] * 5
    # Opening a stream without a cursor reads nothing itself: every list call is the one feed's.
    reads_with_five = len(nova.lists.request_history)
    time.sleep(0.5)
    per_second = (len(nova.lists.request_history) - reads_with_five) * 2
    assert per_second <= 1 / 0.05 + 4  # one feed's pace (every 0.05 s), not five feeds'


def test_a_feed_stops_once_its_last_stream_has_gone(app, nova, watch, monkeypatch):
    monkeypatch.setattr(feeds_module, "LINGER", 0.1)
    stream = watch()
    stream.close()

    feeds = app.extensions["feeds"]._feeds
    end = time.monotonic() + 3
    while feeds and time.monotonic() < end:
        time.sleep(0.05)
    calls = len(nova.lists.request_history)
    time.sleep(0.3)

    assert not feeds and len(nova.lists.request_history) == calls


# -- resuming ---------------------------------------------------------------------------------------------------


def test_reconnecting_with_last_event_id_elsewhere_gets_what_it_missed_without_repeats(cloud, nova, watch):
    nova.put("a", status="ACTIVE")
    stream = watch(f"{EVENTS}?initial=true")
    assert stream.event()["event"] == "added"
    synced = stream.event()
    nova.tick()
    nova.put("a", name="a2")
    nova.put("b", status="BUILD")  # the same second
    seen = [stream.event(), stream.event()]
    last = seen[-1]["id"]
    stream.close()

    # Another worker (a new app: its own feeds), while the stream was down: a change, a create, a delete.
    nova.put("b", status="ACTIVE", **{"OS-EXT-STS:task_state": None})  # still the same second
    nova.tick()
    nova.put("c", status="ACTIVE")
    nova.delete("a2")
    elsewhere = create_app({**CREDENTIALS, **FAST}).test_client()
    resumed = watch(headers={"Last-Event-ID": last}, on=elsewhere)

    missed = [resumed.event() for _ in range(3)]
    assert sorted((e["event"], e["data"]["name"]) for e in missed) == [
        ("added", "c"),
        ("deleted", "a2"),
        ("modified", "b"),
    ]
    assert all("event" not in f for f in resumed.quiet(0.7))  # nothing again
    assert int(synced["id"].split(".")[0]) <= int(last.split(".")[0])
    since = nova.changes_since_calls()
    assert iso(int(last.split(".")[0]) - OVERLAP) in since  # the catch-up read reaches back OVERLAP seconds


def test_resuming_from_the_last_event_repeats_nothing(nova, watch):
    nova.put("x", status="ACTIVE")
    stream = watch()
    nova.tick()
    nova.put("x", name="y")
    last = stream.event()["id"]
    stream.close()

    resumed = watch(headers={"Last-Event-ID": last})

    assert all("event" not in frame for frame in resumed.quiet(0.7))


def test_the_query_carries_a_cursor_for_clients_that_cannot_send_the_header(nova, watch):
    nova.put("x", status="ACTIVE")
    stream = watch()
    nova.tick()
    nova.put("x", name="y")
    first = stream.event()["id"]
    nova.tick()
    nova.put("y", name="z")
    second = stream.event()
    stream.close()

    resumed = watch(f"{EVENTS}?last_event_id={first}")
    assert resumed.event()["data"]["name"] == "z"
    # The header wins over the query.
    again = watch(f"{EVENTS}?last_event_id={first}", headers={"Last-Event-ID": second["id"]})
    assert all("event" not in frame for frame in again.quiet(0.5))


def test_an_old_cursor_is_410_cursor_expired(client, nova):
    old = str(EventCursor(int(time.time()) - 3601))

    response = client.get(EVENTS, headers={"Last-Event-ID": old})

    assert response.status_code == 410
    assert response.json["code"] == "cursor_expired" and response.json["max_age"] == 3600
    assert "initial=true" in response.json["message"]
    assert not nova.lists.called


@pytest.mark.parametrize("value", ["x", "12.!!", "12.AAAA", "-5", "1e9", "１２", str(int(time.time()) + 86400)])
def test_a_cursor_that_is_not_ours_is_400(client, nova, value):
    response = client.get(EVENTS, headers={"Last-Event-ID": value})

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert response.json["errors"][0]["field"] == "Last-Event-ID"
    assert not nova.lists.called


# -- filters ----------------------------------------------------------------------------------------------------


def test_filters_apply_and_a_server_leaving_them_is_sent_once(nova, watch):
    nova.put("web-1", status="ACTIVE")
    nova.put("db-1", status="ACTIVE")
    stream = watch(f"{EVENTS}?initial=true&status=active&name_like=WEB")
    assert [stream.event()["data"]["name"], stream.event()["event"]] == ["web-1", "synced"]

    nova.tick()
    nova.put("db-1", status="SHUTOFF")  # never matched: not sent
    nova.put("web-1", status="SHUTOFF")  # leaves the filter: its new state, once
    left = stream.event()
    assert (left["event"], left["data"]["name"], left["data"]["status"]) == ("modified", "web-1", "SHUTOFF")
    nova.tick()
    nova.put("web-1", name="web-1b")  # no longer matched before or after
    nova.put("web-2", status="ACTIVE")
    assert stream.event()["data"]["name"] == "web-2"


def test_the_name_filter_is_exact(nova, watch):
    stream = watch(f"{EVENTS}?name=web")
    nova.put("web-1", status="ACTIVE")
    nova.put("web", status="ACTIVE")

    assert stream.event()["data"]["name"] == "web"


@pytest.mark.parametrize("query", ["status=RUNNING", "initial=maybe", "flavor=m1", "name=a%00b"])
def test_a_bad_query_is_400_and_no_stream(client, nova, query):
    response = client.get(f"{EVENTS}?{query}")

    assert response.status_code == 400 and response.json["code"] == "invalid_request"
    assert not nova.lists.called


# -- identities --------------------------------------------------------------------------------------------------


@pytest.fixture
def users(cloud, nova):
    cloud.keystone_refuses_tokens()
    expires = datetime.now(UTC) + timedelta(hours=1)
    cloud.user_token(ALICE, "alice", ALICE_PROJECT, expires=expires)
    cloud.user_token(BOB, "bob", BOB_PROJECT, expires=expires)
    nova.tokens.update({ALICE: ALICE_PROJECT, BOB: BOB_PROJECT})
    return create_app({**CREDENTIALS, **FAST, "ALLOW_USER_TOKENS": "true"})


def test_two_users_in_two_projects_never_see_each_others_events(users, nova, watch):
    client = users.test_client()
    alice = watch(headers=as_user(ALICE), on=client)
    bob = watch(headers=as_user(BOB), on=client)

    nova.put("alice-vm", ALICE_PROJECT, status="ACTIVE")
    nova.put("bob-vm", BOB_PROJECT, status="ACTIVE")

    assert alice.event()["data"]["name"] == "alice-vm"
    assert bob.event()["data"]["name"] == "bob-vm"
    assert all("event" not in f for f in alice.quiet(0.4) + bob.quiet(0.4))
    assert len(users.extensions["feeds"]._feeds) == 2
    nova_calls = [r for r in nova.lists.request_history]
    assert {r.headers["X-Auth-Token"] for r in nova_calls} == {ALICE, BOB}


def test_a_stream_ends_with_expired_when_the_users_token_expires(cloud, nova, watch):
    cloud.keystone_refuses_tokens()
    # It expires 2 s after the gateway validates it (when the stream opens), however long the set-up took.
    cloud.user_token(ALICE, "alice", ALICE_PROJECT, lifetime=timedelta(seconds=2))
    nova.tokens[ALICE] = ALICE_PROJECT
    client = create_app({**CREDENTIALS, **FAST, "ALLOW_USER_TOKENS": "true"}).test_client()
    stream = watch(headers=as_user(ALICE), on=client)

    expired = stream.event(deadline=30)  # a bound for a failure only: it comes about 2 s after the open

    assert expired["event"] == "expired" and "token expired" in expired["data"]["message"]
    with pytest.raises(StopIteration):
        stream.frame()


def test_a_reader_api_key_may_stream(cloud, nova, watch):
    from tests.api.test_api_keys import READER, READER_LINE

    client = create_app({**CREDENTIALS, **FAST, "API_KEYS": READER_LINE}).test_client()
    assert client.get(EVENTS).status_code == 401

    stream = watch(headers={"Authorization": f"Bearer {READER}"}, on=client)
    nova.put("seen", status="ACTIVE")
    assert stream.event()["data"]["name"] == "seen"


# -- upstream trouble and stopping ----------------------------------------------------------------------------


def test_nova_failing_when_a_stream_opens_is_a_json_error(client, nova):
    nova.failing = 1000

    response = client.get(EVENTS)

    assert response.status_code == 502
    assert response.json["code"] == "upstream_error" and response.json["upstream_status"] == 500


def test_nova_failing_later_keeps_the_stream_open_and_it_recovers(nova, watch):
    stream = watch()
    nova.failing = 5
    nova.put("after-outage", status="ACTIVE")

    assert stream.event()["data"]["name"] == "after-outage"
    assert nova.failing == 0


def test_nova_failing_every_changes_since_list_falls_back_to_full_lists(nova, watch):
    nova.put("kept", status="ACTIVE")
    nova.put("gone", status="ACTIVE")
    stream = watch()
    nova.broken_history = True  # as Nova fails for good when a deleted server's flavor cannot be loaded
    nova.tick()
    nova.put("kept", name="renamed")
    nova.delete("gone")

    events = sorted((e["event"], e["data"]["name"]) for e in (stream.event(), stream.event()))

    assert events == [("deleted", "gone"), ("modified", "renamed")]
    assert nova.lists.last_request.url.endswith("/servers/detail?limit=1000")  # full lists, no changes-since


def test_resuming_when_nova_cannot_list_the_changes_is_410_so_the_client_lists_again(client, nova):
    nova.broken_history = True
    cursor = str(EventCursor(int(time.time()) - 60))

    response = client.get(EVENTS, headers={"Last-Event-ID": cursor})

    assert response.status_code == 410
    assert response.json["code"] == "cursor_expired" and "list the servers again" in response.json["message"]
    assert response.json["upstream_request_id"]
    listed = client.get(f"{EVENTS}?initial=true", buffered=False)  # what the client does next: it works
    assert listed.status_code == 200
    listed.close()


def test_a_nova_500_on_changes_since_is_a_502(client, cloud):
    cloud.nova("GET", "/servers/detail", status=500, body=nova_error(500, "Unexpected API Error."))

    response = client.get("/api/v1/server?changes_since=2000-01-01T00:00:00Z")

    assert response.status_code == 502 and response.json["code"] == "upstream_error"


def test_a_tag_only_change_shows_at_the_next_full_list(cloud, nova, watch):
    app = create_app({**CREDENTIALS, **FAST, "EVENTS_RESYNC_SECONDS": "0.5"})
    nova.put("tagged", status="ACTIVE")
    stream = watch(on=app.test_client())

    nova.put("tagged", touch=False, tags=["blue"])  # Nova keeps `updated` for a tag

    event = stream.event()
    assert (event["event"], event["data"]["tags"]) == ("modified", ["blue"])


def test_a_server_gone_from_a_full_list_is_deleted(cloud, nova, watch):
    app = create_app({**CREDENTIALS, **FAST, "EVENTS_RESYNC_SECONDS": "0.5"})
    nova.put("archived", status="ACTIVE")
    stream = watch(on=app.test_client())

    nova.purge("archived")

    event = stream.event()
    assert (event["event"], event["data"]["name"], event["data"]["status"]) == ("deleted", "archived", "DELETED")


def test_a_worker_stopping_ends_its_streams(app, nova, watch):
    stream = watch()

    app.extensions["feeds"].stop()

    with pytest.raises(StopIteration):
        while True:
            stream.frame()


def test_a_stream_opened_while_the_worker_stops_ends_at_once(app, nova, watch):
    app.extensions["feeds"].stop()
    started = time.monotonic()

    stream = watch(on=app.test_client())  # 200, and the retry hint: the client reconnects elsewhere

    with pytest.raises(StopIteration):
        stream.frame()
    assert time.monotonic() - started < 2  # it waited for a feed that never reads: 125 s on the cloud
    assert app.extensions["feeds"]._feeds == {}  # no feed started for it


def test_a_stream_too_slow_for_the_log_ends_and_its_client_resumes(app, nova, watch, monkeypatch):
    monkeypatch.setattr(feeds_module, "LOG_SIZE", 3)
    stream = watch()
    feed = next(iter(app.extensions["feeds"]._feeds.values()))
    position, _ = feed.position()
    for n in range(5):
        nova.put(f"burst-{n}", status="ACTIVE")
    end = time.monotonic() + 3
    while feed.position()[0] < position + 5 and time.monotonic() < end:
        time.sleep(0.02)

    with pytest.raises(feeds_module.Lagged):
        feed.wait(position, 0)
    stream.close()


def test_the_gateways_own_change_wakes_the_feed(cloud, nova, watch):
    app = create_app({**CREDENTIALS, **FAST, "EVENTS_IDLE_POLL_SECONDS": "30"})
    client = app.test_client()
    server = nova.put("poked", status="ACTIVE")
    stream = watch(on=client)
    cloud.nova("DELETE", f"/servers/{server['id']}", status=204)
    nova.tick()
    nova.delete("poked")

    assert client.delete(f"/api/v1/server/{server['id']}").status_code == 204

    assert stream.event(deadline=10)["event"] == "deleted"  # long before the 30 s idle read


@pytest.fixture
def shared_slots():
    """The slots gunicorn's master maps for its workers (main.Server); here two apps in one process share them."""
    siblings.install()
    yield
    siblings.uninstall()


def test_a_change_made_through_another_worker_wakes_this_ones_feed(cloud, nova, watch, shared_slots):
    streaming, writing = (create_app({**CREDENTIALS, **FAST, "EVENTS_IDLE_POLL_SECONDS": "30"}) for _ in range(2))
    server = nova.put("poked", status="ACTIVE")
    stream = watch(on=streaming.test_client())
    cloud.nova("DELETE", f"/servers/{server['id']}", status=204)
    nova.tick()
    nova.delete("poked")
    reads = nova.lists.call_count

    assert writing.test_client().delete(f"/api/v1/server/{server['id']}").status_code == 204

    assert stream.event(deadline=10)["event"] == "deleted"  # long before the 30 s idle read
    assert not writing.extensions["feeds"]._feeds  # the writing worker has no feed: the streaming one read Nova
    assert nova.lists.call_count == reads + 1


def test_without_shared_slots_another_workers_change_waits_for_the_read(cloud, nova, watch):
    streaming, writing = (create_app({**CREDENTIALS, **FAST, "EVENTS_IDLE_POLL_SECONDS": "30"}) for _ in range(2))
    server = nova.put("poked", status="ACTIVE")
    stream = watch(on=streaming.test_client())
    cloud.nova("DELETE", f"/servers/{server['id']}", status=204)
    nova.tick()
    nova.delete("poked")

    assert writing.test_client().delete(f"/api/v1/server/{server['id']}").status_code == 204

    assert not [f for f in stream.quiet(1) if "event" in f]  # not woken: the next read is 30 s away


# -- cursors ----------------------------------------------------------------------------------------------------


def _change(name: str, updated: int) -> Any:
    return change("modified", {"id": name, "name": name, "updated_at": iso(updated)})


def test_a_cursor_round_trips_and_carries_only_its_window():
    now = 1_796_000_000
    cursor = EventCursor(now)
    for n, updated in enumerate([now - 5, now + 1, now + 2, now + 3]):
        cursor = cursor.after(_change(f"s{n}", updated))

    assert cursor.time == now + 3
    assert [updated for _, updated in cursor.carried] == [now + 1, now + 2, now + 3]
    assert EventCursor.parse(str(cursor), "id", now) == cursor
    assert not cursor.admits(_change("s3", now + 3))
    assert cursor.admits(_change("s3", now + 4))  # the same content later: another state (it changed back)
    assert str(EventCursor(now)) == str(now)


def test_a_cursor_carries_at_most_max_carried():
    cursor = EventCursor(1_796_000_000)
    for n in range(300):
        cursor = cursor.after(_change(f"s{n}", 1_796_000_000))

    assert len(cursor.carried) == 256 and len(str(cursor)) < 1800


# -- the delta list -----------------------------------------------------------------------------------------------


def test_changes_since_lists_deleted_servers_too(client, cloud):
    gone = make_fake_server(name="gone", status="ACTIVE")
    gone.update(status="DELETED", **{"OS-EXT-STS:vm_state": "deleted"})
    listed = cloud.nova("GET", "/servers/detail", body={"servers": [gone]})
    cloud.glance("GET", "/images", body={"images": []})

    response = client.get("/api/v1/server?changes_since=2026-11-30T09:00:00%2B01:00&fields=name,status")

    assert response.status_code == 200
    assert response.json["servers"] == [{"id": gone["id"], "name": "gone", "status": "DELETED"}]
    assert parse_qs(urlparse(listed.last_request.url).query)["changes-since"] == ["2026-11-30T08:00:00Z"]


@pytest.mark.parametrize("value", ["2026-11-30T08:00:00", "2026-11-30", "2026-11-30T08:00:00.75Z"])
def test_changes_since_takes_iso_8601_as_utc_whole_seconds(client, cloud, value):
    listed = cloud.nova("GET", "/servers/detail", body={"servers": []})

    assert client.get(f"/api/v1/server?changes_since={value}").status_code == 200
    sent = parse_qs(urlparse(listed.last_request.url).query)["changes-since"][0]
    assert sent.startswith("2026-11-30T") and sent.endswith("Z") and "." not in sent


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-13-01T00:00:00Z", "0001-01-01T00:00:00Z", "1e9", "２０２６-11-30"]
)
def test_a_bad_changes_since_is_400_and_nothing_sent(client, cloud, value):
    listed = cloud.nova("GET", "/servers/detail", body={"servers": []})

    response = client.get("/api/v1/server", query_string={"changes_since": value})

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "changes_since"
    assert not listed.called


def test_metrics_count_open_streams_and_the_feeds_reads(nova, watch):
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    open_before = value("devstack_client_event_streams_open")
    reads_before = value("devstack_client_event_feed_reads_total", kind="changes")
    streams = [watch(), watch()]
    nova.put("counted", status="ACTIVE")
    assert [s.event()["data"]["name"] for s in streams] == ["counted", "counted"]

    assert value("devstack_client_event_streams_open") == open_before + 2
    assert value("devstack_client_event_feed_reads_total", kind="full") >= 1
    assert value("devstack_client_event_feed_reads_total", kind="changes") > reads_before
    for stream in streams:
        stream.close()
    assert value("devstack_client_event_streams_open") == open_before
