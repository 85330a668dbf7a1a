from tests.fakes import NEUTRON, make_fake_network, neutron_error


def test_list_networks(client, cloud):
    networks = [make_fake_network(name="private"), make_fake_network(name="public", **{"router:external": True})]
    cloud.neutron("GET", "/networks", body={"networks": networks})

    response = client.get("/api/v1/network")

    assert response.status_code == 200
    assert response.json["networks"][1] == {
        "id": networks[1]["id"],
        "name": "public",
        "status": "ACTIVE",
        "subnets": ["0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"],
        "is_shared": False,
        "is_router_external": True,
        "is_admin_state_up": True,
        "mtu": 1450,
        "project_id": networks[1]["project_id"],
        "description": "",
        "created_at": "2026-11-02T09:10:00Z",
    }
    assert cloud.api_calls() == [f"GET {NEUTRON}/v2.0/networks?limit=101"]


def test_list_networks_filters_sorts_and_pages(client, cloud):
    first = make_fake_network(name="a")
    internal = {"rel": "next", "href": f"http://neutron.internal:9696/v2.0/networks?marker={first['id']}"}
    cloud.neutron("GET", "/networks", body={"networks": [first], "networks_links": [internal]})

    response = client.get("/api/v1/network?limit=3&marker=m&name=a&status=ACTIVE&is_shared=false&sort=-name")

    assert [n["name"] for n in response.json["networks"]] == ["a"]
    assert response.json["next_marker"] == first["id"]
    assert "neutron.internal" not in response.get_data(as_text=True)
    assert cloud.history[-1].qs == {
        "limit": ["4"],
        "marker": ["m"],
        "name": ["a"],
        "status": ["active"],
        "shared": ["false"],
        "sort_key": ["name"],
        "sort_dir": ["desc"],
    }


def test_an_unknown_marker_is_a_400_naming_it(client, cloud):
    ref = "6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55"
    message = f"Network {ref} could not be found."
    cloud.neutron("GET", "/networks", status=404, body=neutron_error("NetworkNotFound", message))

    response = client.get(f"/api/v1/network?marker={ref}")

    assert response.status_code == 400
    assert response.json["errors"] == [
        {"field": "marker", "message": f"marker: no network '{ref}' to start after ({message})"}
    ]
    assert cloud.api_calls() == [f"GET {NEUTRON}/v2.0/networks?limit=101&marker={ref}"]


def test_show_network_by_id(client, cloud):
    network = make_fake_network()
    cloud.neutron("GET", f"/networks/{network['id']}", body={"network": network})

    response = client.get(f"/api/v1/network/{network['id']}")

    assert response.status_code == 200
    assert response.json["id"] == network["id"]


def test_show_network_by_name(client, cloud):
    network = make_fake_network(name="private")
    cloud.neutron("GET", "/networks?name=private", body={"networks": [network]}, complete_qs=True)

    response = client.get("/api/v1/network/private")

    assert response.status_code == 200
    assert response.json["id"] == network["id"]
    assert cloud.api_calls() == [f"GET {NEUTRON}/v2.0/networks?name=private"]


def test_missing_network_is_404(client, cloud):
    ref = "6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55"
    cloud.neutron(
        "GET",
        f"/networks/{ref}",
        status=404,
        body=neutron_error("NetworkNotFound", f"Network {ref} could not be found."),
    )
    cloud.neutron("GET", f"/networks?name={ref}", body={"networks": []})

    response = client.get(f"/api/v1/network/{ref}")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_ambiguous_network_name_is_409(client, cloud):
    twins = [make_fake_network(name="net"), make_fake_network(name="net")]
    cloud.neutron("GET", "/networks?name=net", body={"networks": twins})

    response = client.get("/api/v1/network/net")

    assert response.status_code == 409
    assert {c["id"] for c in response.json["candidates"]} == {n["id"] for n in twins}
