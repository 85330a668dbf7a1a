"""The server list answers shape_server's dicts without restx's marshal: they must be exactly the Server model."""

import pytest
from flask_restx import marshal

from devstack_client.api.servers import server as server_model
from devstack_client.services.compute import shape_server
from tests.fakes import DEFAULT_GROUP_ID, make_fake_server, make_fake_server_in

WIRE_SERVERS = {
    "active": make_fake_server(key_name="my-key", metadata={"role": "web"}, tags=["prod"], description="Front"),
    "error with a fault": make_fake_server(status="ERROR"),
    "building, no address yet": make_fake_server(status="BUILD"),
    "booted from a volume": make_fake_server(image_id=None),
    "shut off": make_fake_server_in("SHUTOFF", task_state="powering-on"),
    "down cell (2.69 partial)": {"id": "0b2f4e1c-5d6a-4b7c-8d9e-0f1a2b3c4d5e", "status": "UNKNOWN", "tenant_id": "p"},
}


@pytest.mark.parametrize("wire", WIRE_SERVERS.values(), ids=WIRE_SERVERS.keys())
@pytest.mark.parametrize("image_name", ["cirros", None])
def test_shape_server_is_exactly_what_the_server_model_marshals(wire, image_name):
    shaped = shape_server(wire)
    if shaped["image"]:
        shaped["image"]["name"] = image_name  # the list's join adds it

    assert list(shaped) == list(server_model)
    assert marshal(shaped, server_model) == shaped


def test_the_list_answers_the_marshalled_servers(client, cloud):
    servers = [make_fake_server(name="web-1"), make_fake_server(name="web-2", status="ERROR", image_id=None)]
    cloud.nova("GET", "/servers/detail", body={"servers": servers})
    cloud.glance("GET", "/images", body={"images": []})

    response = client.get("/api/v1/server")

    assert response.status_code == 200
    expected = [shape_server(s) for s in servers]
    expected[0]["image"]["name"] = None  # Glance no longer knows the image
    assert response.json["servers"] == [marshal(s, server_model) for s in expected]


@pytest.mark.parametrize("wire", WIRE_SERVERS.values(), ids=WIRE_SERVERS.keys())
def test_the_show_answers_the_marshalled_server_in_the_models_order(client, cloud, wire):
    cloud.nova("GET", f"/servers/{wire['id']}", body={"server": wire})

    response = client.get(f"/api/v1/server/{wire['id']}")

    assert response.status_code == 200
    shaped = shape_server(wire)
    # a show adds the groups' ids (Neutron: tests/api/test_server_network.py)
    shaped["security_groups"] = [{**group, "id": DEFAULT_GROUP_ID} for group in shaped["security_groups"]]
    marshalled = marshal(shaped, server_model)
    assert response.json == marshalled and list(response.json) == list(server_model)
