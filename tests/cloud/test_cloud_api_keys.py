"""Gateway API keys on the real cloud: keys made by `devstack-client hash-key`, a reader and an operator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cloud.harness import REPO, Cloud, Gateway, server_name


def hash_key(role: str, label: str) -> tuple[str, str]:
    """The key and its line, as an operator makes them."""
    out = subprocess.run(
        [sys.executable, "devstack_client/main.py", "hash-key", role, label],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return out[1], out[3]


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, str]]:
    return {"reader": hash_key("reader", "dashboard"), "operator": hash_key("operator", "ci bot")}


@pytest.fixture(scope="module")
def keyed_gateway(cloud_info: Cloud, start_gateway, keys, tmp_path_factory) -> Gateway:
    path = tmp_path_factory.mktemp("keys") / "api-keys"
    path.write_text(f"# who may call\n{keys['reader'][1]}\n")
    settings = {**cloud_info.credentials("demo"), "API_KEYS_FILE": str(path), "API_KEYS": keys["operator"][1]}
    return start_gateway(settings, "api-keys")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_no_key_or_a_bad_one_is_401(keyed_gateway):
    for headers in ({}, bearer("dsk_guessed")):
        resp = keyed_gateway.get("/api/v1/flavor", headers=headers)
        assert resp.status_code == 401, resp.text
        assert resp.json()["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="devstack-client"'
    assert keyed_gateway.get("/swagger.json").status_code == 200  # the spec stays open


def test_a_reader_reads_but_does_not_write(keyed_gateway, keys, cloud_info):
    reader = bearer(keys["reader"][0])
    flavor = keyed_gateway.get(f"/api/v1/flavor/{cloud_info.flavor['name']}", headers=reader)
    assert flavor.status_code == 200, flavor.text
    assert flavor.json()["id"] == cloud_info.flavor["id"]

    body = {"name": server_name("reader"), "image": cloud_info.image["name"], "flavor": cloud_info.flavor["name"]}
    refused = keyed_gateway.post("/api/v1/server?dry_run=true", headers=reader, json={**body, "network": "demo-net"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "forbidden_role"


def test_an_operator_writes(keyed_gateway, keys, cloud_info):
    body = {
        "name": server_name("operator"),
        "image": cloud_info.image["name"],
        "flavor": cloud_info.flavor["name"],
        "network": cloud_info.networks["demo"]["name"],
    }
    checked = keyed_gateway.post("/api/v1/server?dry_run=true", headers=bearer(keys["operator"][0]), json=body)

    assert checked.status_code == 200, checked.text  # every check of a create passed; nothing was created
    assert checked.json()["server"]["network"]["id"] == cloud_info.networks["demo"]["id"]


def test_keys_never_reach_the_gateways_log(keyed_gateway, keys):
    keyed_gateway.get("/api/v1/flavor", headers=bearer(keys["reader"][0]))
    log = keyed_gateway.log_path.read_text(errors="replace")

    assert "callers authenticate with: 2 API key(s)" in log
    for key, line in keys.values():
        assert key not in log
        assert line.split()[0] not in log
