"""Spec-driven fuzzing: schemathesis generates requests from our own /swagger.json.

Every operation, valid and invalid inputs alike (wrong types, missing and
extra fields, unknown query parameters, bad headers), through the Flask app
and the real openstacksdk down to the wire, where ``PermissiveCloud`` answers
any id or name as OpenStack would. Each answer must be documented (status,
schema, content type, headers), never a 5xx (the fake cloud never fails, so
no upstream error can excuse one), always refuse what the spec forbids, and
every error must carry ``code`` and ``message``. Seeded and bounded: the
same cases every run, ``FUZZ_EXAMPLES`` per operation (default 60: about 1,500
cases, ~1 minute on 2 cores). What it found is kept as plain regression
tests in tests/api/test_bad_input.py.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
import requests_mock
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, positive_data_acceptance

from devstack_client import create_app
from devstack_client.apikeys import new_key
from devstack_client.config import SETTINGS
from tests.checks import (
    authenticate,
    configure,
    error_has_code_and_message,
    excluded,
    json_or_no_content,
    no_upstream_500,
)
from tests.fakes import CREDENTIALS, FakeCloud
from tests.permissive_cloud import PermissiveCloud

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
MIN_CASES = 1000
OPERATOR, OPERATOR_LINE = new_key("operator", "fuzz")
cases: Counter[str] = Counter()  # per operation
modes: Counter[str] = Counter()  # positive (valid per the spec), negative (invalid)


def _sealed_app() -> Flask:
    # Built at import, for schemathesis to bind its operations to; the
    # autouse sealed_environment fixture is not active yet, so seal here too.
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("OS_") or name in {s.name for s in SETTINGS}:
                mp.delenv(name)
        mp.setenv("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")
        mp.setenv("IDEMPOTENCY_WATCH_SECONDS", "0")  # its looks would land in later tests' mockers
        # With a key required, schemathesis also checks that a call without it, or with a wrong one, is refused.
        return create_app({**CREDENTIALS, "API_KEYS": OPERATOR_LINE})


APP = _sealed_app()
# The change stream never ends, and its body is no JSON document: its bad input has its own tests
# (tests/api/test_server_events.py).
schema = schemathesis.openapi.from_wsgi("/swagger.json", APP).exclude(path="/api/v1/server/events")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=True,  # the same cases every run: CI is reproducible
    database="none",
)
authenticate(schema, OPERATOR)
configure(schema)


@pytest.fixture(scope="module")
def wire():
    """One cloud that answers anything, for the whole run: what a case creates, later cases see."""
    # schemathesis draws some choices from the global random (hypothesis's own is derandomized): seed it,
    # so that the cases do not depend on the tests that ran before.
    random.seed(20261127)
    with requests_mock.Mocker() as mocker, pytest.MonkeyPatch.context() as mp:
        PermissiveCloud(FakeCloud(mocker))
        # An idempotent create waits for concurrent twins, and ?wait=true polls: no time passes on a fake wire.
        mp.setattr("devstack_client.services.launch.time.sleep", lambda _: None)
        mp.setattr("devstack_client.services.volume.time.sleep", lambda _: None)
        yield


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_keeps_its_spec(case, wire):
    cases[case.operation.label] += 1
    modes[case.meta.generation.mode.value if case.meta else "explicit"] += 1
    case.call_and_validate(
        excluded_checks=excluded(case, positive_data_acceptance, content_type_conformance),
        additional_checks=[error_has_code_and_message, json_or_no_content, no_upstream_500],
    )


def test_enough_cases_ran():
    """The fuzz run above is not a formality: it sent at least MIN_CASES requests, to every operation."""
    if EXAMPLES < 60:
        pytest.skip(f"FUZZ_EXAMPLES={EXAMPLES}: a shortened run")
    assert sum(cases.values()) >= MIN_CASES, cases
    assert len(cases) == len(list(schema.get_all_operations())), sorted(cases)
    assert modes["negative"] >= MIN_CASES // 4, modes  # wrong types, missing and extra fields, bad headers
    print(f"fuzzed {sum(cases.values())} cases: {dict(modes)}")
