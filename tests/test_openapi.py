"""docs/swagger.json is the running app's spec, and a valid Swagger 2.0 document."""

import json
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

from devstack_client import create_app, openapi
from devstack_client.main import main
from tests.fakes import CREDENTIALS

ROOT = Path(__file__).resolve().parent.parent
CHECKED_IN = ROOT / openapi.CHECKED_IN
STALE = "docs/swagger.json is not the app's spec: regenerate it with `devstack-client openapi docs/swagger.json`"


def test_the_checked_in_spec_is_the_fully_configured_apps(cloud):
    # API keys and user tokens both on: every scheme documented (a gateway serves only the ones it enforces).
    key_line = "sha256:" + "0" * 64 + " operator"
    app = create_app({**CREDENTIALS, "API_KEYS": key_line, "ALLOW_USER_TOKENS": "true"})
    served = app.test_client().get("/swagger.json").json

    assert json.loads(CHECKED_IN.read_text()) == served, STALE
    assert CHECKED_IN.read_text() == openapi.render(served), STALE


def test_the_served_spec_differs_from_it_only_in_its_security(client, cloud):
    served, documented = client.get("/swagger.json").json, json.loads(CHECKED_IN.read_text())

    for key in ("security", "securityDefinitions"):
        documented.pop(key)
    assert served == documented


def test_the_spec_is_valid_swagger_2():
    document = json.loads(CHECKED_IN.read_text())

    assert document["swagger"] == "2.0"
    validate(document, cls=OpenAPIV2SpecValidator)


def test_the_command_writes_the_file(tmp_path, cloud):
    target = tmp_path / "swagger.json"

    assert main(["openapi", str(target)]) == 0

    assert target.read_text() == CHECKED_IN.read_text()
    assert cloud.history == []  # no credentials needed, nothing asked of OpenStack


def test_the_command_writes_to_stdout_by_default(capsys, cloud):
    assert main(["openapi"]) == 0

    out, err = capsys.readouterr()
    assert out == CHECKED_IN.read_text()
    assert err == ""


def test_rendering_is_stable():
    document = {"b": 1, "a": {"z": [3, 1], "é": "x"}}

    assert (
        openapi.render(document)
        == '{\n  "a": {\n    "z": [\n      3,\n      1\n    ],\n    "é": "x"\n  },\n  "b": 1\n}\n'
    )
