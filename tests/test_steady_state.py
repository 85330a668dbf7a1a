"""After the warm-up, each API call costs exactly the upstream calls it needs."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fakes import (
    CINDER,
    GLANCE,
    KEYSTONE,
    NEUTRON,
    NOVA,
    PROJECT_ID,
    SERVER_ID,
    make_fake_flavor,
    make_fake_image,
    make_fake_limits,
    make_fake_network,
    make_fake_server,
    make_fake_volume,
    make_fake_volume_limits,
)
from tests.neutron_fakes import (
    PUBLIC_ID,
    make_fake_floating_ip,
    make_fake_neutron_quota,
    make_fake_port,
    make_fake_rule,
    make_fake_security_group,
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
    # the show asks Neutron for its groups' ids; the flavor list, warm, comes from the catalog cache
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


# Security groups, floating IPs and a server's ports: (method, path, body) -> upstream calls per service once warm.
# The README's "Upstream calls" column says the same.
GROUP = make_fake_security_group(name="web")
PORT = make_fake_port(groups=[GROUP["id"]])
FIP = make_fake_floating_ip(port=PORT)
PUBLIC = make_fake_network(PUBLIC_ID, "public", **{"router:external": True})
NETWORK_CASES = {
    "list groups": ("GET", "/api/v1/security-group", None, {"neutron": 1}),
    "show group by id": ("GET", f"/api/v1/security-group/{GROUP['id']}", None, {"neutron": 1}),
    "show group by name": ("GET", "/api/v1/security-group/web", None, {"neutron": 1}),
    "create group": ("POST", "/api/v1/security-group", {"name": "web"}, {"neutron": 1}),
    "edit group": ("PATCH", f"/api/v1/security-group/{GROUP['id']}", {"name": "web"}, {"neutron": 1}),
    "delete group": ("DELETE", f"/api/v1/security-group/{GROUP['id']}", None, {"neutron": 1}),
    "add rule": ("POST", f"/api/v1/security-group/{GROUP['id']}/rule", {"direction": "ingress"}, {"neutron": 1}),
    "list floating IPs": ("GET", "/api/v1/floating-ip", None, {"neutron": 1}),
    "list a server's floating IPs": ("GET", f"/api/v1/floating-ip?server={SERVER_ID}", None, {"neutron": 2}),
    "show floating IP by address": ("GET", "/api/v1/floating-ip/172.24.4.228", None, {"neutron": 1}),
    "show floating IP by id": ("GET", f"/api/v1/floating-ip/{FIP['id']}", None, {"neutron": 1}),
    "allocate floating IP": ("POST", "/api/v1/floating-ip", None, {"neutron": 2}),
    "release floating IP": ("DELETE", f"/api/v1/floating-ip/{FIP['id']}", None, {"neutron": 1}),
    "release floating IP by address": ("DELETE", "/api/v1/floating-ip/172.24.4.228", None, {"neutron": 2}),
    "interfaces": ("GET", f"/api/v1/server/{SERVER_ID}/interfaces", None, {"neutron": 3}),
    "limits": ("GET", "/api/v1/limits", None, {"nova": 3, "neutron": 1, "cinder": 1}),
    "add group to server": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "add_security_group", "security_group": GROUP["id"]},
        {"neutron": 1, "nova": 1},
    ),
    "allocate and attach": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "add_floating_ip"},
        {"neutron": 4},
    ),
    "attach an address": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "add_floating_ip", "address": "172.24.4.228"},
        {"neutron": 3},
    ),
    "detach": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "remove_floating_ip", "address": "172.24.4.228"},
        {"neutron": 3},
    ),
}


@pytest.mark.parametrize("case", NETWORK_CASES)
def test_network_calls_cost_what_the_readme_says(client, cloud, case):
    method, path, body, expected = NETWORK_CASES[case]
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    cloud.nova("GET", "/limits", body=make_fake_limits())
    cloud.nova("GET", "/os-keypairs", body={"keypairs": []})
    cloud.nova("POST", f"/servers/{SERVER_ID}/action", status=202)
    cloud.neutron("GET", f"/quotas/{PROJECT_ID}/details", body=make_fake_neutron_quota())
    cloud.cinder("GET", "/limits", body=make_fake_volume_limits())
    cloud.neutron("GET", "/security-groups", body={"security_groups": [GROUP]})
    cloud.neutron("GET", f"/security-groups/{GROUP['id']}", body={"security_group": GROUP})
    cloud.neutron("POST", "/security-groups", status=201, body={"security_group": GROUP})
    cloud.neutron("PUT", f"/security-groups/{GROUP['id']}", body={"security_group": GROUP})
    cloud.neutron("DELETE", f"/security-groups/{GROUP['id']}", status=204)
    rule = make_fake_rule(GROUP["id"])
    cloud.neutron("POST", "/security-group-rules", status=201, body={"security_group_rule": rule})
    cloud.neutron("GET", "/floatingips", body={"floatingips": [FIP]})
    cloud.neutron("GET", f"/floatingips/{FIP['id']}", body={"floatingip": FIP})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": FIP})
    cloud.neutron("PUT", f"/floatingips/{FIP['id']}", body={"floatingip": FIP})
    cloud.neutron("DELETE", f"/floatingips/{FIP['id']}", status=204)
    cloud.neutron("GET", "/ports", body={"ports": [PORT]})
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    assert client.get("/api/v1/flavor").status_code == 200  # the warm-up
    warm = len(cloud.history)

    for _ in range(3):
        response = client.open(path, method=method, json=body)
        assert response.status_code < 300, response.get_json()

    after = cloud.history[warm:]
    counted = Counter(r.hostname.split(".")[0] for r in after)
    assert counted == Counter({service: 3 * n for service, n in expected.items()}), [
        f"{r.method} {r.url}" for r in after
    ]


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
                [
                    f"GET {NOVA}/servers/{SERVER_ID}",
                    f"GET {CINDER}/volumes/{volume_id}",  # + 1 per attached volume
                    f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",  # the groups' ids
                ],
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
            # sorted: a server's show asks Neutron beside Nova and Cinder, in no fixed order (a cost, not a sequence)
            assert sorted(f"{r.method} {r.url}" for r in cloud.history[warm:]) == sorted(calls), path
