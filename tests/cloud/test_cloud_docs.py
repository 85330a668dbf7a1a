"""Every curl example of the docs, run against the real cloud, answers what the docs show.

The examples and their shown answers come from tests/docs_examples.py (marked in the Markdown). Each runs, in
the docs' order (each page top to bottom, so an example may use what an earlier one on its page made), on a
gateway acting as `demo` (with CORS_ORIGINS=http://localhost:3000, as the operations examples say); with
``gateway=keys`` on one that takes API keys ($READER labelled 'dashboard', $OPERATOR 'ci bot') and user tokens
($DEMO_TOKEN: a token of `demo`'s from Keystone; an example may get its own with curl, ``TOKEN=$(curl …)``, which
bash runs); with ``gateway=lowquota`` on one acting as `lowquota`, a project whose quotas the cloud fixes
(tests/cloud/README.md) and that other tests leave empty, so that its counts are the same on every run; with
``gateway=nobody`` on one whose user Keystone does not know (the docs' second gateway, on :8081); with
``gateway=fresh`` on one started (as `demo`) just before the example and stopped after it, so that its /metrics
count only what the example sent (and the start-up's polls of /swagger.json, which the example's grep leaves out);
with ``gateway=balanced`` through HAProxy (Debian's, running deploy/haproxy.cfg) in front of three instances
acting as `demo` that take an operator API key ($KEY), as deploy/compose.yaml runs them but as processes (no
container engine on the test machines), started before the example and stopped after it.
Before an example, its options put the demo project in the state the docs assume:

- ``servers=web-1:ACTIVE`` exactly these servers of this run, in that status, no transition under way;
  ``web-2:DELETED``: booted and deleted (gone) once the others are settled, and the example's ``changes_since=``
  time (the docs' fixed one) is sent as the moment before that boot, so that its answer is this change alone
  (an example with ``changes_since=`` and no such server fails: its answer would depend on the cloud's history);
- ``lowquota_servers=auth-doc-lq:ACTIVE`` the same in the `lowquota` project (deleted at the end of the module);
- ``keypairs=my-key,laptop`` exactly these keypairs of this run;
- ``security_groups=web,db@web-1`` exactly these groups of this run (created without rules); ``@server``: on
  that server's ports, whose groups are then exactly the ones so named (``default`` alone for a server named in
  no ``@``);
- ``floating_ips=web-1`` exactly one floating IP of this run on each of these servers (none elsewhere), listed by
  Nova in the server's addresses;
- ``volumes=data-1,logs@web-1`` exactly these volumes of this run (1 GiB, empty), ``@server`` attached to it,
  else ``available``;
- ``stream-until=synced`` (not a state): the answer is a stream; its events are read until that one, then the
  connection is closed, and they are compared with the events the docs show, one by one.

A command ending ``| grep -E '…'`` answers the lines the real ``grep -E`` keeps of its body (a 200), compared
exactly with the ones the docs show but in any order (prometheus-client's multiprocess mode lists a scrape's
samples in the order it reads the workers' files, which changes from run to run): a count that differs fails.

An example with any of these options (an empty one included, ``volumes=``) gets no security group, floating IP
or volume of this run but those its options name: one example's leftovers never show in another's answer.

What differs from one cloud or run to the next is normalised on both sides before the comparison: ids, long
hex digests, times, addresses, fingerprints, the order of a ``security_groups`` list (a set: no stable order);
an error's ``request_id`` when the docs leave it out (they say
so); a ``…`` in a shown string matches anything; in a stream, an event's ``id:`` (a cursor) matches any
cursor, and a ``data:`` object ending ``,…}`` has at least the members shown (the others left out). An id an
earlier answer showed stands, in a later example's URL, for the one the cloud answered there (so that
``/server/a9626271-…`` reaches the server that answer listed; any other id in a URL fails the example). The
docs' names (web-1, my-key, …: DOC_NAMES) are sent as
``dcgt-<run>-web-1`` (in a URL's path segment or query value, a JSON body's name fields, a header) and read back
without the prefix; the ids in a create's body (image_id, flavor_id, network_id) are replaced by the test
cloud's. Servers, keypairs, groups and volumes are found again by this run's prefix; floating IPs, which have no
name, by the ids the examples and the options got (the only thing an interrupted run can leave behind that the
next run does not sweep: no answer shown counts them). Everything is deleted at the end of the module, even
when an example fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack_client import apikeys
from tests.cloud.harness import (
    PREFIX,
    RUN,
    Cloud,
    Gateway,
    Upstream,
    password_auth,
    wait_for,
    wait_gone,
)
from tests.cloud.multi import Client, Cluster, need_haproxy
from tests.cloud.test_cloud_networking import FLOATING_WAIT
from tests.docs_examples import Answer, Command, Example, all_examples

EXAMPLES = [example for example in all_examples() if example.run]
RUN_PREFIX = f"{PREFIX}{RUN}-"
# the names the docs use for what the examples create, longest first (web-2-snap before web-2)
DOC_NAMES = (
    "web-2-snap",
    "web-1",
    "web-2",
    "web-3",
    "my-key",
    "laptop",
    "broken",
    "auth-doc-1",
    "auth-doc-lq",
    "data-1",
    "data-2",
    "web",
    "db",
)
_NAMES = "|".join(map(re.escape, DOC_NAMES))
_DOC_NAME = re.compile(r"(?<![\w-])(" + _NAMES + r")(?![\w-])")
# in a URL: a whole path segment or query value ("web" in /security-group/web/rule, not in /api/v1/server?web=)
_URL_NAME = re.compile(r"(?<=[/=])(" + _NAMES + r")(?=[/?&#]|$)")
# the fields of a JSON body that hold a name (not "description": "Front-end web server", nor metadata values)
NAME_FIELDS = {"name", "security_group", "security_groups", "volume", "boot_volume", "key_name"}
STATE_OPTIONS = ("servers", "keypairs", "security_groups", "floating_ips", "volumes")
VOLUME_SETTLED = ("available", "in-use", "error")
VOLUME_WAIT = 60  # s: a create, attach, detach or delete takes 1-3 s on the local cloud
# the public key the docs import as 'laptop' (docs/api/keypairs.md)
LAPTOP_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1q7xCYdeicnWlecF+SNjKRZy5J9GEvSUv/Mph/5dXO me@laptop"
STATUS_ACTIONS = {"ACTIVE": "start", "SHUTOFF": "stop"}
NETWORKS = {"demo": "demo-net", "lowquota": "lowquota-net"}  # the network a project's servers boot on
# an event stream's cursor (id:): Nova's clock in seconds, then what it carries
CURSOR = re.compile(r"\d+(\.[\w-]+)?")
STREAM_WAIT = 90  # s: the events up to the one awaited (synced comes at once: one list of Nova)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ANY_HOST = re.compile(r"^http://127\.0\.0\.1:\d+")

_NORMALISE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"[0-9a-f]{32,}"), "<hex>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"), "<ip>"),
    (re.compile(r"\b[0-9a-f]{2}(:[0-9a-f]{2}){5,}\b"), "<hex:hex>"),
]


def normalise(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in _NORMALISE:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        out = {key: normalise(item) for key, item in value.items()}
        # a port's groups are a set: Nova and Neutron list them in no stable order (db, web in one run, web, db in
        # the next), so both sides are compared in one order
        if isinstance(out.get("security_groups"), list):
            out["security_groups"] = sorted(out["security_groups"], key=lambda group: json.dumps(group, sort_keys=True))
        return out
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def matched(shown: Any, actual: Any) -> Any:
    """`shown` with each string holding '…' replaced by the actual one it matches, and request_id where the
    docs leave it out: what is left to compare must then be equal."""
    if isinstance(shown, str) and isinstance(actual, str) and "…" in shown:
        pattern = ".*".join(re.escape(part) for part in shown.split("…"))
        return actual if re.fullmatch(pattern, actual, re.S) else shown
    if isinstance(shown, dict) and isinstance(actual, dict):
        out = {key: matched(value, actual.get(key)) for key, value in shown.items()}
        if "request_id" in actual and "request_id" not in shown and "code" in shown:
            out["request_id"] = actual["request_id"]  # "the shorter examples leave it out"
        return out
    if isinstance(shown, list) and isinstance(actual, list) and len(shown) == len(actual):
        return [matched(s, a) for s, a in zip(shown, actual, strict=True)]
    return shown


def to_cloud(text: str) -> str:
    """A header as the test sends it: the docs' names get this run's prefix."""
    return _DOC_NAME.sub(lambda m: RUN_PREFIX + m[1], text)


def url_to_cloud(url: str) -> str:
    return _URL_NAME.sub(lambda m: RUN_PREFIX + m[1], url)


def body_to_cloud(body: Any) -> Any:
    """A JSON body as the test sends it: the docs' names in its name fields get this run's prefix."""

    def named(value: Any) -> Any:
        if isinstance(value, str) and value in DOC_NAMES:
            return RUN_PREFIX + value
        return [named(item) for item in value] if isinstance(value, list) else value

    if isinstance(body, dict):
        return {k: named(v) if k in NAME_FIELDS else body_to_cloud(v) for k, v in body.items()}
    return body


def from_cloud(text: str) -> str:
    return text.replace(RUN_PREFIX, "")


class DocsCloud:
    """The gateways the examples run on, and the state the examples' options ask for."""

    def __init__(self, cloud: Cloud, start_gateway: Callable[..., Gateway], upstream: Upstream) -> None:
        self.cloud, self.upstream, self._start = cloud, upstream, start_gateway
        self.gateways: dict[str, Gateway] = {}
        self.variables: dict[str, str] = {}
        self.floating_ips: set[str] = set()  # ids: this run's (they have no name)
        self.ids: dict[str, str] = {}  # an id an answer showed -> the one the cloud answered there
        self.since: str | None = None  # the changes_since of the example being run (given_servers)
        self.boot_volumes: set[str] = set()  # ids: the volumes of the servers the examples answered
        self.gateway("demo")

    def _settings(self, user: str) -> dict[str, str]:
        return {**self.cloud.credentials(user), "CORS_ORIGINS": "http://localhost:3000"}

    def fresh_gateway(self) -> Gateway:
        """A gateway of its own for one example (gateway=fresh): nothing but its start-up polls served yet."""
        return self._start(self._settings("demo"), "docs-fresh")

    def balanced(self, logs: Path) -> Cluster:
        """Three instances behind deploy/haproxy.cfg, each taking the operator key $KEY (gateway=balanced)."""
        need_haproxy()
        key, line = apikeys.new_key("operator", "example")
        self.variables["KEY"] = key
        cluster = Cluster({**self._settings("demo"), "API_KEYS": line}, logs)
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def gateway(self, name: str) -> Gateway:
        if name not in self.gateways:
            user = "lowquota" if name == "lowquota" else "demo"
            settings = self._settings(user)
            if name == "keys":
                reader, reader_line = apikeys.new_key("reader", "dashboard")
                operator, operator_line = apikeys.new_key("operator", "ci bot")
                settings |= {"API_KEYS": f"{reader_line}\n{operator_line}", "ALLOW_USER_TOKENS": "true"}
                self.variables |= {"READER": reader, "OPERATOR": operator, "DEMO_TOKEN": self.token("demo")}
            if name == "nobody":
                settings["USERNAME"] = "nobody"  # a user Keystone does not know
            self.gateways[name] = self._start(settings, f"docs-{name}")
        return self.gateways[name]

    def token(self, user: str) -> str:
        """A token of `user`'s, scoped to the user's project, from Keystone."""
        with requests.post(self.cloud.auth_url + "/auth/tokens", json=password_auth(self.cloud, user), timeout=30) as r:
            assert r.status_code == 201, r.text
            return r.headers["X-Subject-Token"]

    def set_variables(self, example: Example) -> None:
        """The variables the example sets itself (TOKEN=$(curl … Keystone …)), run as the docs show them."""
        for name, line in example.assignments:
            # the docs' Keystone and password: the test cloud's
            line = line.replace("http://127.0.0.1:5000/v3", self.cloud.auth_url)
            password = json.dumps(self.cloud.users["demo"]["password"])  # every user's (DEVSTACK_CLOUD_PASSWORD)
            line = line.replace('"password": "secret"', '"password": ' + password)
            script = f'set -o pipefail\n{line}\nprintf %s "${name}"'
            done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0 and done.stdout, (example.where, name, done.returncode, done.stderr)
            self.variables[name] = done.stdout

    # -------------------------------------------------------------------------------------------- servers

    def servers(self, project: str = "demo") -> list[dict[str, Any]]:
        gw = self.gateway(project)
        resp = gw.get("/api/v1/server", params={"name_like": RUN_PREFIX, "fields": "id,name,status,task_state"})
        assert resp.status_code == 200, resp.text
        return resp.json()["servers"]

    def given_servers(self, wanted: dict[str, str], project: str = "demo") -> None:
        """Exactly these servers of this run (docs name -> status), and no transition under way; DELETED ones
        booted and deleted after the others settled, self.since the moment before."""
        gw = self.gateway(project)
        deleted = [name for name, status in wanted.items() if status == "DELETED"]
        wanted = {name: status for name, status in wanted.items() if status != "DELETED"}
        kept: set[str] = set()
        doomed = []
        for server in self.servers(project):
            name = from_cloud(server["name"])
            if name in wanted and name not in kept and server["status"] in ("ACTIVE", "SHUTOFF", "BUILD"):
                kept.add(name)
            else:
                doomed.append(server["id"])
        for server_id in doomed:
            assert gw.delete(f"/api/v1/server/{server_id}").status_code in (204, 404)
        for server_id in doomed:
            wait_gone(gw, server_id)
        for name in wanted.keys() - kept:
            resp = gw.post("/api/v1/server", params={"wait": "true"}, json=self._server_body(name, project))
            assert resp.status_code == 201, resp.text
        for name, status in wanted.items():
            self._settle(RUN_PREFIX + name, status, project)
        if deleted:
            # Nova's changes-since compares its updated_at (whole seconds here): a whole second after the last
            # change above, so that none of them is at or after the time sent
            time.sleep(1.1)
            self.since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for name in deleted:
                resp = gw.post("/api/v1/server", params={"wait": "true"}, json=self._server_body(name, project))
                assert resp.status_code == 201, resp.text
                assert gw.delete(f"/api/v1/server/{resp.json()['id']}").status_code == 204
                wait_gone(gw, resp.json()["id"])

    @staticmethod
    def _server_body(name: str, project: str) -> dict[str, str]:
        return {"name": RUN_PREFIX + name, "image": "tiny-raw", "flavor": "m1.nano", "network": NETWORKS[project]}

    def _settle(self, name: str, status: str, project: str = "demo") -> None:
        gw = self.gateway(project)

        def current() -> dict[str, Any] | None:
            server = gw.get(f"/api/v1/server/{name}").json()
            return server if server["task_state"] is None and server["status"] != "BUILD" else None

        server = wait_for(current, 120, f"{name} to settle", interval=0.5)
        if server["status"] != status:
            resp = gw.post(f"/api/v1/server/{name}/action", json={"action": STATUS_ACTIONS[status]})
            assert resp.status_code == 202, resp.text
            wait_for(
                lambda: ((s := current()) and s["status"] == status) or None, 120, f"{name} {status}", interval=0.5
            )

    # ------------------------------------------------------------------------------------------- keypairs

    def keypairs(self) -> list[str]:
        resp = self.gateways["demo"].get("/api/v1/keypair")
        assert resp.status_code == 200, resp.text
        return [k["name"] for k in resp.json()["keypairs"] if k["name"].startswith(PREFIX)]

    def given_keypairs(self, wanted: list[str]) -> None:
        gw = self.gateways["demo"]
        have = self.keypairs()
        for name in have:
            if from_cloud(name) not in wanted:
                assert gw.delete(f"/api/v1/keypair/{name}").status_code == 204
        for name in wanted:
            if RUN_PREFIX + name not in have:
                body = {"name": RUN_PREFIX + name, **({"public_key": LAPTOP_KEY} if name == "laptop" else {})}
                assert gw.post("/api/v1/keypair", json=body).status_code == 201

    # ---------------------------------------------------------------------------------------------- images

    def delete_images(self) -> None:
        """Snapshots this module's examples made (and an interrupted run's), named PREFIX*, owned by demo."""
        owner = self.cloud.users["demo"]["project_id"]
        for image in self.upstream.get("image", "/v2/images", owner=owner)["images"]:
            if image["name"].startswith(PREFIX):
                self.upstream.request("image", "DELETE", f"/v2/images/{image['id']}").close()

    # ------------------------------------------------------------------------------------- security groups

    def given_security_groups(self, items: list[str]) -> None:
        """Exactly these groups of this run; each server's ports in exactly the groups named with its @."""
        gw = self.gateways["demo"]
        names, on = set(), {}
        for item in items:
            name, _, server = item.partition("@")
            names.add(name)
            if server:
                on.setdefault(server, []).append(name)
        ours = self._groups()
        for name in names - ours.keys():
            resp = gw.post("/api/v1/security-group", json={"name": RUN_PREFIX + name})
            assert resp.status_code == 201, resp.text
            ours[name] = [resp.json()["id"]]
        default = self._groups(prefix="")["default"][0]
        mine = {group_id for ids in ours.values() for group_id in ids}
        for server in self.servers():
            named = on.get(from_cloud(server["name"]), [])
            ports = gw.get(f"/api/v1/server/{server['id']}/interfaces")
            assert ports.status_code in (200, 404), ports.text  # 404: being deleted
            have = {g["id"] for port in ports.json().get("interfaces", []) for g in port["security_groups"]}
            if not named and not have & mine:
                continue  # in the default group (or no port yet, or none left)
            want = [ours[name][0] for name in named] or [default]
            added, removed = [g for g in want if g not in have], have - set(want)
            for action, groups in (("add_security_group", added), ("remove_security_group", removed)):
                for group_id in groups:
                    resp = gw.post(
                        f"/api/v1/server/{server['id']}/action", json={"action": action, "security_group": group_id}
                    )
                    assert resp.status_code == 202, resp.text
        for name, ids in self._groups().items():
            for group_id in ids[1:] if name in names else ids:  # a twin an example made, or one not wanted
                assert gw.delete(f"/api/v1/security-group/{group_id}").status_code == 204

    def _groups(self, prefix: str = RUN_PREFIX) -> dict[str, list[str]]:
        """The project's groups named prefix*: name without the prefix -> ids."""
        resp = self.gateways["demo"].get("/api/v1/security-group", params={"limit": 1000, "fields": "id,name"})
        assert resp.status_code == 200, resp.text
        found: dict[str, list[str]] = {}
        for group in resp.json()["security_groups"]:
            if group["name"].startswith(prefix):
                found.setdefault(group["name"].removeprefix(prefix), []).append(group["id"])
        return found

    # ---------------------------------------------------------------------------------------- floating IPs

    def given_floating_ips(self, servers: list[str]) -> None:
        """One floating IP of this run on each of these servers, none elsewhere; Nova lists exactly those."""
        gw = self.gateways["demo"]
        ids = {from_cloud(s["name"]): s["id"] for s in self.servers()}
        wanted = {ids[name] for name in servers}
        kept: dict[str, str] = {}  # server id -> address
        changed = set(wanted)  # the servers whose floating addresses Nova must list anew
        resp = gw.get("/api/v1/floating-ip", params={"limit": 1000})
        assert resp.status_code == 200, resp.text
        for fip in resp.json()["floating_ips"]:
            if fip["id"] not in self.floating_ips:
                continue
            if fip["server_id"] in wanted and fip["server_id"] not in kept:
                kept[fip["server_id"]] = fip["address"]
            else:
                assert gw.delete(f"/api/v1/floating-ip/{fip['id']}").status_code == 204
                self.floating_ips.discard(fip["id"])
                if fip["server_id"] in ids.values():
                    changed.add(fip["server_id"])
        for server_id in wanted - kept.keys():
            resp = gw.post(f"/api/v1/server/{server_id}/action", json={"action": "add_floating_ip"})
            assert resp.status_code == 202, resp.text
            self.floating_ips.add(resp.json()["floating_ip"]["id"])
            kept[server_id] = resp.json()["floating_ip"]["address"]
        # Neutron tells Nova, which lists an attached or released address a moment later
        for server_id in changed:

            def listed(server_id: str = server_id) -> bool | None:
                addresses = gw.get(f"/api/v1/server/{server_id}").json()["addresses"]
                floating = {a["addr"] for net in addresses.values() for a in net if a["type"] == "floating"}
                return True if floating == ({kept[server_id]} if server_id in kept else set()) else None

            wait_for(listed, FLOATING_WAIT, f"Nova to list {server_id}'s floating address", interval=0.3)

    def release_floating_ips(self) -> None:
        for fip_id in self.floating_ips:
            assert self.gateways["demo"].delete(f"/api/v1/floating-ip/{fip_id}").status_code in (204, 404)
        self.floating_ips.clear()

    # --------------------------------------------------------------------------------------------- volumes

    def given_volumes(self, items: list[str]) -> None:
        """Exactly these volumes of this run; with @server attached to it, else available."""
        gw = self.gateways["demo"]
        wanted = dict((item.partition("@")[0], item.partition("@")[2] or None) for item in items)
        servers = {from_cloud(s["name"]): s["id"] for s in self.servers()}
        kept: dict[str, dict[str, Any]] = {}
        for volume in self._volumes(RUN_PREFIX):
            name = from_cloud(volume["name"])
            if name in wanted and name not in kept:
                kept[name] = volume
            else:
                self._delete_volume(volume["id"])
        for name in wanted.keys() - kept.keys():
            resp = gw.post("/api/v1/volume", params={"wait": "true"}, json={"name": RUN_PREFIX + name, "size": 1})
            assert resp.status_code == 201, resp.text
            kept[name] = resp.json()
        for name, volume in kept.items():
            volume = self._settled(volume["id"])
            server_id = servers[wanted[name]] if wanted[name] else None
            if [a["server_id"] for a in volume["attachments"]] != ([server_id] if server_id else []):
                self._detach(volume)
                if server_id:
                    body = {"action": "attach_volume", "volume": volume["id"]}
                    resp = gw.post(f"/api/v1/server/{server_id}/action", json=body)
                    assert resp.status_code == 202, resp.text
                    assert self._settled(volume["id"])["status"] == "in-use"

    def _volumes(self, prefix: str) -> list[dict[str, Any]]:
        resp = self.gateways["demo"].get("/api/v1/volume", params={"limit": 1000})
        assert resp.status_code == 200, resp.text
        return [volume for volume in resp.json()["volumes"] if volume["name"].startswith(prefix)]

    def _settled(self, volume_id: str) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            volume = self.gateways["demo"].get(f"/api/v1/volume/{volume_id}").json()
            return volume if volume["status"] in VOLUME_SETTLED else None

        return wait_for(settled, VOLUME_WAIT, f"volume {volume_id} to settle", interval=0.5)

    def _detach(self, volume: dict[str, Any]) -> None:
        for attachment in volume["attachments"]:
            body = {"action": "detach_volume", "volume": volume["id"]}
            resp = self.gateways["demo"].post(f"/api/v1/server/{attachment['server_id']}/action", json=body)
            assert resp.status_code == 202, resp.text
        if volume["attachments"]:
            assert self._settled(volume["id"])["status"] == "available"

    def _delete_volume(self, volume_id: str) -> None:
        gw = self.gateways["demo"]
        if gw.get(f"/api/v1/volume/{volume_id}").status_code == 404:
            return
        self._detach(self._settled(volume_id))
        assert gw.delete(f"/api/v1/volume/{volume_id}").status_code in (204, 404)
        wait_for(lambda: True if gw.get(f"/api/v1/volume/{volume_id}").status_code == 404 else None, VOLUME_WAIT,
                 f"volume {volume_id} to go", interval=0.5)  # fmt: skip

    # ------------------------------------------------------------------------------------------- the state

    def given(self, options: dict[str, str]) -> None:
        """The state an example's options ask for (see the module's docstring)."""
        self.since = None
        if "lowquota_servers" in options:
            self.given_servers(dict(item.split(":") for item in items(options["lowquota_servers"])), "lowquota")
        if not any(name in options for name in STATE_OPTIONS):
            return
        if "servers" in options:
            self.given_servers(dict(item.split(":") for item in items(options["servers"])))
        if "keypairs" in options:
            self.given_keypairs(items(options["keypairs"]))
        self.given_security_groups(items(options.get("security_groups", "")))
        self.given_floating_ips(items(options.get("floating_ips", "")))
        self.given_volumes(items(options.get("volumes", "")))

    def sweep(self) -> None:
        """What an interrupted run left that would show in the lists and limits the docs show."""
        self.given_keypairs([])
        self.delete_images()
        for volume in self._volumes(PREFIX):
            self._delete_volume(volume["id"])
        for ids in self._groups(PREFIX).values():
            for group_id in ids:
                self.gateways["demo"].delete(f"/api/v1/security-group/{group_id}").close()

    def cleanup(self) -> None:
        """Everything this run made, each step tried even when one before it failed."""
        steps = [
            lambda: self.given_servers({}),  # first: a group on a port, or an attached volume, cannot be deleted
            lambda: self.given_servers({}, "lowquota") if "lowquota" in self.gateways else None,
            self.release_floating_ips,
            lambda: self.given_security_groups([]),
            lambda: self.given_volumes([]),
            # deleted with their server (delete_on_termination), unless that failed
            *[lambda volume_id=volume_id: self._delete_volume(volume_id) for volume_id in self.boot_volumes],
            lambda: self.given_keypairs([]),
            self.delete_images,
        ]
        failed: list[BaseException] = []
        for step in steps:
            try:
                step()
            except (Exception, pytest.fail.Exception) as exc:
                failed.append(exc)
        if failed:
            raise failed[0]

    # --------------------------------------------------------------------------------------------- running

    def send(self, gw: Gateway | Client, command: Command, stream: bool = False) -> requests.Response:
        request = command.request(self.variables)
        path = _ANY_HOST.sub("", url_to_cloud(request.url))  # Gateway.request prefixes its own base
        # an id in a URL is one an earlier answer showed: else the call would reach nothing, and a 404 shown
        # for it (another project's server, say) would pass whatever the gateway does
        unknown = [found for found in _UUID.findall(path) if found not in self.ids]
        assert not unknown, f"{unknown}: ids in a URL must be ones an earlier example's answer showed"
        path = _UUID.sub(lambda m: self.ids[m[0]], path)
        if "changes_since=" in path:
            assert self.since, "changes_since needs a DELETED server in servers=: else the answer is the history"
            path = re.sub(r"(?<=changes_since=)[^&#]+", self.since, path)
        data = request.data
        if data is not None:
            if request.headers.get("Content-Type") == "application/json":
                body = body_to_cloud(json.loads(data))
                # the docs' ids of the image, flavor and network: the test cloud's own
                ids = {
                    "image_id": self.cloud.image["id"],
                    "flavor_id": self.cloud.flavor["id"],
                    "network_id": self.cloud.networks["demo"]["id"],
                }
                data = json.dumps({k: ids.get(k, v) if k in ids else v for k, v in body.items()})
            else:
                data = to_cloud(data)
        headers = {name: to_cloud(value) for name, value in request.headers.items()}
        if stream:
            return gw.request(request.method, path, headers=headers, stream=True, timeout=(10, 30))
        resp = gw.request(request.method, path, headers=headers, data=data, timeout=120, allow_redirects=False)
        self._track(resp)
        return resp

    def learn_ids(self, shown: Any, actual: Any) -> None:
        """The ids an answer showed, each with the one the cloud answered in its place."""
        if isinstance(shown, str) and isinstance(actual, str) and _UUID.fullmatch(shown) and _UUID.fullmatch(actual):
            self.ids[shown] = actual
        elif isinstance(shown, dict) and isinstance(actual, dict):
            for key, value in shown.items():
                self.learn_ids(value, actual.get(key))
        elif isinstance(shown, list) and isinstance(actual, list):
            for s, a in zip(shown, actual, strict=False):
                self.learn_ids(s, a)

    def _track(self, resp: requests.Response) -> None:
        """The floating IPs an example allocated (they have no name to find them by), its servers' volumes."""
        try:
            body = resp.json()
        except ValueError:
            return
        if not isinstance(body, dict) or resp.status_code >= 400:
            return
        if resp.request.method == "POST" and resp.request.path_url.startswith("/api/v1/floating-ip"):
            self.floating_ips.add(body["id"])
        if isinstance(body.get("floating_ip"), dict):  # an add_floating_ip action's
            self.floating_ips.add(body["floating_ip"]["id"])
        if "flavor" in body and isinstance(body.get("volumes"), list):  # a server's
            self.boot_volumes |= {volume["id"] for volume in body["volumes"]}


def items(option: str) -> list[str]:
    return [item for item in option.split(",") if item]


def check(resp: requests.Response, shown: Answer | None, where: str) -> Any:
    """Assert the answer is the one shown; the body it answered (JSON), if any."""
    text = from_cloud(resp.text)
    if shown is None or (shown.status is None and not shown.has_body):
        assert resp.status_code < 400, (where, resp.status_code, text)
        return
    if shown.status is not None:
        assert resp.status_code == shown.status, (where, resp.status_code, text)
    for name, value in shown.headers.items():
        assert name in resp.headers, (where, name, dict(resp.headers))
        # a list (Allow, Vary, Access-Control-*) in any order: Werkzeug builds Allow from a set
        got, want = (sorted(normalise(v).split(", ")) for v in (from_cloud(resp.headers[name]), value))
        assert got == want, (where, name, resp.headers[name])
    if shown.has_body:
        print(f"{where} answered:\n{text}")  # shown in full when the comparison fails: to re-capture it
        actual = normalise(json.loads(text))
        assert normalise(matched(shown.body, json.loads(text))) == actual, where
        if shown.status is None:  # a body alone: an error body must come with an error status, and only then
            assert (resp.status_code >= 400) == ("code" in shown.body), (where, resp.status_code)
        return json.loads(resp.text)
    elif shown.status is not None and resp.status_code == 204:
        assert not resp.content, where
    return None


def grepped(text: str, pattern: str) -> list[str]:
    """The lines of `text` that ``grep -E pattern`` keeps: the reader's grep, not a Python regex like it."""
    done = subprocess.run(["grep", "-E", pattern], input=text, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode in (0, 1), (pattern, done.stderr)  # 1: no line kept
    return done.stdout.splitlines()


def check_lines(text: str, pattern: str, shown: list[str], where: str) -> None:
    """The lines grep keeps of an answer are the ones shown, in any order."""
    got = [from_cloud(line) for line in grepped(text, pattern)]
    print(f"{where} grep kept:\n" + "\n".join(got))  # to re-capture it
    # sorted, not a set: a line shown twice must be kept twice
    assert sorted(got) == sorted(shown), (where, got, shown)


def read_events(resp: requests.Response, until: str) -> list[list[str]]:
    """A stream's events (each its lines) up to the first `until` event; the connection is then closed."""
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("text/event-stream"), resp.headers
    events: list[list[str]] = [[]]
    deadline = time.monotonic() + STREAM_WAIT
    try:
        # a byte at a time: a line is read as soon as the gateway sends it, never waiting for a fuller chunk
        for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
            if line:
                events[-1].append(from_cloud(line))
            elif events[-1]:
                if f"event: {until}" in events[-1]:
                    return events
                events.append([])
            assert time.monotonic() < deadline, f"no {until} event within {STREAM_WAIT}s: {events}"
    finally:
        resp.close()
    raise AssertionError(f"the stream ended before a {until} event: {events}")


def data_matches(shown: str, actual: str) -> bool:
    """An event's data as shown (JSON; an object ending ``,…}`` has at least these members) and as answered."""
    got = json.loads(actual)
    if shown.endswith(",…}"):
        want = json.loads(shown[: -len(",…}")] + "}")
        if not isinstance(got, dict) or not want.keys() <= got.keys():
            return False
        got = {key: got[key] for key in want}
    else:
        want = json.loads(shown)
    return normalise(matched(want, got)) == normalise(got)


def check_events(actual: list[list[str]], shown: list[list[str]], where: str) -> None:
    print(f"{where} streamed:\n" + "\n\n".join("\n".join(event) for event in actual))  # to re-capture it
    assert len(actual) == len(shown), (where, len(actual), len(shown))
    for got, want in zip(actual, shown, strict=True):
        assert len(got) == len(want), (where, got, want)
        for got_line, want_line in zip(got, want, strict=True):
            name, _, value = want_line.partition(": ")
            got_name, _, got_value = got_line.partition(": ")
            assert got_name == name, (where, got_line, want_line)
            if name == "data":
                assert data_matches(value, got_value), (where, got_line, want_line)
            elif name == "id":
                assert CURSOR.fullmatch(value) and CURSOR.fullmatch(got_value), (where, got_line, want_line)
            else:
                assert got_line == want_line, (where, got_line, want_line)


@pytest.fixture(scope="module")
def docs_cloud(
    cloud_info: Cloud, start_gateway: Callable[..., Gateway], upstream: Callable[[str], Upstream]
) -> Iterator[DocsCloud]:
    state = DocsCloud(cloud_info, start_gateway, upstream("demo"))
    try:
        state.sweep()
        yield state
    finally:
        state.cleanup()


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_docs_example_answers_as_shown(
    docs_cloud: DocsCloud, example: Example, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = example.options.get("gateway", "demo")
    own = name in ("fresh", "balanced")  # started for this example alone, after the state is set
    gw: Gateway | Client | None = None if own else docs_cloud.gateway(name)
    docs_cloud.given(example.options)
    docs_cloud.set_variables(example)
    cluster = None
    if name == "fresh":
        gw = docs_cloud.fresh_gateway()
    elif name == "balanced":
        cluster = docs_cloud.balanced(tmp_path_factory.mktemp("docs-balanced"))
        gw = cluster.lb
    assert gw is not None
    try:
        run_commands(docs_cloud, gw, example)
    finally:
        if cluster is not None:
            cluster.stop()
        elif name == "fresh":
            gw.stop()


def run_commands(docs_cloud: DocsCloud, gw: Gateway | Client, example: Example) -> None:
    for command in example.commands:
        # :8081 is the docs' second gateway: one the gateway= option names
        assert ":8081/" not in command.text or "gateway" in example.options, example.where
        if "stream-until" in example.options:
            resp = docs_cloud.send(gw, command, stream=True)
            check_events(read_events(resp, example.options["stream-until"]), command.answer.events, example.where)
            continue
        resp = docs_cloud.send(gw, command)
        if command.grep is not None:
            assert resp.status_code == 200, (example.where, resp.status_code, resp.text)
            check_lines(resp.text, command.grep, command.answer.lines, example.where)
            continue
        body = check(resp, command.answer, example.where)
        if body is not None:
            docs_cloud.learn_ids(command.answer.body, body)
