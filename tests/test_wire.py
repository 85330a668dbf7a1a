"""The wire layer: each service's endpoint looked up once per token; answers decoded as requests decodes them."""

from __future__ import annotations

import copy
import json
import tracemalloc

import pytest
import requests

from devstack_client.appctx import get_connection
from devstack_client.services import ComputeService
from devstack_client.services._wire import ORJSON_MAX_BYTES, decode
from tests.fakes import CATALOG, KEYSTONE, NOVA, TOKEN, load_fixture, make_fake_flavor, make_fake_server

NOVA_ELSEWHERE = "http://nova-2.test/v2.1"


def list_flavors(app) -> None:
    with app.test_request_context():
        ComputeService(get_connection()).list_flavors(limit=10)


def test_calls_go_to_the_endpoint_of_the_catalog(app, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})

    list_flavors(app)
    list_flavors(app)

    # limit + 1: the one more tells whether a next page follows
    assert cloud.api_calls() == [f"GET {NOVA}/flavors/detail?limit=11"] * 2


def test_a_new_token_with_another_endpoint_is_followed(app, cloud):
    cloud.nova("GET", "/flavors/detail", body={"flavors": [make_fake_flavor()]})
    list_flavors(app)
    # Nova moved: the next token's catalog names its new endpoint.
    moved = cloud.make_token(catalog={**CATALOG, "compute": ("nova", NOVA_ELSEWHERE)})
    cloud.mocker.post(f"{KEYSTONE}/auth/tokens", status_code=201, json=moved, headers={"X-Subject-Token": TOKEN})
    version = copy.deepcopy(load_fixture("nova_version_v2.1.json"))
    version["version"]["links"][0]["href"] = f"{NOVA_ELSEWHERE}/"
    cloud.mocker.get(NOVA_ELSEWHERE, json=version)
    elsewhere = cloud.mocker.get(f"{NOVA_ELSEWHERE}/flavors/detail", json={"flavors": []})
    with app.test_request_context():
        get_connection().session.auth.invalidate()

    list_flavors(app)

    assert elsewhere.call_count == 1


BODIES = {
    "UTF-8": (b'{"name": "caf\xc3\xa9", "n": 1}', "application/json"),
    "escaped non-ASCII": (b'{"name": "caf\\u00e9 \\ud83d\\ude00"}', "application/json"),
    "a byte-order mark": (b'\xef\xbb\xbf{"a": 1}', "application/json"),
    "NaN": (b'{"a": NaN}', "application/json"),
    "a lone surrogate": (b'{"a": "\\ud800"}', "application/json"),
    "beyond 64 bits": (b'{"a": 1180591620717411303424}', "application/json"),
    "latin-1 declared": (b'{"name": "caf\xe9"}', "application/json; charset=ISO-8859-1"),
    "a float": (b'{"a": 0.1, "b": 1e300}', "application/json"),
}


def response(body: bytes, content_type: str) -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = body
    answer.headers["Content-Type"] = content_type
    answer.encoding = requests.utils.get_encoding_from_headers(answer.headers)
    return answer


def outcome(call, answer: requests.Response) -> tuple[str, object]:
    try:
        return "decoded", call(answer)
    except ValueError as exc:
        return "refused", type(exc)


@pytest.mark.parametrize(("body", "content_type"), BODIES.values(), ids=BODIES.keys())
def test_decode_is_requests_json(body, content_type):
    theirs = outcome(requests.Response.json, response(body, content_type))

    assert outcome(decode, response(body, content_type)) == theirs


def test_a_body_that_is_not_json_raises_what_requests_raises():
    with pytest.raises(requests.JSONDecodeError):
        decode(response(b"<html>503</html>", "text/html"))


def test_a_large_answer_is_decoded_without_orjsons_transient_memory():
    # orjson's document tree peaks at ~15x the body: a page of 1,000 servers would cost a worker 20 MiB more.
    body = json.dumps({"servers": [make_fake_server(name=f"vm-{i}") for i in range(1000)]}).encode()
    tracemalloc.start()
    try:
        decoded = decode(response(body, "application/json"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(body) > ORJSON_MAX_BYTES and peak < 6 * len(body)
    assert decoded == json.loads(body)
