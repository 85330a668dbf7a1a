import pytest

from tests.fakes import GLANCE, make_fake_image

LIST_BODY = {"first": "/v2/images", "schema": "/v2/schemas/images"}


def test_list_images(client, cloud):
    images = [make_fake_image(name="cirros"), make_fake_image(name="debian-12")]
    cloud.glance("GET", "/images", body={"images": images, **LIST_BODY})

    response = client.get("/api/v1/image")

    assert response.status_code == 200
    assert [i["name"] for i in response.json["images"]] == ["cirros", "debian-12"]
    assert response.json["images"][0] == {
        "id": images[0]["id"],
        "name": "cirros",
        "status": "active",
        "size": 21430272,
        "disk_format": "qcow2",
        "container_format": "bare",
        "visibility": "public",
        "min_disk": 0,
        "min_ram": 0,
        "checksum": "c8fc807773e5354afe61636071771906",
        "owner": images[0]["owner"],
        "protected": False,
        "created_at": "2026-11-02T09:14:03Z",
        "updated_at": "2026-11-02T09:14:05Z",
    }
    assert response.json["next_marker"] is None
    assert cloud.api_calls() == [f"GET {GLANCE}/v2/images?limit=101"]


def test_list_images_pages_in_one_call_each(client, cloud):
    images = [make_fake_image(name=f"img-{n}") for n in range(3)]
    cloud.glance("GET", "/images", body={"images": images, "next": "/v2/images?marker=x", **LIST_BODY})

    response = client.get("/api/v1/image/?limit=2&marker=abc")

    assert [i["name"] for i in response.json["images"]] == ["img-0", "img-1"]
    assert response.json["next_marker"] == images[1]["id"]
    assert cloud.api_calls() == [f"GET {GLANCE}/v2/images?limit=3&marker=abc"]


def test_list_images_filters_and_sorts(client, cloud):
    cloud.glance("GET", "/images", body={"images": [], **LIST_BODY})

    response = client.get("/api/v1/image?name=cirros&status=active&visibility=public&sort=-created_at")

    assert response.status_code == 200
    assert cloud.history[-1].qs == {
        "name": ["eq:cirros"],  # Glance reads a bare "a:b" as an operator filter
        "status": ["eq:active"],
        "visibility": ["public"],
        "sort": ["created_at:desc"],
        "limit": ["101"],
    }


def test_list_images_when_glance_caps_the_page_uses_its_next_hint(client, cloud):
    images = [make_fake_image(name=f"img-{n}") for n in range(2)]
    cloud.glance("GET", "/images", body={"images": images, "next": "/v2/images?marker=x", **LIST_BODY})

    response = client.get("/api/v1/image?limit=5")

    assert response.json["next_marker"] == images[-1]["id"]


def test_show_image_by_id(client, cloud):
    image = make_fake_image(name="cirros")
    cloud.glance("GET", f"/images/{image['id']}", body=image)

    response = client.get(f"/api/v1/image/{image['id']}")

    assert response.status_code == 200
    assert response.json["id"] == image["id"]
    assert response.json["name"] == "cirros"
    assert cloud.api_calls() == [f"GET {GLANCE}/v2/images/{image['id']}"]


def test_show_image_by_name_makes_one_call(client, cloud):
    image = make_fake_image(name="cirros")
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": [image], **LIST_BODY}, complete_qs=True)

    response = client.get("/api/v1/image/cirros")

    assert response.status_code == 200
    assert response.json["id"] == image["id"]
    assert cloud.api_calls() == [f"GET {GLANCE}/v2/images?name=eq%3Acirros"]


def test_show_image_by_uuid_shaped_name_tries_id_then_name(client, cloud):
    ref = "0b7e3c2a-9a7d-4f0e-8d7b-3a1c5e6f7a8b"
    image = make_fake_image(name=ref)
    cloud.glance_missing(ref)
    cloud.glance("GET", f"/images?name=eq:{ref}", body={"images": [image], **LIST_BODY}, complete_qs=True)

    response = client.get(f"/api/v1/image/{ref}")

    assert response.status_code == 200
    assert response.json["id"] == image["id"]


@pytest.mark.parametrize("ref", ["nope", "6a1e3d1c-6a11-4d0b-8a7e-1f6b1b9c3a55"])
def test_show_missing_image_is_404(client, cloud, ref):
    cloud.glance_missing(ref)
    cloud.glance("GET", f"/images?name=eq:{ref}", body={"images": [], **LIST_BODY})

    response = client.get(f"/api/v1/image/{ref}")

    assert response.status_code == 404
    assert response.json == {
        "code": "not_found",
        "message": f"No image with the id or name '{ref}'.",
        "request_id": response.headers["X-Request-Id"],
    }


def test_show_image_by_ambiguous_name_is_409_with_candidates(client, cloud):
    images = [make_fake_image(name="cirros"), make_fake_image(name="cirros")]
    cloud.glance("GET", "/images?name=eq:cirros", body={"images": images, **LIST_BODY})

    response = client.get("/api/v1/image/cirros")

    assert response.status_code == 409
    assert response.json["code"] == "ambiguous_name"
    assert response.json["candidates"] == [{"id": i["id"], "name": "cirros"} for i in images]
    assert "2 images are named 'cirros'" in response.json["message"]
