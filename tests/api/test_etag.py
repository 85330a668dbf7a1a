"""The ETag is a function of the JSON content alone: the same in every process, release and upstream key order."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from flask_restx.representations import output_json as restx_output_json

from devstack_client.api.caching import canonical, etag
from devstack_client.api.representation import encode
from tests.fakes import NOVA, SERVER_ID, make_fake_server

TRICKY = {
    "non-ASCII": {"name": "café ☕ 😀", "ünïcode-key": "x"},
    "control characters": {"text": 'a\x00\x01\x1f\x7f\b\f\n\r\t"\\/'},
    "line separators and a BOM": {"text": "\u2028\u2029\ufeff"},
    "keys out of order, nested": {"b": {"z": 1, "a": [{"y": None, "x": True}]}, "a": [3, 2, 1]},
    "64-bit edges": {"max": 2**63 - 1, "min": -(2**63), "u64": 2**64 - 1},
    "beyond 64 bits": {"n": 2**70},
    "empty": {},
}


def stdlib_etag(document) -> str:
    """How the ETag was computed before orjson: the standard library's sorted, compact, UTF-8 JSON."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


@pytest.mark.parametrize("document", TRICKY.values(), ids=TRICKY.keys())
def test_the_etag_is_the_one_the_standard_library_gives(document):
    assert etag(document) == stdlib_etag(document)


def test_keys_that_are_not_strings_are_tagged_as_a_client_decodes_them():
    assert canonical({1: "a", "b": 2}) == b'{"1":"a","b":2}'


@pytest.mark.parametrize("document", TRICKY.values(), ids=TRICKY.keys())
def test_a_body_is_the_json_restx_would_answer(app, document):
    with app.test_request_context():
        restx_body = restx_output_json(document, 200).get_data()

    assert encode(document).endswith(b"\n")
    assert json.loads(encode(document)) == json.loads(restx_body) == document


def test_a_servers_etag_does_not_depend_on_the_order_nova_lists_its_metadata_in(client, cloud):
    orders = [{"a": "1", "b": "2"}, {"b": "2", "a": "1"}]
    cloud.mocker.get(
        f"{NOVA}/servers/{SERVER_ID}",
        [{"json": {"server": make_fake_server(SERVER_ID, metadata=metadata)}} for metadata in orders],
    )

    tags = [client.get(f"/api/v1/server/{SERVER_ID}").headers["ETag"] for _ in orders]

    assert tags[0] == tags[1]


def test_the_etag_is_the_one_a_fresh_process_computes_from_the_body(client, cloud):
    cloud.nova("GET", f"/servers/{SERVER_ID}", body={"server": make_fake_server(SERVER_ID, name="café ☕")})
    response = client.get(f"/api/v1/server/{SERVER_ID}")
    # Another process, another hash seed: the tag depends on the content only.
    code = "import json, sys; from devstack_client.api.caching import etag; print(etag(json.load(sys.stdin)))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    fresh = subprocess.run(
        [sys.executable, "-c", code], input=response.get_data(), capture_output=True, check=True, env=env
    )

    assert response.headers["ETag"] == fresh.stdout.decode().strip() == stdlib_etag(response.get_json())
