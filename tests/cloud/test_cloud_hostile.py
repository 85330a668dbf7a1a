"""Hostile values on the real cloud: every ref, query value and name field, through the gateway as a process.

A fake on the wire is kinder than the real services: PostgreSQL rejects a NUL byte (and Glance, Nova and
Neutron then answer 500), Glance reads ``name=a:b`` as an operator filter, Nova filters names by regular
expression. Every value below goes into every place a caller can put one; the gateway must answer a JSON 4xx
or a 2xx, never a 5xx of its own, and never forward what makes OpenStack answer 500. A NUL byte is a 400
naming the field. Names with filter syntax are found by exactly that name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.cloud.harness import RUN, Cloud, Gateway, Upstream, server_name, wait_for

HOSTILE = {
    "NUL": "a\x00b",
    "control": "a\x01b",
    "DEL": "a\x7fb",
    "newline": "a\nb",
    "colon (Glance operator)": "ubuntu:22.04",
    "in: operator": "in:x,y",
    "comma": "a,b",
    "star": "*",
    "percent": "50%",
    "backslash": "a\\b",
    "quotes": "a\"b'c",
    "outer spaces": " a ",
    "255+ characters": "x" * 300,
    "non-ASCII": "ünïcødé-名前",
    "right-to-left mark": "\u200fabc",
    "regex": "(unclosed[",
    "emoji": "🚀",
}
NOT_A_SERVER = str(uuid.uuid4())
ID_OPERATIONS = [
    ("GET", "/api/v1/server/{}", None),
    ("DELETE", "/api/v1/server/{}", None),
    ("PATCH", "/api/v1/server/{}", {"description": "d"}),
    ("POST", "/api/v1/server/{}/action", {"action": "stop"}),
    ("GET", "/api/v1/server/{}/console-log", None),
    ("GET", "/api/v1/server/{}/console", None),
    ("GET", "/api/v1/image/{}", None),
    ("GET", "/api/v1/flavor/{}", None),
    ("GET", "/api/v1/network/{}", None),
    ("GET", "/api/v1/keypair/{}", None),
    ("DELETE", "/api/v1/keypair/{}", None),
]
LIST_QUERIES = {
    "/api/v1/server": ["marker", "name", "name_like", "image", "flavor", "status", "sort", "fields", "limit"],
    "/api/v1/image": ["marker", "name", "status", "visibility", "sort", "limit"],
    "/api/v1/flavor": ["marker", "min_ram", "min_disk", "sort", "limit"],
    "/api/v1/network": ["marker", "name", "status", "is_shared", "sort", "limit"],
}


def verdict(resp: Any, where: str, value: str) -> str | None:
    """Why this answer is wrong, or None."""
    try:
        body = resp.json() if resp.content else {}
    except ValueError:
        return f"{where} {value!r}: {resp.status_code}, not JSON: {resp.text[:120]!r}"
    if resp.status_code >= 500 and resp.status_code != 501:
        return f"{where} {value!r}: {resp.status_code} {body}"[:400]
    if isinstance(body, dict) and body.get("upstream_status") == 500:
        return f"{where} {value!r}: OpenStack answered 500 to what we sent: {body}"[:400]
    if "\x00" in value and resp.status_code != 400:
        return f"{where} {value!r}: a NUL byte must be a 400, got {resp.status_code} {body}"[:400]
    if resp.status_code >= 400 and not (isinstance(body.get("code"), str) and isinstance(body.get("message"), str)):
        return f"{where} {value!r}: error without code and message: {body}"[:400]
    return None


@pytest.mark.parametrize(("method", "template", "body"), ID_OPERATIONS, ids=[f"{m} {t}" for m, t, _ in ID_OPERATIONS])
def test_hostile_refs_in_every_path(gateway: Gateway, method: str, template: str, body: dict | None) -> None:
    wrong = []
    for value in HOSTILE.values():
        resp = gateway.request(method, template.format(quote(value, safe="")), json=body)
        wrong.append(verdict(resp, f"{method} {template}", value))
    wrong = [w for w in wrong if w]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("path", "name"), [(p, n) for p, names in LIST_QUERIES.items() for n in names], ids=lambda x: x
)
def test_hostile_values_in_every_list_query(gateway: Gateway, path: str, name: str) -> None:
    wrong = []
    for value in HOSTILE.values():
        resp = gateway.get(path, params={name: value})
        wrong.append(verdict(resp, f"GET {path}?{name}=", value))
    wrong = [w for w in wrong if w]
    assert not wrong, "\n".join(wrong)


CREATE_FIELDS = ["name", "image", "flavor", "network", "key_name", "availability_zone", "description"]


@pytest.mark.parametrize("field", [*CREATE_FIELDS, "metadata", "security_groups"])
def test_hostile_values_in_every_create_field(gateway: Gateway, cloud_info: Cloud, field: str) -> None:
    # A dry run resolves every name and asks Nova for the name's twins, as a create does, and creates nothing.
    valid = {
        "name": server_name("hostile"),
        "image": cloud_info.image["name"],
        "flavor": cloud_info.flavor["name"],
        "network": cloud_info.networks["demo"]["name"],
    }
    wrong = []
    for value in HOSTILE.values():
        change = {"metadata": {"k": value}} if field == "metadata" else {field: value}
        if field == "security_groups":
            change = {field: [value]}
        resp = gateway.post("/api/v1/server", params={"dry_run": "true"}, json={**valid, **change})
        wrong.append(verdict(resp, f"POST /api/v1/server {field}=", value))
    wrong = [w for w in wrong if w]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("path", "body_of"),
    [
        (f"/api/v1/server/{NOT_A_SERVER}", lambda v: {"name": v}),
        (f"/api/v1/server/{NOT_A_SERVER}", lambda v: {"metadata": {v[:200]: "x"}}),
        (f"/api/v1/server/{NOT_A_SERVER}/action", lambda v: {"action": "snapshot", "name": v}),
        ("/api/v1/keypair", lambda v: {"name": v}),
    ],
    ids=["edit name", "edit metadata key", "snapshot name", "keypair name"],
)
def test_hostile_values_in_other_name_fields(gateway: Gateway, path: str, body_of: Any) -> None:
    method = "PATCH" if path.endswith(NOT_A_SERVER) else "POST"
    wrong = []
    for value in HOSTILE.values():
        resp = gateway.request(method, path, json=body_of(value))
        assert resp.status_code != 201, f"{path}: {value!r} created something: {resp.text}"
        wrong.append(verdict(resp, f"{method} {path}", value))
    wrong = [w for w in wrong if w]
    assert not wrong, "\n".join(wrong)


# -- names with filter syntax are found by exactly that name -----------------------------------------------------

GLANCE_NAMES = ["ubuntu:22.04", "in:x", "eq:y", "a,b", 'a"b', "a\\", "50%", "\u200fx", "a\x01b"]


@pytest.fixture(scope="module")
def odd_images(upstream: Any) -> Iterator[dict[str, str]]:
    """Images (4 KiB of zeros, active) named with Glance's filter syntax, in the demo project."""
    demo: Upstream = upstream("demo")
    images: dict[str, str] = {}
    try:
        for name in GLANCE_NAMES:
            full = f"dcgt-{RUN}-{name}"
            body = {"name": full, "disk_format": "raw", "container_format": "bare", "visibility": "private"}
            created = demo.request("image", "POST", "/v2/images", json=body)
            assert created.status_code == 201, created.text
            images[full] = created.json()["id"]
        first = images[f"dcgt-{RUN}-ubuntu:22.04"]
        upload = demo.request(
            "image",
            "PUT",
            f"/v2/images/{first}/file",
            data=b"\0" * 4096,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 204, upload.text
        wait_for(lambda: demo.get("image", f"/v2/images/{first}")["status"] == "active" or None, 60, "the image upload")
        yield images
    finally:
        for image_id in images.values():
            demo.request("image", "DELETE", f"/v2/images/{image_id}").close()


def test_images_are_found_by_names_with_filter_syntax(gateway: Gateway, odd_images: dict[str, str]) -> None:
    wrong = []
    for name, image_id in odd_images.items():
        shown = gateway.get("/api/v1/image/" + quote(name, safe=""))
        if shown.status_code != 200 or shown.json()["id"] != image_id:
            wrong.append(f"show {name!r}: {shown.status_code} {shown.text[:200]}")
        listed = gateway.get("/api/v1/image", params={"name": name})
        ids = [i["id"] for i in listed.json().get("images", [])] if listed.status_code == 200 else listed.text
        if ids != [image_id]:
            wrong.append(f"list name={name!r}: {listed.status_code} {ids}")
    assert not wrong, "\n".join(wrong)


def test_a_server_boots_from_an_image_named_with_a_colon(
    gateway: Gateway, cloud_info: Cloud, odd_images: dict[str, str], servers: Any
) -> None:
    name = f"dcgt-{RUN}-ubuntu:22.04"
    resp = servers.create(gateway, cloud_info, "colon-image", image=name, image_id=None)  # by name, not id

    assert resp.status_code == 201, resp.text
    assert resp.json()["image"]["id"] == odd_images[name]


def test_a_glance_message_arrives_as_plain_text(gateway: Gateway) -> None:
    # Glance's own 400 for an unknown marker, which it words "No image found with ID …<br /><br />".
    marker = str(uuid.uuid4())
    resp = gateway.get("/api/v1/image", params={"marker": marker})

    assert resp.status_code == 400, resp.text
    message = resp.json()["message"]
    assert marker in message and "<br" not in message and "&#" not in message and message == message.strip()
