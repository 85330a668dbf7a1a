"""After the warm-up, each API call costs exactly the upstream calls it needs."""

from concurrent.futures import ThreadPoolExecutor

from tests.fakes import (
    CINDER,
    GLANCE,
    KEYSTONE,
    NEUTRON,
    NOVA,
    SERVER_ID,
    make_fake_flavor,
    make_fake_image,
    make_fake_network,
    make_fake_server,
    make_fake_volume,
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


# What each volume operation costs once the connection is warm (README "Volumes"): path → its upstream calls.
def _volume_costs():
    volume_id = "6c1e4b7a-2f3d-4e5a-9b8c-0d1e2f3a4b5c"
    attached = make_fake_volume(volume_id, attached_to=(SERVER_ID,))
    return (
        volume_id,
        attached,
        [
            ("GET", "/api/v1/volume", None, [f"GET {CINDER}/volumes/detail?limit=101"]),
            ("GET", "/api/v1/volume/data-1", None, [f"GET {CINDER}/volumes/detail?name=data-1"]),
            (
                "GET",
                f"/api/v1/volume/{volume_id}",
                None,
                [f"GET {CINDER}/volumes/{volume_id}", f"GET {NOVA}/servers/{SERVER_ID}"],  # + 1 per attached server
            ),
            ("POST", "/api/v1/volume", {"name": "data-1", "size": 1}, [f"POST {CINDER}/volumes"]),
            ("PATCH", f"/api/v1/volume/{volume_id}", {"name": "data-2"}, [f"PUT {CINDER}/volumes/{volume_id}"]),
            (
                "POST",
                f"/api/v1/server/{SERVER_ID}/action",
                {"action": "attach_volume", "volume": volume_id},
                [f"POST {NOVA}/servers/{SERVER_ID}/os-volume_attachments"],
            ),
            (
                "POST",
                f"/api/v1/server/{SERVER_ID}/action",
                {"action": "detach_volume", "volume": volume_id},
                [f"DELETE {NOVA}/servers/{SERVER_ID}/os-volume_attachments/{volume_id}"],
            ),
            (
                "GET",
                f"/api/v1/server/{SERVER_ID}",
                None,
                [f"GET {NOVA}/servers/{SERVER_ID}", f"GET {CINDER}/volumes/{volume_id}"],  # + 1 per attached volume
            ),
        ],
    )


def test_each_volume_operation_costs_its_own_calls_and_no_discovery(client, cloud):
    volume_id, attached, costs = _volume_costs()
    volume = {"volume": attached}
    server = make_fake_server(
        SERVER_ID, **{"os-extended-volumes:volumes_attached": [{"id": volume_id, "delete_on_termination": False}]}
    )
    cloud.cinder("GET", "/volumes/detail", body={"volumes": [make_fake_volume(name="data-1")]})
    cloud.cinder("GET", f"/volumes/{volume_id}", body=volume)
    cloud.cinder("POST", "/volumes", 202, body=volume)
    cloud.cinder("PUT", f"/volumes/{volume_id}", body={"volume": make_fake_volume(volume_id)})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    cloud.nova("POST", f"/servers/{SERVER_ID}/os-volume_attachments", body={"volumeAttachment": {}})
    cloud.nova("DELETE", f"/servers/{SERVER_ID}/os-volume_attachments/{volume_id}", 202)
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    assert client.get("/api/v1/flavor").status_code == 200  # the warm-up

    for _ in range(3):
        for method, path, body, calls in costs:
            warm = len(cloud.history)
            response = client.open(path, method=method, json=body)
            assert response.status_code < 300, (path, response.json)
            assert [f"{r.method} {r.url}" for r in cloud.history[warm:]] == calls, path
