"""The flavor list and show answer shape_flavor's dicts without restx's marshal: they must be exactly the model."""

import pytest
from flask_restx import marshal

from devstack_client.api.flavors import flavor as flavor_model
from devstack_client.services.compute import shape_flavor
from tests.fakes import make_fake_flavor

WIRE_FLAVORS = {
    "public": make_fake_flavor(),
    "before 2.75 (swap is an empty string)": make_fake_flavor("2", "m1.small", swap=""),
    "private, described (2.55)": make_fake_flavor(
        "d1", "gpu.large", **{"os-flavor-access:is_public": False}, description="With a GPU", swap=1024
    ),
    "free-form id, extra specs (2.61)": make_fake_flavor("m1.nano", "m1.nano", extra_specs={"hw:cpu_policy": "shared"}),
    "without the extension fields": {"id": "3", "name": "bare", "ram": 64, "disk": 0, "vcpus": 1, "swap": 0},
}


@pytest.mark.parametrize("wire", WIRE_FLAVORS.values(), ids=WIRE_FLAVORS.keys())
def test_shape_flavor_is_exactly_what_the_flavor_model_marshals(wire):
    shaped = shape_flavor(wire)

    assert list(shaped) == list(flavor_model)
    assert marshal(shaped, flavor_model) == shaped


def test_the_list_answers_the_marshalled_flavors_in_the_models_order(client, cloud):
    wire = list(WIRE_FLAVORS.values())
    cloud.nova("GET", "/flavors/detail", body={"flavors": wire})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 200
    assert response.json["flavors"] == [marshal(shape_flavor(f), flavor_model) for f in wire]
    assert all(list(item) == list(flavor_model) for item in response.json["flavors"])


@pytest.mark.parametrize("wire", WIRE_FLAVORS.values(), ids=WIRE_FLAVORS.keys())
def test_the_show_answers_the_marshalled_flavor_in_the_models_order(client, cloud, wire):
    cloud.nova("GET", f"/flavors/{wire['id']}", body={"flavor": wire})

    response = client.get(f"/api/v1/flavor/{wire['id']}")

    assert response.status_code == 200
    assert response.json == marshal(shape_flavor(wire), flavor_model)
    assert list(response.json) == list(flavor_model)
