"""Limits and keypairs against the real cloud: the numbers Nova reports, keys Nova generates and imports.

Keypairs belong to the gateway's *user*; they are named PREFIX + "kp-" + RUN + "-…" and deleted at the end
(leftovers of an interrupted run are swept at the start). Other test runs may boot servers or add keypairs
concurrently in the same projects: comparisons are retried until Nova's numbers hold still around ours.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.cloud.harness import ACTIVE_TIMEOUT, PREFIX, RUN, wait_for

KP_PREFIX = f"{PREFIX}kp-"
LEFTOVER_AGE = 600  # s: a keypair of this module older than this belongs to no run still going on

NOVA_LIMITS = {
    "instances": ("maxTotalInstances", "totalInstancesUsed"),
    "cores": ("maxTotalCores", "totalCoresUsed"),
    "ram": ("maxTotalRAMSize", "totalRAMUsed"),
    "server_groups": ("maxServerGroups", "totalServerGroupsUsed"),
    "server_group_members": ("maxServerGroupMembers", None),
    "server_metadata_items": ("maxServerMeta", None),
}


def keypair_name(label: str) -> str:
    return f"{KP_PREFIX}{RUN}-{label}"


def nova_keypairs(nova) -> list[dict[str, Any]]:
    return [k["keypair"] for k in nova.get("compute", "/os-keypairs")["keypairs"]]


def _age(created_at: str) -> float:
    """Seconds since a Nova timestamp (naive, UTC)."""
    created = datetime.fromisoformat(created_at).replace(tzinfo=UTC)
    return (datetime.now(UTC) - created).total_seconds()


@pytest.fixture(scope="module", autouse=True)
def _sweep_keypairs(upstream) -> Iterator[None]:
    """Delete this run's keypairs at the end, and those an interrupted run left (older than a run lasts)."""

    def sweep(leftover: Callable[[Any, str], bool]) -> None:
        for user in ("demo", "lowquota"):
            nova = upstream(user)
            for keypair in nova_keypairs(nova):
                if keypair["name"].startswith(KP_PREFIX) and leftover(nova, keypair["name"]):
                    nova.request("compute", "DELETE", f"/os-keypairs/{keypair['name']}").close()

    sweep(lambda nova, name: _age(nova.get("compute", f"/os-keypairs/{name}")["keypair"]["created_at"]) > LEFTOVER_AGE)
    yield
    sweep(lambda nova, name: name.startswith(keypair_name("")))


def settled(read_ours: Callable[[], Any], read_nova: Callable[[], Any], tries: int = 5) -> tuple[Any, Any]:
    """Ours, read between two equal readings of Nova's: other runs may be changing the project meanwhile."""
    for _ in range(tries):
        before = read_nova()
        ours = read_ours()
        if read_nova() == before:
            return ours, before
        time.sleep(1)
    pytest.fail(f"Nova's numbers kept changing over {tries} tries", pytrace=False)


def expected_headroom(absolute: dict[str, int], flavors: list[dict[str, Any]]) -> dict[str, Any]:
    """Per flavor id: (fits, limited_by), computed independently from Nova's own numbers."""

    def left(max_key: str, used_key: str) -> int | None:
        return None if absolute[max_key] < 0 else max(absolute[max_key] - absolute[used_key], 0)

    result = {}
    for flavor in flavors:
        bounds = [
            (left(m, u) // cost, name)
            for name, (m, u), cost in (
                ("instances", NOVA_LIMITS["instances"], 1),
                ("cores", NOVA_LIMITS["cores"], flavor["vcpus"]),
                ("ram", NOVA_LIMITS["ram"], flavor["ram"]),
            )
            if left(m, u) is not None
        ]
        result[flavor["id"]] = min(bounds, key=lambda b: b[0]) if bounds else (None, None)
    return result


def read_limits(gw) -> dict[str, Any]:
    resp = gw.get("/api/v1/limits")
    assert resp.status_code == 200, resp.text
    return resp.json()


def nova_state(nova) -> tuple[dict[str, int], int]:
    return nova.get("compute", "/limits")["limits"]["absolute"], len(nova_keypairs(nova))


# ---------------------------------------------------------------------------------------------------- limits


def test_limits_are_what_nova_reports(gateway, upstream):
    nova = upstream("demo")
    mine, (absolute, keypairs) = settled(lambda: read_limits(gateway), lambda: nova_state(nova))

    for name, (max_key, used_key) in NOVA_LIMITS.items():
        maximum = None if absolute[max_key] < 0 else absolute[max_key]
        used = absolute[used_key] if used_key else None
        assert (mine["limits"][name]["max"], mine["limits"][name]["used"]) == (maximum, used), name
    assert mine["limits"]["keypairs"]["max"] == absolute["maxTotalKeypairs"]
    assert mine["limits"]["keypairs"]["used"] == keypairs
    assert mine["limits"]["ram"]["unit"] == "MiB"

    flavors = nova.get("compute", "/flavors/detail")["flavors"]
    assert [h["flavor_id"] for h in mine["headroom"]] == [f["id"] for f in flavors]
    expected = expected_headroom(absolute, flavors)
    assert {h["flavor_id"]: (h["fits"], h["limited_by"]) for h in mine["headroom"]} == expected


def test_limits_cost_three_nova_calls(gateway, cloud_info):
    log = cloud_info.access_log("nova-api")
    read_limits(gateway)  # warm: token and version discovery already done
    # Other gateways may call Nova meanwhile (same User-Agent): one clean reading of five is enough.
    for _ in range(5):
        mark = log.mark()
        read_limits(gateway)
        time.sleep(0.5)  # the access log line is written after the answer
        paths = sorted(h.path for h in log.since(mark) if h.user_agent.startswith("devstack-client/"))
        if paths == ["/v2.1/flavors/detail", "/v2.1/limits", "/v2.1/os-keypairs"]:
            return
    pytest.fail(f"GET /api/v1/limits did not cost exactly three Nova calls: last {paths}")


@pytest.fixture(scope="module")
def lowquota_gateway(cloud_info, start_gateway):
    return start_gateway(cloud_info.credentials("lowquota"), "lowquota-limits")


def settled_server(gw, server_id: str) -> dict[str, Any] | None:
    resp = gw.get(f"/api/v1/server/{server_id}")
    assert resp.status_code == 200, resp.text
    return resp.json() if resp.json()["status"] in ("ACTIVE", "ERROR") else None


def test_lowquota_headroom_goes_from_one_to_zero(lowquota_gateway, upstream, cloud_info, servers):
    gw, nova = lowquota_gateway, upstream("lowquota")
    assert cloud_info.data["quotas"]["lowquota"]["instances"] == 1

    before = read_limits(gw)
    assert before["limits"]["instances"]["max"] == 1
    if before["limits"]["instances"]["used"]:
        pytest.skip("another test run has a server in the lowquota project right now")
    assert {h["flavor_id"]: h["fits"] for h in before["headroom"]} == {f["id"]: 1 for f in cloud_info.flavors.values()}
    assert {h["limited_by"] for h in before["headroom"]} == {"instances"}

    resp = servers.create(gw, cloud_info, "limits-1", network="lowquota")
    if resp.status_code == 400 and resp.json()["code"] == "quota_exceeded":
        pytest.skip("another test run took the lowquota project's one instance meanwhile")
    assert resp.status_code == 201, resp.text
    # Cores and RAM are counted once the server is placed: wait for ACTIVE. A concurrent create in the
    # project passes Nova's first quota check too, and Nova's re-check then puts one of them in ERROR.
    server = wait_for(lambda: settled_server(gw, resp.json()["id"]), ACTIVE_TIMEOUT, "the server to settle")
    if server["status"] == "ERROR" and (server["fault"] or {}).get("message", "").startswith("Quota exceeded"):
        pytest.skip(f"another test run raced this one for the lowquota project's one instance: {server['fault']}")
    assert server["status"] == "ACTIVE", server

    after, (absolute, _) = settled(lambda: read_limits(gw), lambda: nova_state(nova))
    nano = cloud_info.flavor
    assert after["limits"]["instances"] == {"max": 1, "used": 1, "remaining": 0, "unit": "servers"}
    assert after["limits"]["cores"]["used"] == absolute["totalCoresUsed"] == nano["vcpus"]
    assert after["limits"]["ram"]["used"] == absolute["totalRAMUsed"] == nano["ram"]
    assert {h["fits"] for h in after["headroom"]} == {0}
    assert {h["limited_by"] for h in after["headroom"]} == {"instances"}


# -------------------------------------------------------------------------------------------------- keypairs


def openssh_public(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def md5_fingerprint(public_key: str) -> str:
    digest = hashlib.md5(base64.b64decode(public_key.split()[1])).hexdigest()  # Nova's fingerprint: MD5
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def test_generated_keypair_returns_its_private_key_once(gateway, upstream):
    nova, name = upstream("demo"), keypair_name("gen")

    resp = gateway.post("/api/v1/keypair", json={"name": name})

    assert resp.status_code == 201, resp.text
    assert resp.headers["Location"].endswith(f"/api/v1/keypair/{name}")
    assert resp.headers["Cache-Control"] == "no-store"
    created = resp.json()
    assert created["name"] == name and created["type"] == "ssh"
    # the private key is real and belongs to the public key Nova keeps
    assert created["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert created["public_key"].startswith(openssh_public(created["private_key"]))
    assert created["fingerprint"] == md5_fingerprint(created["public_key"])
    # ... and is not kept anywhere: neither we nor Nova can show it again
    shown = gateway.get(f"/api/v1/keypair/{name}")
    assert shown.status_code == 200, shown.text
    assert "private_key" not in shown.json()
    upstream_view = nova.get("compute", f"/os-keypairs/{name}")["keypair"]
    assert "private_key" not in upstream_view
    assert {k: shown.json()[k] for k in ("name", "type", "fingerprint", "public_key", "created_at")} == {
        k: upstream_view[k] for k in ("name", "type", "fingerprint", "public_key", "created_at")
    }


def test_import_list_show_delete(gateway, upstream):
    nova, name = upstream("demo"), keypair_name("imp")
    public_key = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " me@laptop"
    )

    resp = gateway.post("/api/v1/keypair", json={"name": name, "public_key": public_key})
    assert resp.status_code == 201, resp.text
    assert resp.json()["private_key"] is None
    assert resp.json()["public_key"] == public_key
    assert resp.json()["fingerprint"] == md5_fingerprint(public_key)

    listed = {k["name"]: k for k in gateway.get("/api/v1/keypair").json()["keypairs"]}
    theirs = {k["name"]: k for k in nova_keypairs(nova)}
    assert listed[name] == {
        **{k: theirs[name][k] for k in ("name", "type", "fingerprint", "public_key")},
        "created_at": None,
    }
    assert set(listed) >= {n for n in theirs if n.startswith(f"{KP_PREFIX}{RUN}")}

    shown = gateway.get(f"/api/v1/keypair/{name}").json()
    assert shown["created_at"] == nova.get("compute", f"/os-keypairs/{name}")["keypair"]["created_at"]

    # the same name again: Nova's 409, in Nova's words
    again = gateway.post("/api/v1/keypair", json={"name": name, "public_key": public_key})
    direct = nova.request("compute", "POST", "/os-keypairs", json={"keypair": {"name": name, "public_key": public_key}})
    assert (again.status_code, direct.status_code) == (409, 409), again.text
    assert again.json()["code"] == "conflict"
    assert (
        again.json()["message"]
        == direct.json()["conflictingRequest"]["message"]
        == f"Key pair '{name}' already exists."
    )

    deleted = gateway.delete(f"/api/v1/keypair/{name}")
    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    assert nova.request("compute", "GET", f"/os-keypairs/{name}").status_code == 404
    for resp in (gateway.delete(f"/api/v1/keypair/{name}"), gateway.get(f"/api/v1/keypair/{name}")):
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "not_found"
        assert name in resp.json()["message"]


@pytest.mark.parametrize(
    ("public_key", "key_type"),
    [("ssh-rsa not-a-key", "ssh"), ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHbwnJGKFge me@laptop", "x509")],
)
def test_invalid_public_key_is_400_in_novas_words(gateway, upstream, public_key, key_type):
    nova, name = upstream("demo"), keypair_name("bad")
    body = {"name": name, "public_key": public_key, "type": key_type}

    resp = gateway.post("/api/v1/keypair", json=body)
    direct = nova.request("compute", "POST", "/os-keypairs", json={"keypair": body})

    assert (resp.status_code, direct.status_code) == (400, 400), resp.text
    assert resp.json()["code"] == "bad_request"
    assert resp.json()["message"] == direct.json()["badRequest"]["message"]
    assert resp.json()["message"].startswith("Keypair data is invalid")
    assert name not in [k["name"] for k in nova_keypairs(nova)]


def test_generated_x509_keypair(gateway, upstream):
    name = keypair_name("x509")

    resp = gateway.post("/api/v1/keypair", json={"name": name, "type": "x509"})

    assert resp.status_code == 201, resp.text
    assert resp.json()["type"] == "x509"
    assert base64.b64decode(resp.json()["private_key"])  # PKCS#12, base64
    assert upstream("demo").get("compute", f"/os-keypairs/{name}")["keypair"]["type"] == "x509"
    assert gateway.delete(f"/api/v1/keypair/{name}").status_code == 204


def test_bad_names_never_reach_nova(gateway, cloud_info):
    log = cloud_info.access_log("nova-api")
    mark = log.mark()

    resp = gateway.post("/api/v1/keypair", json={"name": "me@laptop", "type": "rsa"})

    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid_request"
    assert sorted(e["field"] for e in resp.json()["errors"]) == ["name", "type"]
    time.sleep(0.5)
    posts = [h for h in log.since(mark) if (h.method, h.path) == ("POST", "/v2.1/os-keypairs")]
    assert [h for h in posts if h.user_agent.startswith("devstack-client/")] == []


def test_keypairs_used_follows_creates_and_deletes(gateway, upstream):
    nova = upstream("demo")
    names = [keypair_name(f"count-{i}") for i in range(2)]
    for name in names:
        assert gateway.post("/api/v1/keypair", json={"name": name}).status_code == 201

    mine, (_, count) = settled(lambda: read_limits(gateway), lambda: nova_state(nova))
    assert mine["limits"]["keypairs"]["used"] == count >= 2
    assert mine["limits"]["keypairs"]["remaining"] == mine["limits"]["keypairs"]["max"] - count

    for name in names:
        assert gateway.delete(f"/api/v1/keypair/{name}").status_code == 204
    mine, (_, count_after) = settled(lambda: read_limits(gateway), lambda: nova_state(nova))
    assert mine["limits"]["keypairs"]["used"] == count_after
