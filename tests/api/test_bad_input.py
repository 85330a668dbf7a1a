"""The bad-input corpus: every case answers a clear 4xx JSON error and changes nothing.

Each case goes through the Flask app and the real openstacksdk to a fake
OpenStack on the wire in which nothing exists but what a case asks for
(``PermissiveCloud(invent=False)``), and asserts three things: the status and
``code``, a JSON body with string ``code`` and ``message``, and that nothing
that changes anything (POST, PUT, PATCH, DELETE) went upstream. Cases the
fuzzer (test_fuzz.py) or this corpus found as bugs are marked "regression".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes import CINDER, KEYSTONE, SERVER_ID
from tests.permissive_cloud import PermissiveCloud

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# One valid body per endpoint that reads one; each case spoils it in one way.
BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create server": (
        "POST",
        "/api/v1/server",
        {"name": "web-1", "image": "cirros", "flavor": "m1.tiny", "network": "private"},
    ),
    "edit server": ("PATCH", f"/api/v1/server/{SERVER_ID}", {"name": "web-2", "description": "d"}),
    "snapshot server": ("POST", f"/api/v1/server/{SERVER_ID}/action", {"action": "snapshot", "name": "snap"}),
    "create keypair": ("POST", "/api/v1/keypair", {"name": "my-key"}),
    "create volume": ("POST", "/api/v1/volume", {"name": "data-1", "size": 1}),
    "edit volume": ("PATCH", "/api/v1/volume/data-1", {"name": "data-2", "description": "d"}),
}
MB = 1024 * 1024


@pytest.fixture
def nothing_exists(cloud):
    return PermissiveCloud(cloud, invent=False)


def assert_refused(response: Any, status: int, code: str | None, cloud: Any) -> dict[str, Any]:
    """The answer is `status` with a JSON error body, and nothing went upstream that changes anything."""
    assert response.status_code == status, response.get_data()[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["code"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["code"] == code, body
    changes = [f"{r.method} {r.url}" for r in cloud.history if r.method in MUTATING and not r.url.startswith(KEYSTONE)]
    assert changes == [], changes
    return body


class _WithoutDeletes:
    """A cloud's history without its DELETE requests (checked on their own)."""

    def __init__(self, cloud: Any) -> None:
        self.history = [r for r in cloud.history if r.method != "DELETE"]


def spoil(valid: dict[str, Any], **changes: Any) -> str:
    return json.dumps({**valid, **changes})


# -- bodies: not JSON, not an object, too big --------------------------------------------------

RAW_BODIES = {
    "empty": "",
    "whitespace only": "  \n ",
    "unquoted key": '{name: "web-1"}',
    "single quotes": "{'name': 'web-1'}",
    "trailing comma": '{"name": "web-1",}',
    "form-encoded": "name=web-1&image=cirros",
    "bare word": "nul",
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
    "NaN": '{"name": NaN}',
    "JSON null": "null",
    "JSON array": '[{"name": "web-1"}]',
    "JSON string": '"web-1"',
    "JSON number": "42",
    "JSON true": "true",
    # regression: Python's JSON parser raised RecursionError (a 500) past ~1,000 levels
    "nested 30,000 deep": "[" * 30000 + "]" * 30000,
}


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("case", RAW_BODIES)
def test_a_body_that_is_not_a_json_object_is_400(client, cloud, nothing_exists, endpoint, case):
    method, path, _ = BODIES[endpoint]

    response = client.open(path, method=method, data=RAW_BODIES[case], content_type="application/json")

    assert_refused(response, 400, "invalid_request", cloud)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("cut", [1, 2, 5], ids=["last byte", "half", "a fifth"])
def test_a_truncated_body_is_400(client, cloud, nothing_exists, endpoint, cut):
    method, path, valid = BODIES[endpoint]
    text = json.dumps(valid)
    text = text[: len(text) // cut] if cut > 1 else text[:-1]

    response = client.open(path, method=method, data=text, content_type="application/json")

    assert_refused(response, 400, "invalid_request", cloud)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("size", [64 * 1024 + 1, MB, 8 * MB], ids=["64 KiB + 1", "1 MB", "8 MB"])
def test_a_body_over_64_kib_is_413(client, cloud, nothing_exists, endpoint, size):
    method, path, valid = BODIES[endpoint]
    text = spoil(valid, padding="x" * size)

    response = client.open(path, method=method, data=text, content_type="application/json")

    body = assert_refused(response, 413, "request_entity_too_large", cloud)
    assert "64" in body["message"] or body["message"]  # the README documents the limit: 64 KiB


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize(
    "media_type",
    ["text/plain", "application/xml", "text/html", "multipart/form-data; boundary=x", "application/octet-stream"],
)
def test_a_body_that_is_not_json_by_its_content_type_is_415(client, cloud, nothing_exists, endpoint, media_type):
    method, path, valid = BODIES[endpoint]

    # A valid JSON body: the label alone decides.
    response = client.open(path, method=method, data=json.dumps(valid), content_type=media_type)

    body = assert_refused(response, 415, "unsupported_media_type", cloud)
    assert "application/json" in body["accepted"]
    assert media_type.split(";")[0] in body["message"]


# -- fields: wrong types, nulls, empty strings, long, control and non-ASCII characters, unknown ----

NAME_CASES: dict[str, Any] = {
    "a number": 42,
    "a list": ["web-1"],
    "an object": {"name": "web-1"},
    "a boolean": True,
    "null": None,
    "an empty string": "",
    "10,000 characters": "a" * 10000,
    "256 characters": "a" * 256,
    "a NUL byte": "web\x00-1",
    "a newline": "web\n-1",
    "a tab": "web\t1",
    "an escape sequence": "\x1b[31mred",
    "a right-to-left override": "web-\u202e1",
    "an emoji (beyond the BMP)": "web-\U0001f680",
    "leading spaces": "  web-1",
    "trailing spaces": "web-1  ",
}


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("case", NAME_CASES)
def test_a_bad_name_is_400_naming_it(client, cloud, nothing_exists, endpoint, case):
    method, path, valid = BODIES[endpoint]

    response = client.open(
        path, method=method, data=spoil(valid, name=NAME_CASES[case]), content_type="application/json"
    )

    body = assert_refused(response, 400, "invalid_request", cloud)
    assert "name" in [error["field"] for error in body["errors"]], body


@pytest.mark.parametrize("name", ["clé", "ключ", "鍵", "key.pub", "me@laptop", "a/b", "..", "%2e%2e"])
def test_a_keypair_name_outside_novas_characters_is_400(client, cloud, nothing_exists, name):
    # Nova 2.79 allows letters, digits, spaces, "-" and "_" in keypair names: ASCII only.
    response = client.post("/api/v1/keypair", json={"name": name})

    body = assert_refused(response, 400, "invalid_request", cloud)
    assert [error["field"] for error in body["errors"]] == ["name"]


FIELD_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "create: image a number": ("create server", {"image": 1}),
    "create: image null": ("create server", {"image": None}),
    "create: image empty": ("create server", {"image": ""}),
    "create: image and image_id": ("create server", {"image_id": "8c6b7d4e-0f5e-4a8e-9a55-2d1b1f0f3a21"}),
    "create: metadata a list": ("create server", {"metadata": ["a"]}),
    "create: metadata value a number": ("create server", {"metadata": {"a": 1}}),
    "create: metadata value null": ("create server", {"metadata": {"a": None}}),
    "create: security_groups a string": ("create server", {"security_groups": "default"}),
    "create: security_groups holding null": ("create server", {"security_groups": [None]}),
    "create: user_data over 48 KiB": ("create server", {"user_data": "x" * 49153}),
    "create: description a control character": ("create server", {"description": "a\x07b"}),
    "create: unknown field": ("create server", {"colour": "blue"}),
    "edit: metadata null": ("edit server", {"metadata": None}),
    "edit: metadata key with a slash": ("edit server", {"metadata": {"a/b": "c"}}),
    "edit: tags a string": ("edit server", {"tags": "prod"}),
    "edit: tag with a comma": ("edit server", {"tags": ["a,b"]}),
    "edit: 51 tags": ("edit server", {"tags": [f"t{i}" for i in range(51)]}),
    "edit: description null": ("edit server", {"description": None}),
    "edit: unknown field": ("edit server", {"colour": "blue"}),
    "action: unknown action": ("snapshot server", {"action": "explode"}),
    "action: action null": ("snapshot server", {"action": None}),
    "action: action empty": ("snapshot server", {"action": ""}),
    "action: action a number": ("snapshot server", {"action": 1}),
    "action: reboot type on a snapshot": ("snapshot server", {"type": "hard"}),
    "action: unknown field": ("snapshot server", {"force": True}),
    "keypair: type unknown": ("create keypair", {"type": "rsa"}),
    "keypair: type null": ("create keypair", {"type": None}),
    "keypair: public_key empty": ("create keypair", {"public_key": ""}),
    "keypair: public_key a number": ("create keypair", {"public_key": 1}),
    "keypair: unknown field": ("create keypair", {"private_key": "x"}),
    "volume: size 0": ("create volume", {"size": 0}),
    "volume: size a string": ("create volume", {"size": "1"}),
    "volume: size a fraction": ("create volume", {"size": 1.5}),
    "volume: size over Cinder's integer": ("create volume", {"size": 2**31}),
    "volume: size null": ("create volume", {"size": None}),
    "volume: image empty": ("create volume", {"image": ""}),
    "volume: volume_type empty": ("create volume", {"volume_type": ""}),
    "volume: description a control character": ("create volume", {"description": "a\x07b"}),
    "volume: unknown field": ("create volume", {"metadata": {}}),
    "volume edit: size": ("edit volume", {"size": 2}),
    "volume edit: description null": ("edit volume", {"description": None}),
    "action: attach_volume without volume": ("snapshot server", {"action": "attach_volume", "name": None}),
    "action: volume on a snapshot": ("snapshot server", {"volume": "data-1"}),
    "create: boot_volume_size 0": ("create server", {"boot_volume_size": 0}),
    "create: boot_volume and an image": ("create server", {"boot_volume": "disk"}),
    "create: delete_on_termination alone": ("create server", {"delete_on_termination": True}),
}


@pytest.mark.parametrize("case", FIELD_CASES)
def test_a_bad_field_is_400(client, cloud, nothing_exists, case):
    endpoint, changes = FIELD_CASES[case]
    method, path, valid = BODIES[endpoint]

    response = client.open(path, method=method, data=spoil(valid, **changes), content_type="application/json")

    body = assert_refused(response, 400, "invalid_request", cloud)
    assert body["errors"], body


def test_a_server_list_filtered_by_an_ambiguous_image_name_is_a_documented_409(client, cloud):
    # regression (found by the fuzzer): the 409 was answered but not in the spec
    permissive = PermissiveCloud(cloud)
    name = next(f"img-{i}" for i in range(100) if permissive.matches(f"img-{i}") == 2)  # two images bear it

    response = client.get(f"/api/v1/server?image={name}")

    assert_refused(response, 409, "ambiguous_name", cloud)
    assert "409" in client.get("/swagger.json").json["paths"]["/api/v1/server"]["get"]["responses"]


def test_an_edit_with_nothing_to_change_is_400(client, cloud, nothing_exists):
    assert_refused(client.patch(f"/api/v1/server/{SERVER_ID}", json={}), 400, "invalid_request", cloud)


def test_a_non_ascii_server_name_nova_accepts_is_sent(client, cloud, nothing_exists):
    # The other side of the corpus: printable non-ASCII names are valid in Nova, and must not be refused.
    response = client.post(
        "/api/v1/server",
        json={"name": "wébserveur-ключ-鍵", "image": "cirros", "flavor": "m1.tiny", "network": "private"},
    )

    assert response.status_code == 201, response.json
    assert response.json["name"] == "wébserveur-ключ-鍵"


# -- query strings: limits, ranges, unknown parameters ---------------------------------------------

LISTS = ["/api/v1/server", "/api/v1/image", "/api/v1/flavor", "/api/v1/network"]
BAD_LIMITS = ["1001", "1000000", "99999999999999999999999999", "1e3", "0", "-1", "-0", "1.5", "abc", "", "%00", "１０"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_a_limit_outside_1_to_1000_is_400(client, cloud, nothing_exists, path, limit):
    response = client.get(f"{path}?limit={limit}")

    body = assert_refused(response, 400, "invalid_request", cloud)
    assert [error["field"] for error in body["errors"]] == ["limit"]
    assert cloud.api_calls() == []  # not even a read


@pytest.mark.parametrize("lines", ["0", "-1", "10001", "99999999999999999999", "abc", "", "²", "1e3"])
def test_console_log_lines_outside_1_to_10000_is_400(client, cloud, nothing_exists, lines):
    response = client.get(f"/api/v1/server/{SERVER_ID}/console-log?lines={lines}")

    assert_refused(response, 400, "invalid_request", cloud)
    assert cloud.api_calls() == []


@pytest.mark.parametrize("query", ["timeout=0", "timeout=301", "timeout=-5", "wait=maybe", "dry_run=2"])
def test_a_bad_create_option_is_400_and_creates_nothing(client, cloud, nothing_exists, query):
    _, path, valid = BODIES["create server"]

    response = client.post(f"{path}?{query}", json=valid)

    assert_refused(response, 400, "invalid_request", cloud)


@pytest.mark.parametrize(
    "query", ["status=RUNNING", "status=%00", "sort=password", "sort=-", "sort=..%2F", "fields=password"]
)
def test_a_bad_server_list_filter_is_400(client, cloud, nothing_exists, query):
    assert_refused(client.get(f"/api/v1/server?{query}"), 400, "invalid_request", cloud)


# Every /api/v1 operation: (method, path, JSON body or None).
OPERATIONS = [
    ("GET", "/api/v1/server", None),
    ("POST", "/api/v1/server", BODIES["create server"][2]),
    ("GET", f"/api/v1/server/{SERVER_ID}", None),
    ("PATCH", f"/api/v1/server/{SERVER_ID}", BODIES["edit server"][2]),
    ("DELETE", f"/api/v1/server/{SERVER_ID}", None),
    ("POST", f"/api/v1/server/{SERVER_ID}/action", {"action": "stop"}),
    ("GET", f"/api/v1/server/{SERVER_ID}/console-log", None),
    ("GET", f"/api/v1/server/{SERVER_ID}/console", None),
    ("GET", "/api/v1/image", None),
    ("GET", "/api/v1/image/cirros", None),
    ("GET", "/api/v1/flavor", None),
    ("GET", "/api/v1/flavor/m1.tiny", None),
    ("GET", "/api/v1/network", None),
    ("GET", "/api/v1/network/private", None),
    ("GET", "/api/v1/keypair", None),
    ("POST", "/api/v1/keypair", {"name": "my-key"}),
    ("GET", "/api/v1/keypair/my-key", None),
    ("DELETE", "/api/v1/keypair/my-key", None),
    ("GET", "/api/v1/limits", None),
    ("GET", "/api/v1/volume", None),
    ("POST", "/api/v1/volume", BODIES["create volume"][2]),
    ("GET", "/api/v1/volume/data-1", None),
    ("PATCH", "/api/v1/volume/data-1", BODIES["edit volume"][2]),
    ("DELETE", "/api/v1/volume/data-1", None),
    ("POST", f"/api/v1/server/{SERVER_ID}/action", {"action": "attach_volume", "volume": "data-1"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_a_url_over_4_kib_is_414(client, cloud, nothing_exists, method, path, body):
    # regression (found on the real cloud): gunicorn answered a long request line with its own HTML 414
    response = client.open(path, method=method, query_string={"name": "x" * 4096}, json=body)

    assert_refused(response, 414, "uri_too_long", cloud)
    assert cloud.api_calls() == []


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
@pytest.mark.parametrize("unknown", ["force", "dryrun", "staus", "limit[]", "ünknown"])
def test_an_unknown_query_parameter_is_400_naming_the_accepted_ones(
    client, cloud, nothing_exists, method, path, body, unknown
):
    response = client.open(path, method=method, query_string={unknown: "1"}, json=body)

    answer = assert_refused(response, 400, "invalid_request", cloud)
    assert answer["errors"][0]["field"] == unknown
    assert "known:" in answer["message"]
    assert cloud.api_calls() == []  # refused before anything is asked of OpenStack


# -- ids in paths: traversal, encodings, control and non-ASCII characters --------------------------

EVIL_IDS = {
    "dot-dot": "..",
    "dot": ".",
    "encoded dot-dot": "%2e%2e",
    "encoded traversal": "..%2F..%2Fflavors",
    "double-encoded traversal": "%252e%252e%252fflavors",
    "backslash traversal": "..%5C..%5Cflavors",
    "NUL byte": "a%00b",
    "CRLF header injection": "x%0d%0aSet-Cookie:%20a=b",
    "query in the id": "x%3Fall_tenants%3D1",
    "fragment in the id": "x%23y",
    "right-to-left override": "%E2%80%AE",
    "emoji": "%F0%9F%9A%80",
    "invalid UTF-8": "%FF%FE",
    "10,000 characters": "a" * 10000,
}
# Printable once decoded: a keypair of another microversion may bear such a name.
PRINTABLE_NAMES = {
    "double-encoded traversal",
    "backslash traversal",
    "query in the id",
    "fragment in the id",
    "invalid UTF-8",
}
ID_OPERATIONS = [
    ("GET", "/api/v1/server/{}"),
    ("DELETE", "/api/v1/server/{}"),
    ("PATCH", "/api/v1/server/{}"),
    ("POST", "/api/v1/server/{}/action"),
    ("GET", "/api/v1/server/{}/console-log"),
    ("GET", "/api/v1/server/{}/console"),
    ("GET", "/api/v1/image/{}"),
    ("GET", "/api/v1/flavor/{}"),
    ("GET", "/api/v1/network/{}"),
    ("GET", "/api/v1/keypair/{}"),
    ("DELETE", "/api/v1/keypair/{}"),
    ("GET", "/api/v1/volume/{}"),
    ("PATCH", "/api/v1/volume/{}"),
    ("DELETE", "/api/v1/volume/{}"),
]
ID_BODIES = {"PATCH": {"name": "web-2"}, "POST": {"action": "stop"}}


@pytest.mark.parametrize(("method", "template"), ID_OPERATIONS, ids=[f"{m} {t}" for m, t in ID_OPERATIONS])
@pytest.mark.parametrize("case", EVIL_IDS)
def test_a_strange_id_finds_nothing_and_leaves_its_path(client, cloud, nothing_exists, method, template, case):
    response = client.open(template.format(EVIL_IDS[case]), method=method, json=ID_BODIES.get(method))

    # 404 (no such resource, or no such URL when the id decodes to a "/"), 400 for a body rule, 414 too long
    assert response.status_code in (400, 404, 414), response.get_data()[:300]
    if method == "DELETE" and "keypair" in template and case in PRINTABLE_NAMES:
        # A name some microversion allows (2.0-2.9 took any printable one): only Nova knows
        # whether it exists, so the DELETE is sent, as one quoted path segment, and Nova says 404.
        deletes = cloud.sent("DELETE")
        assert len(deletes) == 1 and "/" not in deletes[0].split("/os-keypairs/", 1)[1], deletes
        assert_refused(response, 404, "not_found", _WithoutDeletes(cloud))
    else:
        assert_refused(response, response.status_code, None, cloud)
    # regression: "." and ".." were sent as path segments, and HTTP clients resolve those
    # (DELETE /api/v1/keypair/.. went out as DELETE /v2.1/).
    service_roots = {"http://nova.test/v2.1/", "http://glance.test/v2/", "http://neutron.test/v2.0/", f"{CINDER}/"}
    for sent in cloud.api_calls():
        url = sent.split(" ", 1)[1]
        assert any(url.startswith(root) and len(url) > len(root) for root in service_roots), sent
        assert "/../" not in url and not url.endswith("/..") and "/./" not in url, sent
