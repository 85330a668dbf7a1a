"""Every curl example of the docs, run against the real cloud, answers what the docs show.

The examples and their shown answers come from tests/docs_examples.py (marked in the Markdown). Each runs, in
the docs' order, on a gateway acting as `demo` (with CORS_ORIGINS=http://localhost:3000, as the operations
examples say), or with `gateway=keys` on one that takes API keys ($READER labelled 'dashboard', $OPERATOR
'ci bot') and user tokens. Before an example, its options put the cloud in the state the docs assume:
``servers=web-1:ACTIVE`` (exactly these servers of this run, in that status), ``keypairs=my-key,laptop``.

What differs from one cloud or run to the next is normalised on both sides before the comparison: ids, long
hex digests, times, addresses, fingerprints; an error's ``request_id`` when the docs leave it out (they say
so); a ``…`` in a shown string matches anything. The docs' names (web-1, my-key, …) are sent as
``dcgt-<run>-web-1`` (the harness deletes servers named so) and read back without the prefix; the ids in a
create's body (image_id, flavor_id, network_id) are replaced by the test cloud's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
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
    wait_for,
    wait_gone,
)
from tests.docs_examples import DOCS_HOST, Answer, Command, Example, all_examples

EXAMPLES = [example for example in all_examples() if example.run]
RUN_PREFIX = f"{PREFIX}{RUN}-"
# the names the docs use for what the examples create, longest first (web-2-snap before web-2)
DOC_NAMES = ("web-2-snap", "web-1", "web-2", "my-key", "laptop", "broken", "auth-doc-1")
_DOC_NAME = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, DOC_NAMES)) + r")(?![\w-])")
# the public key the docs import as 'laptop' (docs/api/keypairs.md)
LAPTOP_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1q7xCYdeicnWlecF+SNjKRZy5J9GEvSUv/Mph/5dXO me@laptop"
STATUS_ACTIONS = {"ACTIVE": "start", "SHUTOFF": "stop"}

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
        return {key: normalise(item) for key, item in value.items()}
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
    """A command as the test sends it: the docs' names get this run's prefix."""
    return _DOC_NAME.sub(lambda m: RUN_PREFIX + m[1], text)


def from_cloud(text: str) -> str:
    return text.replace(RUN_PREFIX, "")


class DocsCloud:
    """The gateways the examples run on, and the state the examples' options ask for."""

    def __init__(self, cloud: Cloud, start_gateway: Callable[..., Gateway], upstream: Upstream) -> None:
        self.cloud, self.upstream, self._start = cloud, upstream, start_gateway
        self.gateways: dict[str, Gateway] = {}
        self.variables: dict[str, str] = {}
        self.gateway("demo")

    def gateway(self, name: str) -> Gateway:
        if name not in self.gateways:
            settings = {**self.cloud.credentials("demo"), "CORS_ORIGINS": "http://localhost:3000"}
            if name == "keys":
                reader, reader_line = apikeys.new_key("reader", "dashboard")
                operator, operator_line = apikeys.new_key("operator", "ci bot")
                settings |= {"API_KEYS": f"{reader_line}\n{operator_line}", "ALLOW_USER_TOKENS": "true"}
                self.variables |= {"READER": reader, "OPERATOR": operator}
            self.gateways[name] = self._start(settings, f"docs-{name}")
        return self.gateways[name]

    # -------------------------------------------------------------------------------------------- servers

    def servers(self) -> list[dict[str, Any]]:
        gw = self.gateways["demo"]
        resp = gw.get("/api/v1/server", params={"name_like": RUN_PREFIX, "fields": "id,name,status,task_state"})
        assert resp.status_code == 200, resp.text
        return resp.json()["servers"]

    def given_servers(self, wanted: dict[str, str]) -> None:
        """Exactly these servers of this run (docs name -> status), and no transition under way."""
        gw = self.gateways["demo"]
        kept: set[str] = set()
        doomed = []
        for server in self.servers():
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
            body = {"name": RUN_PREFIX + name, "image": "tiny-raw", "flavor": "m1.nano", "network": "demo-net"}
            resp = gw.post("/api/v1/server", params={"wait": "true"}, json=body)
            assert resp.status_code == 201, resp.text
        for name, status in wanted.items():
            self._settle(RUN_PREFIX + name, status)

    def _settle(self, name: str, status: str) -> None:
        gw = self.gateways["demo"]

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

    def cleanup(self) -> None:
        self.given_servers({})
        self.given_keypairs([])
        self.delete_images()

    # --------------------------------------------------------------------------------------------- running

    def send(self, gw: Gateway, command: Command) -> requests.Response:
        request = command.request(self.variables)
        path = to_cloud(request.url).removeprefix(DOCS_HOST)  # Gateway.request prefixes its own base
        data = request.data
        if data is not None:
            data = to_cloud(data)
            if request.headers.get("Content-Type") == "application/json":
                body = json.loads(data)
                # the docs' ids of the image, flavor and network: the test cloud's own
                ids = {
                    "image_id": self.cloud.image["id"],
                    "flavor_id": self.cloud.flavor["id"],
                    "network_id": self.cloud.networks["demo"]["id"],
                }
                data = json.dumps({k: ids.get(k, v) if k in ids else v for k, v in body.items()})
        headers = {name: to_cloud(value) for name, value in request.headers.items()}
        return gw.request(request.method, path, headers=headers, data=data, timeout=120, allow_redirects=False)


def check(resp: requests.Response, shown: Answer | None, where: str) -> None:
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
        actual = normalise(json.loads(text))
        assert normalise(matched(shown.body, json.loads(text))) == actual, where
        if shown.status is None:  # a body alone: an error body must come with an error status, and only then
            assert (resp.status_code >= 400) == ("code" in shown.body), (where, resp.status_code)
    elif shown.status is not None and resp.status_code == 204:
        assert not resp.content, where


@pytest.fixture(scope="module")
def docs_cloud(
    cloud_info: Cloud, start_gateway: Callable[..., Gateway], upstream: Callable[[str], Upstream]
) -> Iterator[DocsCloud]:
    state = DocsCloud(cloud_info, start_gateway, upstream("demo"))
    # an interrupted run's keypairs and snapshots would show in the lists and limits the docs show
    state.given_keypairs([])
    state.delete_images()
    try:
        yield state
    finally:
        state.cleanup()


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_docs_example_answers_as_shown(docs_cloud: DocsCloud, example: Example) -> None:
    gw = docs_cloud.gateway(example.options.get("gateway", "demo"))
    if "servers" in example.options:
        wanted = dict(item.split(":") for item in example.options["servers"].split(",") if item)
        docs_cloud.given_servers(wanted)
    if "keypairs" in example.options:
        docs_cloud.given_keypairs([name for name in example.options["keypairs"].split(",") if name])
    for command in example.commands:
        check(docs_cloud.send(gw, command), command.answer, example.where)
