"""Security groups, rules, floating IPs and a server's ports on the real cloud, through the gateway as a process.

The cloud has Neutron's router plugin, the external network `public` (172.24.4.0/24) and `router1` joining the
demo network's subnet, but no L3 agent: an association is made and Nova lists the address as `floating` about a
second later, while the floating IP's own status stays DOWN (nothing here waits for ACTIVE). Everything created
is deleted at the end, even when a test fails.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.cloud.harness import PREFIX, RUN, Cloud, Gateway, Upstream, wait_active, wait_for
from tests.cloud.test_cloud_isolation import As, keystone_token

# s: Nova lists a new association ~1.2 s after Neutron made it (it is notified); 19 s seen on a loaded machine
FLOATING_WAIT = 90


def group_name(label: str) -> str:
    return f"{PREFIX}{RUN}-{label}"


class Made:
    """Security groups and floating IPs a test created; released at the end, servers first (a group in use
    cannot be deleted)."""

    def __init__(self) -> None:
        self.groups: list[tuple[Any, str]] = []
        self.floating: list[tuple[Any, str]] = []

    def group(self, caller: Any, name: str, **body: Any) -> requests.Response:
        resp = caller.post("/api/v1/security-group", json={"name": name, **body})
        if resp.status_code == 201:
            self.groups.append((caller, resp.json()["id"]))
        return resp

    def floating_ip(self, caller: Any, fip_id: str) -> None:
        self.floating.append((caller, fip_id))

    def cleanup(self) -> None:
        for caller, fip_id in self.floating:
            caller.delete(f"/api/v1/floating-ip/{fip_id}")
        for caller, group_id in self.groups:
            caller.delete(f"/api/v1/security-group/{group_id}")


@pytest.fixture
def made(servers) -> Iterator[Made]:
    # `servers` is set up first, so torn down last: its servers are gone before the groups are deleted.
    tracker = Made()
    yield tracker
    servers.cleanup()
    tracker.cleanup()


@pytest.fixture(scope="module", autouse=True)
def _sweep(cloud_info: Cloud, upstream) -> Iterator[None]:
    """Whatever this run left behind in demo's and lowquota's projects (an interrupted test), by name."""
    yield
    for user in ("demo", "lowquota"):
        client: Upstream = upstream(user)
        groups = client.get("network", "/v2.0/security-groups", project_id=client_project(cloud_info, user))
        for group in groups["security_groups"]:
            if group["name"].startswith(f"{PREFIX}{RUN}"):
                client.request("network", "DELETE", f"/v2.0/security-groups/{group['id']}").close()


def client_project(cloud: Cloud, user: str) -> str:
    return cloud.users[user]["project_id"]


def floating_addresses(gw: Any, server_id: str) -> list[str]:
    server = gw.get(f"/api/v1/server/{server_id}").json()
    return [a["addr"] for addrs in server["addresses"].values() for a in addrs if a["type"] == "floating"]


def group_names(gw: Any, server_id: str) -> set[str]:
    return {g["name"] for g in gw.get(f"/api/v1/server/{server_id}").json()["security_groups"]}


def test_a_reachable_server_from_groups_rules_and_a_floating_ip(cloud_info: Cloud, gateway: Gateway, servers, made):
    web = made.group(gateway, group_name("web"), description="SSH from anywhere")
    assert web.status_code == 201, web.text
    web = web.json()
    # Neutron gives a new group the rules of its default-rule templates (this cloud's: none).
    assert web["name"] == group_name("web") and {r["direction"] for r in web["rules"]} <= {"egress"}

    ssh = gateway.post(
        f"/api/v1/security-group/{web['id']}/rule",
        json={"direction": "ingress", "protocol": "tcp", "port": 22, "remote_cidr": "0.0.0.0/0"},
    )
    assert ssh.status_code == 201, ssh.text
    assert (ssh.json()["port_min"], ssh.json()["port_max"], ssh.json()["protocol"]) == (22, 22, "tcp")

    # The 409 and 400s, for real.
    twin = gateway.post(
        f"/api/v1/security-group/{group_name('web')}/rule",
        json={"direction": "ingress", "protocol": "tcp", "port": 22, "remote_cidr": "0.0.0.0/0"},
    )
    assert (twin.status_code, twin.json()["code"]) == (409, "conflict"), twin.text
    assert "already exists" in twin.json()["message"] and ssh.json()["id"] in twin.json()["message"]
    assert twin.json()["upstream_request_id"].startswith("req-")
    bad = gateway.post(
        f"/api/v1/security-group/{web['id']}/rule", json={"direction": "ingress", "remote_cidr": "10.0.0.0/33"}
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (400, "remote_cidr"), bad.text
    shown = gateway.get(f"/api/v1/security-group/{web['id']}").json()
    assert [r["id"] for r in shown["rules"] if r["direction"] == "ingress"] == [ssh.json()["id"]]

    extra = made.group(gateway, group_name("extra"))
    assert extra.status_code == 201, extra.text
    extra = extra.json()

    created = servers.create(gateway, cloud_info, "net-web", security_groups=[group_name("web")])
    assert created.status_code == 201, created.text
    server = wait_active(gateway, created.json()["id"])
    assert server["security_groups"] == [{"id": web["id"], "name": group_name("web")}]  # a show has the ids

    # A second group, added and removed by action.
    added = gateway.post(
        f"/api/v1/server/{server['id']}/action", json={"action": "add_security_group", "security_group": extra["id"]}
    )
    assert added.status_code == 202, added.text
    assert added.json()["security_group"] == {"id": extra["id"], "name": group_name("extra")}
    wait_for(lambda: True if group_name("extra") in group_names(gateway, server["id"]) else None, 30, "the group")
    shown = gateway.get(f"/api/v1/server/{server['id']}").json()["security_groups"]  # two groups: names from Neutron
    assert sorted(shown, key=lambda g: g["name"]) == [
        {"id": extra["id"], "name": group_name("extra")},
        {"id": web["id"], "name": group_name("web")},
    ]
    ports = gateway.get(f"/api/v1/server/{server['id']}/interfaces")
    assert ports.status_code == 200, ports.text
    (port,) = ports.json()["interfaces"]
    assert {g["id"] for g in port["security_groups"]} == {web["id"], extra["id"]}
    assert port["network"] == {"id": cloud_info.networks["demo"]["id"], "name": cloud_info.networks["demo"]["name"]}
    assert ipaddress.ip_address(port["fixed_ips"][0]["address"]) in ipaddress.ip_network(
        cloud_info.networks["demo"]["cidr"]
    )

    in_use = gateway.delete(f"/api/v1/security-group/{extra['id']}")
    assert (in_use.status_code, in_use.json()["code"]) == (409, "in_use"), in_use.text
    assert in_use.json()["servers"] == [server["id"]] and in_use.json()["ports"] == [port["id"]]

    removed = gateway.post(
        f"/api/v1/server/{server['id']}/action",
        json={"action": "remove_security_group", "security_group": group_name("extra")},
    )
    assert removed.status_code == 202, removed.text
    wait_for(lambda: True if group_name("extra") not in group_names(gateway, server["id"]) else None, 30, "removal")

    # A floating IP, allocated and attached in one call.
    attached = gateway.post(f"/api/v1/server/{server['id']}/action", json={"action": "add_floating_ip"})
    assert attached.status_code == 202, attached.text
    fip = attached.json()["floating_ip"]
    made.floating_ip(gateway, fip["id"])
    assert ipaddress.ip_address(fip["address"]) in ipaddress.ip_network(cloud_info.data["external_network"]["cidr"])
    assert (fip["server_id"], fip["port_id"], fip["network_id"]) == (
        server["id"],
        port["id"],
        cloud_info.data["external_network"]["id"],
    )
    wait_for(lambda: True if fip["address"] in floating_addresses(gateway, server["id"]) else None, FLOATING_WAIT,
             "Nova to list the floating address", interval=0.3)  # fmt: skip
    listed = gateway.get(f"/api/v1/floating-ip?server={server['id']}").json()["floating_ips"]
    assert [(f["address"], f["server_id"]) for f in listed] == [(fip["address"], server["id"])]
    assert gateway.get(f"/api/v1/floating-ip/{fip['address']}").json()["server_id"] == server["id"]

    # Detached and released.
    detached = gateway.post(
        f"/api/v1/server/{server['id']}/action",
        json={"action": "remove_floating_ip", "address": fip["address"], "release": True},
    )
    assert detached.status_code == 202, detached.text
    assert gateway.get(f"/api/v1/floating-ip/{fip['id']}").status_code == 404
    wait_for(lambda: True if not floating_addresses(gateway, server["id"]) else None, FLOATING_WAIT,
             "the floating address to leave Nova's list", interval=0.3)  # fmt: skip

    # The groups go after the server.
    servers.cleanup()
    servers.created.clear()
    for group in (web, extra):
        assert gateway.delete(f"/api/v1/security-group/{group['id']}").status_code == 204
    made.groups.clear()
    assert gateway.get(f"/api/v1/security-group/{web['id']}").status_code == 404


def test_a_floating_ip_on_its_own_and_the_limits(cloud_info: Cloud, gateway: Gateway, made):
    before = gateway.get("/api/v1/limits").json()["limits"]["floating_ips"]
    allocated = gateway.post("/api/v1/floating-ip", json={"network": "public", "description": group_name("fip")})
    assert allocated.status_code == 201, allocated.text
    fip = allocated.json()
    made.floating_ip(gateway, fip["id"])
    assert fip["status"] == "DOWN" and fip["server_id"] is None
    assert gateway.get(allocated.headers["Location"]).json()["address"] == fip["address"]
    after = gateway.get("/api/v1/limits").json()["limits"]["floating_ips"]
    assert after["used"] == before["used"] + 1 and after["unit"] == "floating IPs"
    assert gateway.delete(f"/api/v1/floating-ip/{fip['address']}").status_code == 204
    assert gateway.get(f"/api/v1/floating-ip/{fip['id']}").status_code == 404


@pytest.fixture(scope="module")
def users_gateway(cloud_info: Cloud, start_gateway) -> Gateway:
    settings = {**cloud_info.credentials("demo"), "ALLOW_USER_TOKENS": "true", "WORKERS": "1"}
    return start_gateway(settings, "net-user-tokens")


def test_two_users_in_two_projects_see_nothing_of_each_other(cloud_info: Cloud, users_gateway: Gateway, made):
    demo = As(users_gateway, {"X-Auth-Token": keystone_token(cloud_info, "demo")})
    lowquota = As(users_gateway, {"X-Auth-Token": keystone_token(cloud_info, "lowquota")})
    mine = made.group(demo, group_name("iso"))
    assert mine.status_code == 201, mine.text
    mine = mine.json()
    assert mine["project_id"] == cloud_info.users["demo"]["project_id"]
    fip = demo.post("/api/v1/floating-ip", json={})
    assert fip.status_code == 201, fip.text
    made.floating_ip(demo, fip.json()["id"])

    theirs = lowquota.get("/api/v1/security-group?limit=1000").json()["security_groups"]
    assert mine["id"] not in [g["id"] for g in theirs]
    assert {g["project_id"] for g in theirs} == {cloud_info.users["lowquota"]["project_id"]}
    for ref in (mine["id"], group_name("iso")):
        assert lowquota.get(f"/api/v1/security-group/{ref}").status_code == 404
        assert lowquota.delete(f"/api/v1/security-group/{ref}").status_code == 404
    assert fip.json()["id"] not in [f["id"] for f in lowquota.get("/api/v1/floating-ip").json()["floating_ips"]]
    for ref in (fip.json()["id"], fip.json()["address"]):
        assert lowquota.get(f"/api/v1/floating-ip/{ref}").status_code == 404
    assert demo.get(f"/api/v1/security-group/{mine['id']}").status_code == 200  # still there

    # lowquota's own Neutron quota (floatingip=1, security_group=2 with its default group): Neutron's words.
    limits = lowquota.get("/api/v1/limits").json()["limits"]
    assert (limits["floating_ips"]["max"], limits["security_groups"]["max"]) == (1, 2)
    first = made.group(lowquota, group_name("lq-1"))
    assert first.status_code == 201, first.text
    over = made.group(lowquota, group_name("lq-2"))
    assert (over.status_code, over.json()["code"]) == (400, "quota_exceeded"), over.text
    assert "Quota exceeded" in over.json()["message"] and over.json()["upstream_request_id"].startswith("req-")


HOSTILE_NAMES = {
    "NUL": "a\x00b",
    "colon": "web:22",
    "comma": "a,b",
    "control": "a\x01b",
    "newline": "a\nb",
    "percent": "50%",
    "quotes": "a\"b'c",
    "slash": "a/b",
    "dot-dot": "..",
    "non-ASCII": "ünïcødé-名前",
    "emoji": "🚀",
}


@pytest.mark.parametrize("case", HOSTILE_NAMES)
def test_hostile_names_and_refs_never_make_neutron_fail(gateway: Gateway, made, case):
    name = group_name("h-") + HOSTILE_NAMES[case]
    created = made.group(gateway, name)
    assert created.status_code in (201, 400), created.text
    if case == "NUL":
        assert created.json()["errors"][0]["field"] == "name"
    elif "/" in name:
        # A "/" cannot be in a URL's path segment (proxies and WSGI servers decode %2F): found by the list's filter.
        assert created.status_code == 201 and created.json()["name"] == name
        listed = gateway.get("/api/v1/security-group", params={"name": name}).json()["security_groups"]
        assert [g["id"] for g in listed] == [created.json()["id"]]
    else:
        assert created.status_code == 201 and created.json()["name"] == name
        found = gateway.get(f"/api/v1/security-group/{quote(name, safe='')}")
        assert (found.status_code, found.json()["id"]) == (200, created.json()["id"]), found.text
        rule = gateway.post(
            f"/api/v1/security-group/{quote(name, safe='')}/rule",
            json={"direction": "ingress", "port": 80, "protocol": "tcp"},
        )
        assert rule.status_code == 201, rule.text
    for path in ("/api/v1/security-group/{}", "/api/v1/floating-ip/{}", "/api/v1/server/{}/interfaces"):
        resp = gateway.get(path.format(quote(HOSTILE_NAMES[case], safe="")))
        assert resp.status_code in (400, 404), (path, resp.status_code, resp.text)
    listed = gateway.get("/api/v1/security-group", params={"name": HOSTILE_NAMES[case]})
    assert listed.status_code in (200, 400), listed.text
    bad_cidr = gateway.post(
        f"/api/v1/security-group/{group_name('h-x')}/rule",
        json={"direction": "ingress", "remote_cidr": HOSTILE_NAMES[case]},
    )
    assert bad_cidr.status_code in (400, 404), bad_cidr.text


def test_an_idempotency_key_creates_one_group_and_one_floating_ip(gateway: Gateway, made):
    key = {"Idempotency-Key": f"{PREFIX}{RUN}-key"}
    first = gateway.post("/api/v1/security-group", json={"name": group_name("idem")}, headers=key)
    assert first.status_code == 201, first.text
    made.groups.append((gateway, first.json()["id"]))
    again = gateway.post("/api/v1/security-group", json={"name": group_name("idem")}, headers=key)
    assert (again.status_code, again.headers.get("Idempotent-Replayed"), again.json()["id"]) == (
        201,
        "true",
        first.json()["id"],
    )
    other = gateway.post("/api/v1/security-group", json={"name": group_name("idem-2")}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused"), other.text
    named = gateway.get("/api/v1/security-group", params={"name": group_name("idem")}).json()["security_groups"]
    assert [g["id"] for g in named] == [first.json()["id"]]

    fip_key = {"Idempotency-Key": f"{PREFIX}{RUN}-fip-key"}
    fip = gateway.post("/api/v1/floating-ip", json={}, headers=fip_key)
    assert fip.status_code == 201, fip.text
    made.floating_ip(gateway, fip.json()["id"])
    replay = gateway.post("/api/v1/floating-ip", json={}, headers=fip_key)
    assert (replay.headers.get("Idempotent-Replayed"), replay.json()["id"]) == ("true", fip.json()["id"])
