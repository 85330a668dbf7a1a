"""A server's security groups, floating IPs and ports: server actions and GET .../interfaces."""

import pytest

from tests.fakes import (
    DEFAULT_GROUP_ID,
    NETWORK_ID,
    NEUTRON,
    NOVA,
    SERVER_ID,
    make_fake_server,
    neutron_error,
    nova_error,
)
from tests.neutron_fakes import PUBLIC_ID, SUBNET_ID, make_fake_floating_ip, make_fake_port, make_fake_security_group

ACTION = f"/api/v1/server/{SERVER_ID}/action"
FIPS = f"{NEUTRON}/v2.0/floatingips"
FIP_ID = "61cea855-49cb-4846-997d-801b70c71bdd"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {"id": PUBLIC_ID, "name": "public", "router:external": True}


def changes(cloud):
    return [f"{r.method} {r.url}" for r in cloud.history if r.method in MUTATING and r.hostname != "keystone.test"]


# -- security groups -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "nova_key"),
    [("add_security_group", "addSecurityGroup"), ("remove_security_group", "removeSecurityGroup")],
)
def test_add_or_remove_a_group_by_name(client, cloud, action, nova_key):
    group = make_fake_security_group(name="web")
    cloud.neutron("GET", "/security-groups?name=web", body={"security_groups": [group]})
    cloud.nova("POST", f"/servers/{SERVER_ID}/action", status=202)

    response = client.post(ACTION, json={"action": action, "security_group": "web"})

    assert response.status_code == 202
    assert response.headers["Location"].endswith(f"/api/v1/server/{SERVER_ID}")
    assert response.json == {
        "id": SERVER_ID,
        "action": action,
        "type": None,
        "target_status": None,
        "image_id": None,
        "security_group": {"id": group["id"], "name": "web"},
        "floating_ip": None,
    }
    # Nova gets the group's id: a name may be ambiguous to Nova, the id never is.
    assert changes(cloud) == [f"POST {NOVA}/servers/{SERVER_ID}/action"]
    assert cloud.history[-1].json() == {nova_key: {"name": group["id"]}}


def test_an_unknown_group_is_400_naming_it_and_nova_is_not_asked(client, cloud):
    cloud.neutron("GET", "/security-groups", body={"security_groups": []})

    response = client.post(ACTION, json={"action": "add_security_group", "security_group": "nope"})

    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "security_group"
    assert changes(cloud) == []


def test_novas_refusal_is_passed_on_with_its_request_id(client, cloud):
    group = make_fake_security_group(name="web")
    message = f"Security group {group['id']} is already associated with the instance {SERVER_ID}"
    cloud.neutron("GET", "/security-groups?name=web", body={"security_groups": [group]})
    cloud.nova("POST", f"/servers/{SERVER_ID}/action", status=400, body=nova_error(400, message))

    response = client.post(ACTION, json={"action": "add_security_group", "security_group": "web"})

    assert (response.status_code, response.json["code"], response.json["message"]) == (400, "bad_request", message)
    assert response.json["upstream_request_id"] == "req-upstream-1"


def test_a_server_by_name_is_looked_up_once(client, cloud):
    server = make_fake_server(name="web-1")
    group = make_fake_security_group(name="web")
    cloud.nova("GET", "/servers/detail", body={"servers": [server]})
    cloud.neutron("GET", "/security-groups?name=web", body={"security_groups": [group]})
    cloud.nova("POST", f"/servers/{server['id']}/action", status=202)

    response = client.post(
        "/api/v1/server/web-1/action", json={"action": "add_security_group", "security_group": "web"}
    )

    assert response.status_code == 202 and response.json["id"] == server["id"]


BAD_ACTIONS = {
    "group without a name": ({"action": "add_security_group"}, "security_group"),
    # regression (found by the fuzzer): an action that was no string was looked up as a key (a 500)
    "an action that is an object": ({"action": {"a": 1}, "security_group": "web"}, "action"),
    "an action that is a list": ({"action": ["add_floating_ip"]}, "action"),
    "remove without a group": ({"action": "remove_security_group"}, "security_group"),
    "a group for start": ({"action": "start", "security_group": "web"}, "security_group"),
    "an address for reboot": ({"action": "reboot", "address": "172.24.4.1"}, "address"),
    "release on add": ({"action": "add_floating_ip", "release": True}, "release"),
    "remove without an address": ({"action": "remove_floating_ip"}, "address"),
    "an empty group": ({"action": "add_security_group", "security_group": ""}, "security_group"),
    "release as text": ({"action": "remove_floating_ip", "address": "172.24.4.1", "release": "yes"}, "release"),
    "an address for a group": (
        {"action": "add_security_group", "security_group": "w", "address": "1.2.3.4"},
        "address",
    ),
}


@pytest.mark.parametrize("case", BAD_ACTIONS)
def test_a_misplaced_or_missing_field_is_400_before_anything_is_sent(client, cloud, case):
    body, field = BAD_ACTIONS[case]

    response = client.post(ACTION, json=body)

    assert response.status_code == 400, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert cloud.api_calls() == []


# -- floating IPs ----------------------------------------------------------------------------


@pytest.fixture
def port(cloud):
    port = make_fake_port()
    router = make_fake_port(device_id=SERVER_ID, device_owner="network:router_interface")  # not the server's
    cloud.neutron("GET", f"/ports?device_id={SERVER_ID}", body={"ports": [router, port]})
    return port


def attach_answer(port):
    def answer(request, context):
        assert request.json()["floatingip"]["port_id"] == port["id"]
        return {"floatingip": make_fake_floating_ip(FIP_ID, port=port)}

    return answer


def test_add_floating_ip_allocates_and_attaches_in_one_call(client, cloud, port):
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": make_fake_floating_ip(FIP_ID)})
    cloud.mocker.put(f"{FIPS}/{FIP_ID}", json=attach_answer(port), headers={"Content-Type": "application/json"})

    response = client.post(ACTION, json={"action": "add_floating_ip"})

    assert response.status_code == 202
    fip = response.json["floating_ip"]
    assert (fip["address"], fip["server_id"], fip["fixed_address"], fip["status"]) == (
        "172.24.4.228",
        SERVER_ID,
        "10.0.0.12",
        "DOWN",  # no waiting for ACTIVE: without an L3 agent it never comes
    )
    assert response.json["security_group"] is None
    assert changes(cloud) == [f"POST {FIPS}", f"PUT {FIPS}/{FIP_ID}"]
    assert cloud.history[-2].json() == {"floatingip": {"floating_network_id": PUBLIC_ID}}
    assert cloud.history[-1].json() == {"floatingip": {"port_id": port["id"], "fixed_ip_address": "10.0.0.12"}}


def test_a_failed_attach_releases_the_new_address(client, cloud, port):
    message = (
        f"External network {PUBLIC_ID} is not reachable from subnet {SUBNET_ID}.  Therefore, cannot associate "
        f"Port {port['id']} with a Floating IP."
    )
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": make_fake_floating_ip(FIP_ID)})
    cloud.neutron(
        "PUT", f"/floatingips/{FIP_ID}", status=404, body=neutron_error("ExternalGatewayForFloatingIPNotFound", message)
    )
    released = cloud.neutron("DELETE", f"/floatingips/{FIP_ID}", status=204)

    response = client.post(ACTION, json={"action": "add_floating_ip"})

    assert response.status_code == 404
    assert response.json["message"] == message
    assert response.json["upstream_request_id"] == "req-upstream-1"
    assert released.call_count == 1
    assert changes(cloud) == [f"POST {FIPS}", f"PUT {FIPS}/{FIP_ID}", f"DELETE {FIPS}/{FIP_ID}"]


def test_a_failed_release_after_a_failed_attach_still_answers_the_attach_error(client, cloud, port):
    cloud.neutron("GET", "/networks", body={"networks": [PUBLIC]})
    cloud.neutron("POST", "/floatingips", status=201, body={"floatingip": make_fake_floating_ip(FIP_ID)})
    cloud.neutron("PUT", f"/floatingips/{FIP_ID}", status=409, body=neutron_error("Conflict", "port busy"))
    cloud.neutron("DELETE", f"/floatingips/{FIP_ID}", status=500, body=neutron_error("HTTPInternalServerError", "x"))

    response = client.post(ACTION, json={"action": "add_floating_ip"})

    assert (response.status_code, response.json["message"]) == (409, "port busy")


def test_add_a_given_floating_ip(client, cloud, port):
    cloud.neutron("GET", "/floatingips", body={"floatingips": [make_fake_floating_ip(FIP_ID)]})
    cloud.mocker.put(f"{FIPS}/{FIP_ID}", json=attach_answer(port), headers={"Content-Type": "application/json"})

    response = client.post(ACTION, json={"action": "add_floating_ip", "address": "172.24.4.228"})

    assert response.status_code == 202 and response.json["floating_ip"]["id"] == FIP_ID
    assert changes(cloud) == [f"PUT {FIPS}/{FIP_ID}"]


def test_add_an_unknown_address_is_400_naming_it(client, cloud, port):
    cloud.neutron("GET", "/floatingips", body={"floatingips": []})

    response = client.post(ACTION, json={"action": "add_floating_ip", "address": "172.24.4.9"})

    assert response.status_code == 400 and response.json["errors"][0]["field"] == "address"
    assert changes(cloud) == []


def test_a_server_without_ports_is_400_and_an_unknown_one_404(client, cloud):
    cloud.neutron("GET", "/ports", body={"ports": []})
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})

    no_port = client.post(ACTION, json={"action": "add_floating_ip"})
    cloud.nova(
        "GET", f"/servers/{SERVER_ID}", status=404, body=nova_error(404, f"Instance {SERVER_ID} could not be found.")
    )
    unknown = client.post(ACTION, json={"action": "add_floating_ip"})

    assert no_port.status_code == 400
    assert (unknown.status_code, unknown.json["code"]) == (404, "not_found")
    assert changes(cloud) == []


@pytest.mark.parametrize("release", [False, True])
def test_remove_floating_ip_detaches_or_releases(client, cloud, port, release):
    attached = make_fake_floating_ip(FIP_ID, port=port)
    cloud.neutron("GET", "/floatingips", body={"floatingips": [attached]})
    cloud.neutron("PUT", f"/floatingips/{FIP_ID}", body={"floatingip": make_fake_floating_ip(FIP_ID)})
    cloud.neutron("DELETE", f"/floatingips/{FIP_ID}", status=204)

    response = client.post(ACTION, json={"action": "remove_floating_ip", "address": "172.24.4.228", "release": release})

    assert response.status_code == 202
    assert response.json["floating_ip"]["server_id"] is None and response.json["floating_ip"]["port_id"] is None
    if release:
        assert changes(cloud) == [f"DELETE {FIPS}/{FIP_ID}"]
    else:
        assert changes(cloud) == [f"PUT {FIPS}/{FIP_ID}"]
        assert cloud.history[-1].json() == {"floatingip": {"port_id": None}}


def test_remove_a_floating_ip_of_another_server_is_400_and_changes_nothing(client, cloud, port):
    elsewhere = make_fake_floating_ip(FIP_ID, port=make_fake_port(device_id="0b2f4e1c-5d6a-4b7c-8d9e-0f1a2b3c4d5e"))
    cloud.neutron("GET", "/floatingips", body={"floatingips": [elsewhere]})

    response = client.post(ACTION, json={"action": "remove_floating_ip", "address": "172.24.4.228"})

    assert response.status_code == 400 and response.json["errors"][0]["field"] == "address"
    assert changes(cloud) == []


# -- interfaces and the server's show ------------------------------------------------------------


def test_interfaces_list_the_servers_ports_with_group_and_network_names(client, cloud):
    web, default = make_fake_security_group(name="web"), make_fake_security_group(name="default")
    port = make_fake_port(groups=[default["id"], web["id"]])
    dhcp = make_fake_port(device_owner="network:dhcp")
    cloud.neutron("GET", "/ports", body={"ports": [port, dhcp]})
    cloud.neutron(
        "GET",
        "/security-groups",
        body={"security_groups": [{"id": g["id"], "name": g["name"]} for g in (web, default)]},
    )
    cloud.neutron("GET", "/networks", body={"networks": [{"id": NETWORK_ID, "name": "private"}]})

    response = client.get(f"/api/v1/server/{SERVER_ID}/interfaces")

    assert response.status_code == 200
    assert response.json == {
        "interfaces": [
            {
                "id": port["id"],
                "network": {"id": NETWORK_ID, "name": "private"},
                "mac_address": "fa:16:3e:4c:2c:30",
                "fixed_ips": [{"address": "10.0.0.12", "subnet_id": SUBNET_ID}],
                "status": "ACTIVE",
                "security_groups": [{"id": default["id"], "name": "default"}, {"id": web["id"], "name": "web"}],
                "is_port_security_enabled": True,
            }
        ]
    }
    ids = sorted([web["id"], default["id"]])
    assert [(r.path, r.qs) for r in cloud.history if r.hostname == "neutron.test" and r.path != "/v2.0"] == [
        ("/v2.0/ports", {"device_id": [SERVER_ID]}),
        ("/v2.0/security-groups", {"id": ids, "fields": ["id", "name"]}),
        ("/v2.0/networks", {"id": [NETWORK_ID], "fields": ["id", "name"]}),
    ]


def test_interfaces_of_an_unknown_server_are_404(client, cloud):
    cloud.neutron("GET", "/ports", body={"ports": []})
    cloud.nova("GET", f"/servers/{SERVER_ID}", status=404, body=nova_error(404, "Instance could not be found."))

    response = client.get(f"/api/v1/server/{SERVER_ID}/interfaces")

    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_the_show_lists_security_groups_once_each_and_floating_addresses(client, cloud):
    addresses = {
        "private": [
            {
                "version": 4,
                "addr": "10.0.0.12",
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:4c:2c:30",
            },
            {
                "version": 4,
                "addr": "172.24.4.228",
                "OS-EXT-IPS:type": "floating",
                "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:4c:2c:30",
            },
        ]
    }
    # Nova lists a group once per port: two ports here, one in `default`, the other in `default` and `web`.
    groups = [{"name": "default"}, {"name": "web"}, {"name": "default"}]
    server = make_fake_server(SERVER_ID, addresses=addresses, security_groups=groups)
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": server})
    default, web = make_fake_security_group(name="default"), make_fake_security_group(name="web")
    cloud.neutron(
        "GET",
        "/ports",
        body={"ports": [{"security_groups": [default["id"]]}, {"security_groups": [default["id"], web["id"]]}]},
    )
    cloud.neutron(
        "GET",
        "/security-groups",
        body={"security_groups": [{"id": web["id"], "name": "web"}, {"id": default["id"], "name": "default"}]},
    )

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.json["security_groups"] == [
        {"id": web["id"], "name": "web"},
        {"id": default["id"], "name": "default"},
    ]
    assert response.json["addresses"]["private"][1] == {
        "addr": "172.24.4.228",
        "version": 4,
        "type": "floating",
        "mac_addr": "fa:16:3e:4c:2c:30",
    }
    # the ids: the server's ports, then their groups (two Neutron calls; the list costs none)
    assert cloud.api_calls_by_show() == [
        f"GET {NOVA}/servers/{SERVER_ID}",
        f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",
        # the ids in sorted order, as the interfaces' lookup sends them (SecurityGroupService.names)
        "GET {}/v2.0/security-groups?id={}&id={}&fields=id&fields=name".format(
            NEUTRON, *sorted([default["id"], web["id"]])
        ),
    ]


def test_a_server_in_one_group_costs_one_neutron_call_for_its_id(client, cloud):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.json["security_groups"] == [{"id": DEFAULT_GROUP_ID, "name": "default"}]
    assert cloud.api_calls_by_show() == [
        f"GET {NOVA}/servers/{SERVER_ID}",
        f"GET {NEUTRON}/v2.0/ports?device_id={SERVER_ID}&fields=security_groups",
    ]


def test_neutron_failing_leaves_the_ids_null_and_the_show_answers(client, cloud, caplog):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID)})
    cloud.neutron("GET", "/ports", status=503, body=neutron_error("ServiceUnavailable", "Neutron is restarting"))

    response = client.get(f"/api/v1/server/{SERVER_ID}")

    assert response.status_code == 200
    assert response.json["security_groups"] == [{"id": None, "name": "default"}]
    assert "security group ids unavailable" in caplog.text


def test_a_list_names_the_groups_without_asking_neutron(client, cloud):
    cloud.nova("GET", "/servers/detail", body={"servers": [make_fake_server(SERVER_ID)]})
    cloud.glance("GET", "/images", body={"images": []})

    response = client.get("/api/v1/server")

    assert response.json["servers"][0]["security_groups"] == [{"id": None, "name": "default"}]
    assert [call for call in cloud.api_calls() if call.startswith(f"GET {NEUTRON}")] == []
