"""The bad-input corpus (tests/api/test_bad_input.py) over security groups, rules, floating IPs and a server's
network actions: every case answers a clear 4xx JSON error and changes nothing.

The corpus's own cases are run here on the new operations (its functions called with these parameters), and the
rules only they have (ports, CIDRs, protocols, addresses) get their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api import test_bad_input as corpus
from tests.api.test_bad_input import MB, RAW_BODIES, assert_refused, spoil
from tests.fakes import SERVER_ID
from tests.permissive_cloud import PermissiveCloud

GROUP_ID = "85cc3048-abc3-43cc-89b3-377341426ac5"
BODIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create security group": ("POST", "/api/v1/security-group", {"name": "web"}),
    "edit security group": ("PATCH", f"/api/v1/security-group/{GROUP_ID}", {"name": "web-2"}),
    "add rule": (
        "POST",
        f"/api/v1/security-group/{GROUP_ID}/rule",
        {"direction": "ingress", "protocol": "tcp", "port": 22},
    ),
    "add group to server": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "add_security_group", "security_group": "web"},
    ),
    "detach floating IP": (
        "POST",
        f"/api/v1/server/{SERVER_ID}/action",
        {"action": "remove_floating_ip", "address": "172.24.4.228"},
    ),
}


@pytest.fixture
def nothing_exists(cloud):
    return PermissiveCloud(cloud, invent=False)


@pytest.fixture(autouse=True)
def corpus_bodies(monkeypatch):
    # The corpus's functions read their endpoints from its BODIES: give them these.
    monkeypatch.setattr(corpus, "BODIES", BODIES)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("case", RAW_BODIES)
def test_a_body_that_is_not_a_json_object_is_400(client, cloud, nothing_exists, endpoint, case):
    corpus.test_a_body_that_is_not_a_json_object_is_400(client, cloud, nothing_exists, endpoint, case)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("cut", [1, 2, 5], ids=["last byte", "half", "a fifth"])
def test_a_truncated_body_is_400(client, cloud, nothing_exists, endpoint, cut):
    corpus.test_a_truncated_body_is_400(client, cloud, nothing_exists, endpoint, cut)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("size", [64 * 1024 + 1, MB], ids=["64 KiB + 1", "1 MB"])
def test_a_body_over_64_kib_is_413(client, cloud, nothing_exists, endpoint, size):
    corpus.test_a_body_over_64_kib_is_413(client, cloud, nothing_exists, endpoint, size)


@pytest.mark.parametrize("endpoint", BODIES)
@pytest.mark.parametrize("media_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_a_body_that_is_not_json_by_its_content_type_is_415(client, cloud, nothing_exists, endpoint, media_type):
    corpus.test_a_body_that_is_not_json_by_its_content_type_is_415(client, cloud, nothing_exists, endpoint, media_type)


FIELD_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "group: name empty": ("create security group", {"name": ""}),
    "group: name 256 characters": ("create security group", {"name": "x" * 256}),
    "group: name a number": ("create security group", {"name": 1}),
    "group: name with a NUL": ("create security group", {"name": "a\x00b"}),
    "group: unknown field": ("create security group", {"rules": []}),
    "group edit: description null": ("edit security group", {"description": None}),
    "group edit: unknown field": ("edit security group", {"stateful": False}),
    "rule: no direction": ("add rule", {"direction": None}),
    "rule: port 0": ("add rule", {"port": 0}),
    "rule: port 70000": ("add rule", {"port": 70000}),
    "rule: port negative": ("add rule", {"port": -1}),
    "rule: port a float": ("add rule", {"port": 22.5}),
    "rule: reversed range": ("add rule", {"port": None, "port_min": 90, "port_max": 80}),
    "rule: protocol unknown": ("add rule", {"protocol": "sctpx"}),
    "rule: protocol 999": ("add rule", {"protocol": "999"}),
    "rule: cidr /33": ("add rule", {"remote_cidr": "10.0.0.0/33"}),
    "rule: cidr a word": ("add rule", {"remote_cidr": "any"}),
    "rule: cidr with a NUL": ("add rule", {"remote_cidr": "10.0.0.0/8\x00"}),
    "rule: ethertype other than the cidr's": ("add rule", {"remote_cidr": "::/0", "ethertype": "IPv4"}),
    "rule: ethertype unknown": ("add rule", {"ethertype": "IPv5"}),
    "action: security_group null": ("add group to server", {"security_group": None}),
    "action: address on a group action": ("add group to server", {"address": "172.24.4.1"}),
    "action: release on a group action": ("add group to server", {"release": True}),
    "action: release a string": ("detach floating IP", {"release": "true"}),
    "action: address over 45 characters": ("detach floating IP", {"address": "1" * 46}),
    "action: security_group on a floating IP action": ("detach floating IP", {"security_group": "web"}),
}


@pytest.mark.parametrize("case", FIELD_CASES)
def test_a_bad_field_is_400(client, cloud, nothing_exists, case):
    endpoint, changes = FIELD_CASES[case]
    method, path, valid = BODIES[endpoint]

    response = client.open(path, method=method, data=spoil(valid, **changes), content_type="application/json")

    body = assert_refused(response, 400, "invalid_request", cloud)
    assert body["errors"], body
    assert cloud.api_calls() == [] or method == "PATCH"  # nothing asked of OpenStack, bar a name's lookup


@pytest.mark.parametrize("path", ["/api/v1/security-group", "/api/v1/floating-ip"])
@pytest.mark.parametrize("limit", ["1001", "0", "-1", "abc", "１０"])
def test_a_limit_outside_1_to_1000_is_400(client, cloud, nothing_exists, path, limit):
    corpus.test_a_limit_outside_1_to_1000_is_400(client, cloud, nothing_exists, path, limit)


@pytest.mark.parametrize(
    "query", ["status=GONE", "sort=size", "fields=colour", "marker=%00"], ids=lambda q: q.split("=")[0]
)
def test_a_bad_floating_ip_filter_is_400(client, cloud, nothing_exists, query):
    assert_refused(client.get(f"/api/v1/floating-ip?{query}"), 400, "invalid_request", cloud)


OPERATIONS = [
    ("GET", "/api/v1/security-group", None),
    ("POST", "/api/v1/security-group", {"name": "web"}),
    ("GET", f"/api/v1/security-group/{GROUP_ID}", None),
    ("PATCH", f"/api/v1/security-group/{GROUP_ID}", {"name": "web"}),
    ("DELETE", f"/api/v1/security-group/{GROUP_ID}", None),
    ("POST", f"/api/v1/security-group/{GROUP_ID}/rule", {"direction": "ingress"}),
    ("DELETE", f"/api/v1/security-group/{GROUP_ID}/rule/{GROUP_ID}", None),
    ("GET", "/api/v1/floating-ip", None),
    ("POST", "/api/v1/floating-ip", {}),
    ("GET", "/api/v1/floating-ip/172.24.4.228", None),
    ("DELETE", "/api/v1/floating-ip/172.24.4.228", None),
    ("GET", f"/api/v1/server/{SERVER_ID}/interfaces", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_a_url_over_4_kib_is_414(client, cloud, nothing_exists, method, path, body):
    corpus.test_a_url_over_4_kib_is_414(client, cloud, nothing_exists, method, path, body)


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
@pytest.mark.parametrize("unknown", ["force", "staus"])
def test_an_unknown_query_parameter_is_400_naming_the_accepted_ones(
    client, cloud, nothing_exists, method, path, body, unknown
):
    corpus.test_an_unknown_query_parameter_is_400_naming_the_accepted_ones(
        client, cloud, nothing_exists, method, path, body, unknown
    )


ID_OPERATIONS = [
    ("GET", "/api/v1/security-group/{}"),
    ("PATCH", "/api/v1/security-group/{}"),
    ("DELETE", "/api/v1/security-group/{}"),
    ("POST", "/api/v1/security-group/{}/rule"),
    ("DELETE", "/api/v1/security-group/" + GROUP_ID + "/rule/{}"),
    ("GET", "/api/v1/floating-ip/{}"),
    ("DELETE", "/api/v1/floating-ip/{}"),
    ("GET", "/api/v1/server/{}/interfaces"),
]
ID_BODIES = {"PATCH": {"name": "web-2"}, "POST": {"direction": "ingress"}}


@pytest.mark.parametrize(("method", "template"), ID_OPERATIONS, ids=[f"{m} {t}" for m, t in ID_OPERATIONS])
@pytest.mark.parametrize("case", corpus.EVIL_IDS)
def test_a_strange_id_finds_nothing_and_leaves_its_path(
    client, cloud, nothing_exists, monkeypatch, method, template, case
):
    monkeypatch.setattr(corpus, "ID_BODIES", ID_BODIES)
    corpus.test_a_strange_id_finds_nothing_and_leaves_its_path(client, cloud, nothing_exists, method, template, case)
