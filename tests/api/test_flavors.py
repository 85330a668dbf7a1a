from tests.fakes import NOVA, make_fake_flavor, nova_error

FLAVORS = [make_fake_flavor("1", "m1.tiny"), make_fake_flavor("2", "m1.small", ram=2048, vcpus=1, disk=20, swap="")]


def test_list_flavors(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": FLAVORS})

    response = client.get("/api/v1/flavor")

    assert response.status_code == 200
    assert response.json["flavors"] == [
        {
            "id": "1",
            "name": "m1.tiny",
            "vcpus": 1,
            "ram": 512,
            "disk": 1,
            "ephemeral": 0,
            "swap": 0,
            "is_public": True,
            "description": None,
        },
        {
            "id": "2",
            "name": "m1.small",
            "vcpus": 1,
            "ram": 2048,
            "disk": 20,
            "ephemeral": 0,
            "swap": 0,  # Nova < 2.75 sends "" for no swap
            "is_public": True,
            "description": None,
        },
    ]
    assert response.json["next_marker"] is None
    assert cloud.api_calls() == [f"GET {NOVA}/flavors/detail?limit=101"]
    assert cloud.history[-1].headers["OpenStack-API-Version"] == "compute 2.79"


def test_list_flavors_filters_sorts_and_pages(client, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": FLAVORS})

    response = client.get("/api/v1/flavor?limit=1&marker=0&min_ram=256&min_disk=1&sort=-ram")

    assert [f["id"] for f in response.json["flavors"]] == ["1"]
    assert response.json["next_marker"] == "1"
    assert cloud.history[-1].qs == {
        "limit": ["2"],
        "marker": ["0"],
        "minram": ["256"],
        "mindisk": ["1"],
        "sort_key": ["memory_mb"],
        "sort_dir": ["desc"],
    }


def test_list_flavors_refuses_bad_queries(client, cloud):
    response = client.get("/api/v1/flavor?min_ram=-1&sort=price")

    assert response.status_code == 400
    assert response.json["code"] == "invalid_request"
    assert sorted(e["field"] for e in response.json["errors"]) == ["min_ram", "sort"]
    assert cloud.api_calls() == []


def test_list_flavors_refuses_unknown_parameters_first(client, cloud):
    # Unknown names are refused before any value is read: a misspelt name is the likelier mistake.
    response = client.get("/api/v1/flavor?min_ram=-1&color=red")

    assert response.status_code == 400
    assert [e["field"] for e in response.json["errors"]] == ["color"]
    assert "known: limit, marker, min_disk, min_ram, sort" in response.json["message"]
    assert cloud.api_calls() == []


def test_show_flavor_by_id(client, cloud):
    cloud.nova("GET", "/flavors/2", body={"flavor": FLAVORS[1]})

    response = client.get("/api/v1/flavor/2")

    assert response.status_code == 200
    assert response.json["name"] == "m1.small"
    assert cloud.api_calls() == [f"GET {NOVA}/flavors/2"]


def test_show_flavor_by_name(client, cloud):
    cloud.nova("GET", "/flavors/m1.small", status=404, body=nova_error(404, "Flavor m1.small could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": FLAVORS})

    response = client.get("/api/v1/flavor/m1.small")

    assert response.status_code == 200
    assert response.json["id"] == "2"
    assert cloud.api_calls() == [f"GET {NOVA}/flavors/m1.small", f"GET {NOVA}/flavors/detail?limit=1000"]


def test_flavor_ref_is_escaped_in_the_upstream_path(client, cloud):
    cloud.nova("GET", "/flavors/a%20b%3Fc", status=404, body=nova_error(404, "Flavor a b?c could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": FLAVORS})

    response = client.get("/api/v1/flavor/a%20b%3Fc")

    assert response.status_code == 404
    assert response.json["message"] == "No flavor with the id or name 'a b?c'."
    assert cloud.api_calls()[0] == f"GET {NOVA}/flavors/a%20b%3Fc"


def test_missing_flavor_is_404(client, cloud):
    cloud.nova("GET", "/flavors/nope", status=404, body=nova_error(404, "Flavor nope could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": FLAVORS})

    response = client.get("/api/v1/flavor/nope")

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_ambiguous_flavor_name_is_409(client, cloud):
    twins = [make_fake_flavor("10", "big"), make_fake_flavor("11", "big")]
    cloud.nova("GET", "/flavors/big", status=404, body=nova_error(404, "Flavor big could not be found."))
    cloud.nova("GET", "/flavors/detail", body={"flavors": twins})

    response = client.get("/api/v1/flavor/big")

    assert response.status_code == 409
    assert response.json["candidates"] == [{"id": "10", "name": "big"}, {"id": "11", "name": "big"}]
