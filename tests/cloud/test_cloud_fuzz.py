"""Spec-driven fuzzing against the real cloud: schemathesis, our /swagger.json, the gateway as a process.

The same checks as tests/api/test_fuzz.py (documented status, schema, headers; errors with ``code`` and
``message``; the spec's limits enforced), except that a 5xx is allowed where the spec documents one (OpenStack
itself may fail: 501, 502, 503, 504), never a 500, and never a 502 for which OpenStack answered 500: an upstream
500 to what the gateway forwarded is the gateway's bug (tests/checks.py no_upstream_500). The gateway acts as
user ``bulk`` (no instance, core or RAM quota) with an API key required, so that schemathesis also checks that
calls without the key are refused.

Safe on a shared cloud: every name a case would create (server, keypair, snapshot) and every ref a case would
change or delete is given this run's prefix, so a case can only touch what this run created, or nothing; a
positive case acts on one of this run's servers. At most MAX_CREATES servers are booted for real (the others'
image, flavor and network stay fuzzed, and Nova refuses them). Everything named with the prefix is deleted at
the end (servers, keypairs, snapshot images), and leftovers of an interrupted run at the start.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, positive_data_acceptance

from devstack_client.api.query import moment
from devstack_client.apikeys import new_key
from tests.checks import (
    authenticate,
    configure,
    error_has_code_and_message,
    excluded,
    json_or_no_content,
    no_upstream_500,
)
from tests.cloud.harness import DELETE_TIMEOUT, PREFIX, RUN, Cloud, Gateway, Upstream, wait_for

SPEC = Path(__file__).resolve().parents[2] / "docs" / "swagger.json"  # tests/test_openapi.py: the app's own
# 20 per operation and mode: about 1,450 cases over the 40 operations (50 made 3,600 and took minutes of CI's
# 45; the wire fuzz, tests/api/test_fuzz.py, goes deeper on the fake cloud)
EXAMPLES = int(os.environ.get("CLOUD_FUZZ_EXAMPLES", "20"))
MIN_CASES = 1000
MAX_CREATES = 6  # servers booted for real
OURS = f"{PREFIX}fz{RUN}-"  # every name this run creates, every ref it changes
SWEEP = f"{PREFIX}fz"  # what any run of this module created
OPERATOR, OPERATOR_LINE = new_key("operator", "cloud fuzz")


def served_spec() -> dict[str, Any]:
    """The spec the gateway under test serves: API keys only, so no Keystone-token scheme.

    (docs/swagger.json documents both; fuzzing with the token scheme sent most cases with an X-Auth-Token the
    gateway refuses, 401, before they reached OpenStack.)
    """
    spec = json.loads(SPEC.read_text())
    spec["securityDefinitions"] = {"apiKey": spec["securityDefinitions"]["apiKey"]}
    spec["security"] = [{"apiKey": []}]
    return spec


# The change stream never ends, and its body is no JSON document: its bad input has its own tests
# (tests/cloud/test_cloud_events.py).
schema = schemathesis.openapi.from_dict(served_spec()).exclude(path="/api/v1/server/events")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True
)


authenticate(schema, OPERATOR)


configure(schema)


class Run:
    """What this run created, and how many cases of each kind it sent."""

    def __init__(self) -> None:
        self.servers: list[str] = []
        self.creates = 0
        self.cases: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()


run = Run()


@schemathesis.check
def no_internal_error(ctx, response, case):
    """A 5xx only where the spec documents one for the operation (status_code_conformance), and never a 500."""
    assert response.status_code != 500, f"500: {response.content[:300]!r}"


def sweep(bulk: Upstream) -> None:
    """Delete every server, keypair and image named SWEEP* in the bulk project, and wait for the servers."""

    def ours(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for item in items if (item.get("name") or "").startswith(SWEEP)]

    for server in ours(bulk.get("compute", "/servers", name="^" + SWEEP)["servers"]):
        bulk.request("compute", "DELETE", f"/servers/{server['id']}").close()
    for item in ours([k["keypair"] for k in bulk.get("compute", "/os-keypairs")["keypairs"]]):
        bulk.request("compute", "DELETE", f"/os-keypairs/{item['name']}").close()
    for image in ours(bulk.get("image", "/v2/images", limit=1000)["images"]):
        bulk.request("image", "DELETE", f"/v2/images/{image['id']}").close()

    def servers_gone() -> bool | None:
        return True if not ours(bulk.get("compute", "/servers", name="^" + SWEEP)["servers"]) else None

    wait_for(servers_gone, DELETE_TIMEOUT, "the fuzz run's servers to be deleted")


@pytest.fixture(scope="module")
def fuzzed_gateway(
    cloud_info: Cloud, start_gateway: Callable[..., Gateway], upstream: Callable[[str], Upstream]
) -> Iterator[Gateway]:
    bulk = upstream("bulk")
    sweep(bulk)
    gw = start_gateway({**cloud_info.credentials("bulk"), "API_KEYS": OPERATOR_LINE}, "fuzz")
    served = gw.get("/swagger.json").json()
    assert (served["securityDefinitions"], served["security"]) == (
        schema.raw_schema["securityDefinitions"],
        schema.raw_schema["security"],
    ), "the fuzzed spec's security is not the one this gateway serves"
    try:
        yield gw
    finally:
        sweep(bulk)


def _a_time(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(moment("changes_since")(value))
    except ValueError:
        return False


def _confine(case: Any, cloud: Cloud) -> None:
    """Make the case safe on a shared cloud: our names only, our refs only, short waits."""
    op = f"{case.operation.method.upper()} {case.operation.path}"
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and isinstance(body.get("name"), str):
        body["name"] = OURS + body["name"]
    for key in ("ref", "name"):
        value = (case.path_parameters or {}).get(key)
        if isinstance(value, str) and case.operation.method.upper() != "GET":
            if positive and run.servers and key == "ref":
                case.path_parameters[key] = run.servers[run.cases[op] % len(run.servers)]
            else:
                case.path_parameters[key] = OURS + value
    query = case.query if isinstance(case.query, dict) else {}
    if op == "GET /api/v1/server" and _a_time(query.get("changes_since")):
        # Nova answers 500 to every changes-since list reaching back to a deleted server whose flavor it
        # cannot load (OrphanedObjectError; a server deleted in the middle of its build leaves one: the load
        # test's deletes did, on this cloud, in the bulk project). A valid time is fuzzed as a time to come;
        # tests/api/test_server_events.py covers that 500 (a 502 here, and the event stream's fallbacks).
        query["changes_since"] = "2099-01-01T00:00:00Z"
    if op == "POST /api/v1/server":
        if isinstance(query.get("timeout"), int):
            query["timeout"] = min(query["timeout"], 5)
        if positive and body is not None and run.creates < MAX_CREATES and not query.get("dry_run"):
            run.creates += 1
            # A server that boots: a name of ours that Nova takes, the test cloud's image, flavor and network,
            # and nothing it may lack (key, zone, group, volume). The schema's other fields each have rules
            # of ours beyond the schema (tests/api/test_bad_input.py), which a positive case can break: when
            # all six broke one, no server was made (seen once the schema gained the boot-volume fields).
            body.clear()
            body.update(
                name=f"{OURS}real-{run.creates}",
                image_id=cloud.image["id"],
                flavor_id=cloud.flavor["id"],
                network_id=cloud.networks["bulk"]["id"],
            )


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_gateway_keeps_its_spec_on_the_real_cloud(case, fuzzed_gateway, cloud_info):
    _confine(case, cloud_info)
    run.cases[f"{case.operation.method.upper()} {case.operation.path}"] += 1
    run.modes[case.meta.generation.mode.value if case.meta else "explicit"] += 1
    response = case.call_and_validate(
        base_url=fuzzed_gateway.base,
        excluded_checks=excluded(case, not_a_server_error, positive_data_acceptance, content_type_conformance),
        additional_checks=[error_has_code_and_message, json_or_no_content, no_internal_error, no_upstream_500],
        timeout=60,
    )
    run.statuses[response.status_code] += 1
    if case.operation.path == "/api/v1/server" and response.status_code in (201, 202):
        run.servers.append(response.json()["id"])


def test_the_cloud_fuzz_run_was_real():
    """At least MIN_CASES requests, to every operation, some of them creating servers."""
    if EXAMPLES < 20:
        pytest.skip(f"CLOUD_FUZZ_EXAMPLES={EXAMPLES}: a shortened run")
    total = sum(run.cases.values())
    print(f"cloud fuzz: {total} cases {dict(run.modes)}, statuses {dict(sorted(run.statuses.items()))}")
    assert total >= MIN_CASES, run.cases
    assert len(run.cases) == len(list(schema.get_all_operations())), sorted(run.cases)
    assert run.servers, "no case created a server"
