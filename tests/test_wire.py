"""Upstream answers are decoded with orjson, and exactly as requests' ``json()`` decodes them."""

from __future__ import annotations

import pytest
import requests

from devstack_client.services._wire import decode

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
