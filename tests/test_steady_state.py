"""After the warm-up, each API call costs exactly the upstream calls it needs."""

from concurrent.futures import ThreadPoolExecutor

from tests.fakes import (
    GLANCE,
    KEYSTONE,
    NEUTRON,
    NOVA,
    make_fake_flavor,
    make_fake_image,
    make_fake_network,
    make_fake_server,
)


def test_first_call_warms_up_then_no_token_or_discovery(client, cloud):
    server = make_fake_server()
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    cloud.nova("GET", f"/servers/{server['id']}", body={"server": server})
    cloud.glance("GET", "/images", body={"images": [make_fake_image()]})
    cloud.neutron("GET", "/networks", body={"networks": [make_fake_network()]})

    assert client.get("/api/v1/flavor").status_code == 200
    assert cloud.sent() == [
        f"POST {KEYSTONE}/auth/tokens",
        f"GET {NOVA}",
        f"GET {GLANCE}/",
        f"GET {NEUTRON}/v2.0",
        f"GET {NOVA}/flavors/detail?limit=101",
    ]

    warm = len(cloud.history)
    paths = [
        "/api/v1/flavor",
        "/api/v1/server?fields=id,name,status",
        f"/api/v1/server/{server['id']}",
        "/api/v1/image",
        "/api/v1/network",
    ]
    for path in paths * 4:
        assert client.get(path).status_code == 200

    after = cloud.history[warm:]
    assert len(after) == len(paths) * 4
    assert not [r for r in after if r.hostname == "keystone.test"]
    assert not [r for r in after if r.url in (NOVA, f"{GLANCE}/", f"{NEUTRON}/v2.0")]


def test_concurrent_first_calls_share_one_token_and_one_discovery(app, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    def call(_):
        return app.test_client().get("/api/v1/flavor").status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(call, range(64)))

    assert statuses == [200] * 64
    assert cloud.token_request.call_count == 1
    assert cloud.sent(host="nova.test").count(f"GET {NOVA}") == 1
