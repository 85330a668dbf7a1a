"""docs/swagger.json and docs/openapi.json are the running app's spec, valid Swagger 2.0 and OpenAPI 3.1."""

import json
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator, OpenAPIV31SpecValidator

from devstack_client import create_app, openapi, openapi3
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


# -- OpenAPI 3.1 (/openapi.json, docs/openapi.json) ------------------------------------------------------------------

CHECKED_IN_3 = ROOT / openapi.CHECKED_IN_3
STALE_3 = (
    "docs/openapi.json is not the app's document: regenerate everything with `bash clients/typescript/generate.sh`"
)


def document() -> dict:
    return json.loads(CHECKED_IN_3.read_text())


def test_the_checked_in_openapi_3_document_is_the_fully_configured_apps(cloud):
    key_line = "sha256:" + "0" * 64 + " operator"
    app = create_app({**CREDENTIALS, "API_KEYS": key_line, "ALLOW_USER_TOKENS": "true"})
    served = app.test_client().get("/openapi.json").json

    assert document() == served, STALE_3
    assert CHECKED_IN_3.read_text() == openapi.render(served), STALE_3
    assert served == openapi3.document(app.test_client().get("/swagger.json").json)  # the same API, converted


def test_the_served_openapi_3_document_differs_from_it_only_in_its_security(client, cloud):
    served, documented = client.get("/openapi.json").json, document()

    documented.pop("security")
    documented["components"].pop("securitySchemes")
    assert served == documented
    assert "security" not in served and "securitySchemes" not in served["components"]


def test_the_openapi_3_document_is_valid():
    validate(document(), cls=OpenAPIV31SpecValidator)

    assert document()["openapi"] == "3.1.0"


def test_the_probes_need_no_credentials_in_either_document():
    for spec, doc in ((json.loads(CHECKED_IN.read_text()), "swagger"), (document(), "openapi")):
        assert spec["paths"]["/healthz"]["get"]["security"] == [], doc
        assert spec["paths"]["/readyz"]["get"]["security"] == [], doc
        assert spec["security"] == [{"apiKey": []}, {"keystoneToken": []}], doc  # everything else: either one


def test_every_operation_has_one_success_shape():
    # A generated client types an operation's answer as one type for all its 2xx answers (openapi-fetch: `data`):
    # two shapes there (the dry run's 200 beside the create's 201, once) make it type neither usefully.
    shapes = {
        f"{method.upper()} {path}": {
            json.dumps(content.get("schema"), sort_keys=True)
            for status, response in operation["responses"].items()
            if status.startswith("2")
            for content in response.get("content", {}).values()
        }
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in openapi3.METHODS
    }

    assert {name: shape for name, shape in shapes.items() if len(shape) > 1} == {}
    assert shapes["POST /api/v1/server"] == {json.dumps({"$ref": "#/components/schemas/Server"})}
    assert shapes["POST /api/v1/server/dry-run"] == {json.dumps({"$ref": "#/components/schemas/ServerDryRun"})}


def test_answer_fields_are_required_unless_a_model_says_otherwise():
    schemas = document()["components"]["schemas"]
    server = schemas["Server"]

    assert server["required"] == sorted(server["properties"])  # marshal, or the service, writes every one
    assert server["properties"]["status"]["type"] == "string"
    assert server["properties"]["task_state"]["type"] == ["string", "null"]
    assert server["properties"]["fault"] == {
        "anyOf": [{"$ref": "#/components/schemas/Fault"}, {"type": "null"}],
        "description": "Why the server is in ERROR; null otherwise",
    }
    assert server["properties"]["flavor"] == {"$ref": "#/components/schemas/ServerFlavor"}
    assert schemas["Error"]["required"] == ["code", "message"]  # the rest only when OpenStack answered
    assert schemas["ServerList"]["required"] == ["next_marker", "servers"]
    assert schemas["ServerList"]["properties"]["next_marker"]["type"] == ["string", "null"]
    # With ?fields= a list answers only the fields asked for, and the id.
    assert schemas["ServerList"]["properties"]["servers"]["items"] == {"$ref": "#/components/schemas/ServerListItem"}
    assert schemas["ServerListItem"]["required"] == ["id"]
    assert schemas["ImageList"]["properties"]["images"]["items"] == {"$ref": "#/components/schemas/Image"}
    # What a caller sends: required as the API requires it, never nullable.
    assert schemas["ServerCreate"]["required"] == ["name"]
    assert not any("null" in json.dumps(p) for p in schemas["ServerCreate"]["properties"].values())


def test_the_event_stream_is_text_and_its_errors_json():
    responses = document()["paths"]["/api/v1/server/events"]["get"]["responses"]

    assert responses["200"]["content"] == {"text/event-stream": {"schema": {"type": "string"}}}
    assert responses["410"]["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def test_the_command_writes_the_openapi_3_document(tmp_path, cloud):
    target = tmp_path / "openapi.json"

    assert main(["openapi", "--version", "3", str(target)]) == 0

    assert target.read_text() == CHECKED_IN_3.read_text()
    assert cloud.history == []


def test_each_app_gets_the_spec_a_fresh_build_gives_and_its_own_copy(monkeypatch):
    # The documents are built once per process and configuration (api._spec): creating an app was mostly that.
    from devstack_client import api

    first, second = create_app(CREDENTIALS), create_app(CREDENTIALS)
    first.extensions["openapi"]["info"]["title"] = "changed"
    assert second.extensions["openapi"]["info"]["title"] == "devstack-client"

    monkeypatch.setattr(api, "_SPECS", {})
    fresh = create_app(CREDENTIALS)
    assert fresh.test_client().get("/swagger.json").json == second.test_client().get("/swagger.json").json
    assert fresh.extensions["openapi"] == second.extensions["openapi"]
    assert fresh.extensions["query_parameters"] == second.extensions["query_parameters"]
    # A configuration that declares other schemes gets its own documents.
    keyed = create_app({**CREDENTIALS, "API_KEYS": "sha256:" + "0" * 64 + " operator"})
    assert "apiKey" in keyed.test_client().get("/swagger.json").json["securityDefinitions"]
    assert "securityDefinitions" not in fresh.test_client().get("/swagger.json").json
