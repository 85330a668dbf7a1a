"""The catalog cache (CATALOG_CACHE_SECONDS): flavor pages and image names reused per caller, in Redis if set."""

from __future__ import annotations

import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from prometheus_client import REGISTRY

from devstack_client import create_app
from devstack_client.appctx import get_connection
from devstack_client.config import ConfigError, load
from devstack_client.services.catalog import LockedTTLCache
from tests.api.test_user_tokens import ALICE, ALICE_PROJECT, BOB, BOB_PROJECT, as_user
from tests.fakes import CREDENTIALS, GLANCE, IMAGE, IMAGE_ID, NOVA, make_fake_flavor, make_fake_image, make_fake_server

FLAVORS = f"GET {NOVA}/flavors/detail?limit=101"
SERVERS = f"GET {NOVA}/servers/detail?limit=101"


def gateway(**settings: str):
    return create_app({**CREDENTIALS, **settings}).test_client()


def flavor_pages(cloud, *pages):
    """Nova answering each flavor list with the next of ``pages`` (lists of flavors); the last one from then on."""
    return cloud.mocker.get(f"{NOVA}/flavors/detail", [{"json": {"flavors": page}} for page in pages])


def names(response) -> list[str]:
    return [f["name"] for f in response.json["flavors"]]


# -- flavors -------------------------------------------------------------------------------------------------------


def lookups(result: str) -> float:
    return REGISTRY.get_sample_value("devstack_client_catalog_cache_lookups_total", {"result": result}) or 0.0


def test_a_repeated_flavor_list_asks_nova_once(client, cloud):
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")], [make_fake_flavor("2", "m1.new")])
    hits, misses = lookups("hit"), lookups("miss")

    first, second = client.get("/api/v1/flavor"), client.get("/api/v1/flavor")

    assert first.status_code == second.status_code == 200
    assert names(first) == names(second) == ["m1.tiny"]
    assert first.headers["ETag"] == second.headers["ETag"]
    assert cloud.api_calls() == [FLAVORS]
    assert (lookups("hit") - hits, lookups("miss") - misses) == (1, 1)  # /metrics


def test_each_query_is_kept_apart(client, cloud):
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")])

    for _ in range(2):
        assert client.get("/api/v1/flavor?limit=1&sort=-ram&min_ram=256").status_code == 200
        assert client.get("/api/v1/flavor").status_code == 200

    assert cloud.api_calls() == [
        f"GET {NOVA}/flavors/detail?minRam=256&sort_key=memory_mb&sort_dir=desc&limit=2",
        FLAVORS,
    ]


def test_any_query_nova_takes_is_kept_apart(client, cloud):
    """Integers past 64 bits (which orjson refuses), quotes, what looks like another parameter: each its own."""
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")])
    queries = [f"min_ram={2**70}", f"min_ram={2**70 + 1}", "marker=%C3%A9", 'marker=a"b', "marker=a%26limit%3D5"]

    for _ in range(2):
        assert [client.get(f"/api/v1/flavor?{query}").status_code for query in queries] == [200] * len(queries)

    assert len(cloud.api_calls()) == len(queries)


def test_concurrent_misses_each_ask_rather_than_queue(app, cloud):
    """No lock: behind one, with Nova hung, each queued call would wait out the read timeout in turn.

    (requests-mock answers one request at a time, so the three askers here are the test's own.)
    """
    together = threading.Barrier(3, timeout=10)

    def ask():
        together.wait()  # all three asking at once, or none answers
        return {"flavors": []}

    with app.app_context():
        api, catalog = get_connection().compute, app.extensions["catalog"]
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: catalog.answer(api, "/flavors/detail", {"limit": 101}, ask), range(3)))

    assert answers == [{"flavors": []}] * 3


def test_the_per_worker_store_is_safe_for_threads():
    """gthread workers serve 8 requests at once: dogpile's memory backend takes no lock of its own."""
    store, errors = LockedTTLCache(100, ttl=0.001), []

    def hammer(n: int) -> None:
        try:
            for i in range(20_000):
                key = (n * 7 + i) % 500
                store[key] = i
                store.get((key + 3) % 500)
                store.pop((key + 5) % 500, None)
        except Exception as exc:  # a plain TTLCache raises KeyError here within a fraction of a second
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)

    assert errors == []
    assert len(store) <= 100


def test_after_its_lifetime_nova_is_asked_again(cloud):
    client = gateway(CATALOG_CACHE_SECONDS="1")
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")], [make_fake_flavor("2", "m1.new")])

    assert names(client.get("/api/v1/flavor")) == ["m1.tiny"]
    time.sleep(1.2)

    assert names(client.get("/api/v1/flavor")) == ["m1.new"]
    assert cloud.api_calls() == [FLAVORS, FLAVORS]


def test_zero_asks_nova_every_time(cloud):
    client = gateway(CATALOG_CACHE_SECONDS="0")
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")], [make_fake_flavor("2", "m1.new")])

    assert [names(client.get("/api/v1/flavor")) for _ in range(2)] == [["m1.tiny"], ["m1.new"]]
    assert cloud.api_calls() == [FLAVORS, FLAVORS]


def test_an_error_is_not_kept(client, cloud):
    unavailable = {"json": {"computeFault": {"code": 503, "message": "Service Unavailable"}}, "status_code": 503}
    cloud.mocker.get(f"{NOVA}/flavors/detail", [unavailable, {"json": {"flavors": [make_fake_flavor()]}}])

    assert client.get("/api/v1/flavor").status_code == 503
    assert names(client.get("/api/v1/flavor")) == ["m1.tiny"]
    assert names(client.get("/api/v1/flavor")) == ["m1.tiny"]
    assert cloud.api_calls() == [FLAVORS, FLAVORS]


def test_a_shown_flavor_is_always_novas_own(client, cloud):
    """A show (and a create's flavor by name) never comes from the cache: only the lists do."""
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")])
    show = cloud.nova("GET", "/flavors/1", body={"flavor": make_fake_flavor("1", "m1.tiny")})

    client.get("/api/v1/flavor")
    assert client.get("/api/v1/flavor/1").status_code == client.get("/api/v1/flavor/1").status_code == 200

    assert show.call_count == 2


def test_each_user_and_project_has_its_own_entries(cloud):
    """A private flavor of Alice's project is never answered to Bob."""
    cloud.keystone_refuses_tokens()
    cloud.user_token(ALICE, "alice", ALICE_PROJECT)
    cloud.user_token(BOB, "bob", BOB_PROJECT)
    private = make_fake_flavor("9", "alice.gpu", **{"os-flavor-access:is_public": False})

    def answer(request, _):
        mine = [private] if request.headers["X-Auth-Token"] == ALICE else []
        return {"flavors": [make_fake_flavor("1", "m1.tiny"), *mine]}

    nova = cloud.mocker.get(f"{NOVA}/flavors/detail", json=answer)
    client = gateway(ALLOW_USER_TOKENS="true")

    for _ in range(2):
        assert names(client.get("/api/v1/flavor", headers=as_user(ALICE))) == ["m1.tiny", "alice.gpu"]
        assert names(client.get("/api/v1/flavor", headers=as_user(BOB))) == ["m1.tiny"]

    assert [r.headers["X-Auth-Token"] for r in nova.request_history] == [ALICE, BOB]


# -- image names of a server list ------------------------------------------------------------------------------------


def glance_names(cloud, *images):
    """Glance answering an ``id=in:`` query with those of ``images`` it names, as Glance filters."""

    def answer(request, _):
        wanted = request.qs["id"][0].removeprefix("in:").split(",")
        return {"images": [i for i in images if i["id"] in wanted], "first": "/v2/images"}

    return cloud.mocker.get(f"{GLANCE}/v2/images", json=answer)


def asked_ids(glance) -> list[list[str]]:
    return [sorted(r.qs["id"][0].removeprefix("in:").split(",")) for r in glance.request_history]


def test_a_repeated_server_list_asks_glance_only_for_names_it_does_not_hold(client, cloud):
    new = make_fake_image(name="debian")
    gone = "0d5a2b61-0000-4000-8000-00000000dead"  # deleted since its server was booted: Glance does not list it
    servers = [make_fake_server(name="a"), make_fake_server(name="b", image_id=gone)]
    later = [*servers, make_fake_server(name="c", image_id=new["id"])]
    cloud.mocker.get(f"{NOVA}/servers/detail", [{"json": {"servers": servers}}, {"json": {"servers": later}}])
    glance = glance_names(cloud, IMAGE, new)

    first, second, third = (client.get("/api/v1/server") for _ in range(3))

    assert [s["image"]["name"] for s in first.json["servers"]] == ["cirros", None]
    assert [s["image"]["name"] for s in second.json["servers"]] == ["cirros", None, "debian"]
    assert third.json == second.json
    # Nova each time (servers change); Glance for the first page's images, then for the new one only
    assert asked_ids(glance) == [sorted([IMAGE_ID, gone]), [new["id"]]]
    assert [c for c in cloud.api_calls() if c.startswith(f"GET {NOVA}")] == [SERVERS] * 3


def test_a_glance_failure_is_not_kept(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(name="a")]})
    unavailable = {"status_code": 503, "text": "Service Unavailable"}
    cloud.mocker.get(f"{GLANCE}/v2/images", [unavailable, {"json": {"images": [IMAGE], "first": "/v2/images"}}])

    names_seen = [client.get("/api/v1/server").json["servers"][0]["image"]["name"] for _ in range(3)]

    assert names_seen == [None, "cirros", "cirros"]  # names are a convenience: the list answers without them
    assert len([c for c in cloud.api_calls() if c.startswith(f"GET {GLANCE}")]) == 2


# -- shared through Redis --------------------------------------------------------------------------------------------


def test_workers_share_one_copy_through_redis(redis_url, cloud):
    url, _ = redis_url
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")])
    first, second = gateway(REDIS_URL=url), gateway(REDIS_URL=url)

    assert names(first.get("/api/v1/flavor")) == names(second.get("/api/v1/flavor")) == ["m1.tiny"]

    assert cloud.api_calls() == [FLAVORS]
    store = redis.Redis.from_url(url)
    [key] = store.keys("devstack-client:catalog:*")
    assert 0 < store.ttl(key) <= 31
    assert b"m1.tiny" in store.get(key) and b"\x80" not in store.get(key)[:2]  # JSON, not a pickle


def test_with_redis_down_every_call_asks_openstack(redis_url, cloud, caplog):
    url, proc = redis_url
    flavor_pages(cloud, [make_fake_flavor("1", "m1.tiny")])
    client = gateway(REDIS_URL=url)
    proc.kill()
    proc.wait()

    with caplog.at_level(logging.WARNING, logger="devstack_client.services.catalog"):
        answers = [client.get("/api/v1/flavor") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert cloud.api_calls() == [FLAVORS] * 3
    # Redis is not tried again for a while: one warning, not one per call
    assert [r.getMessage() for r in caplog.records if r.name == "devstack_client.services.catalog"] == [
        "catalog cache: Redis unreachable (ConnectionError), asking OpenStack for 10 s"
    ]


def test_the_setting_cannot_be_negative():
    with pytest.raises(ConfigError, match="CATALOG_CACHE_SECONDS must be positive"):
        load({"CATALOG_CACHE_SECONDS": "-1"}, environ={})
    assert load({"CATALOG_CACHE_SECONDS": "0"}, environ={}).catalog_cache_seconds == 0
