"""Event feeds shared through a real Redis (REDIS_URL): several workers (here: apps) of one identity read Nova
once between them, a write through any of them wakes the reader, another takes over when it goes, and without
Redis each reads alone and nothing is lost."""

from __future__ import annotations

import os
import signal
import time

from devstack_client import create_app
from devstack_client.services.feedbus import FeedBus
from tests.events import EVENTS, FAST
from tests.fakes import CREDENTIALS


def worker(redis_url: str, **settings: str):
    return create_app({**CREDENTIALS, **FAST, "REDIS_URL": redis_url, **settings})


def feed_of(app):
    return next(iter(app.extensions["feeds"]._feeds.values()))


def until(predicate, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_one_worker_reads_nova_for_all_of_them(redis_url, nova, watch):
    first, second = worker(redis_url[0]), worker(redis_url[0])
    streams = [watch(on=first.test_client()), watch(on=second.test_client())]
    feeds = [feed_of(first), feed_of(second)]
    until(lambda: any(f.polls > 1 for f in feeds))
    before = [f.polls for f in feeds]
    nova.put("shared", status="ACTIVE")

    assert [s.event()["data"]["name"] for s in streams] == ["shared", "shared"]
    time.sleep(0.5)
    grew = [after - was for after, was in zip([f.polls for f in feeds], before, strict=True)]
    assert sorted(grew)[0] == 0 and sorted(grew)[1] >= 3  # one reads (every 0.05 s), the other only follows


def test_a_write_through_another_worker_wakes_the_reader(redis_url, cloud, nova, watch):
    first, second = (worker(redis_url[0], EVENTS_IDLE_POLL_SECONDS="30") for _ in range(2))
    server = nova.put("poked", status="ACTIVE")
    streams = [watch(on=first.test_client()), watch(on=second.test_client())]
    until(lambda: any(f.polls > 1 for f in (feed_of(first), feed_of(second))) or time.sleep(1) is None)
    cloud.nova("DELETE", f"/servers/{server['id']}", status=204)
    nova.tick()
    nova.delete("poked")

    # Through whichever app is not reading: its poke goes through Redis.
    follower = first if feed_of(second).polls > feed_of(first).polls else second
    assert follower.test_client().delete(f"/api/v1/server/{server['id']}").status_code == 204

    assert [s.event(deadline=10)["event"] for s in streams] == ["deleted", "deleted"]  # not after 30 s


def test_another_worker_takes_over_when_the_reader_goes(redis_url, nova, watch):
    first, second = worker(redis_url[0]), worker(redis_url[0])
    watch(on=first.test_client())
    until(lambda: feed_of(first).polls > 2)  # the first one leads
    survivor = watch(on=second.test_client())

    first.extensions["feeds"].stop()
    nova.put("after-leader", status="ACTIVE")

    assert survivor.event(deadline=15)["data"]["name"] == "after-leader"
    assert feed_of(second).polls > 1


def test_without_redis_each_worker_reads_alone_and_loses_nothing(redis_url, nova, watch):
    url, proc = redis_url
    first, second = worker(url), worker(url)
    streams = [watch(on=first.test_client()), watch(on=second.test_client())]
    until(lambda: any(f.polls > 1 for f in (feed_of(first), feed_of(second))))

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
    nova.put("redis-down", status="ACTIVE")

    assert [s.event(deadline=15)["data"]["name"] for s in streams] == ["redis-down", "redis-down"]


def test_a_write_through_a_worker_with_no_stream_wakes_the_reader(redis_url, cloud, nova, watch):
    """Behind a load balancer the write lands anywhere, often on an instance no stream is open on."""
    first, second, writer = (worker(redis_url[0], EVENTS_IDLE_POLL_SECONDS="30") for _ in range(3))
    server = nova.put("poked-elsewhere", status="ACTIVE")
    streams = [watch(on=first.test_client()), watch(on=second.test_client())]
    until(lambda: any(f.polls > 1 for f in (feed_of(first), feed_of(second))) or time.sleep(1) is None)
    cloud.nova("DELETE", f"/servers/{server['id']}", status=204)
    nova.tick()
    nova.delete("poked-elsewhere")

    assert writer.test_client().delete(f"/api/v1/server/{server['id']}").status_code == 204

    assert not writer.extensions["feeds"]._feeds  # it has no feed of its own: its poke went through Redis
    assert [s.event(deadline=10)["event"] for s in streams] == ["deleted", "deleted"]  # not after 30 s


def test_a_stream_opened_while_redis_is_down_reads_nova_alone(redis_url, nova, watch, caplog):
    url, proc = redis_url
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
    nova.put("before", status="ACTIVE")
    app = worker(url)

    stream = watch(f"{EVENTS}?initial=true", on=app.test_client())

    assert [stream.event()["event"], stream.event()["event"]] == ["added", "synced"]
    nova.tick()
    nova.put("while-down", status="ACTIVE")
    assert stream.event(deadline=15)["data"]["name"] == "while-down"
    assert "Redis unreachable" in caplog.text


def test_waits_longer_than_the_redis_socket_timeout_are_not_taken_for_an_outage(redis_url):
    """EVENTS_IDLE_POLL_SECONDS of 10 s or more: a blocking read that long outlived redis-py's socket timeout."""
    bus = FeedBus(redis_url[0], socket_timeout=1.0)
    started = time.monotonic()

    assert bus.follow("quiet", "0-0", block=2.5) == ([], "0-0")  # nothing came: no TimeoutError
    bus.wait_poke("quiet", 2.5)

    assert 2.5 <= time.monotonic() - started < 5  # the poke wait took its whole time, in parts
