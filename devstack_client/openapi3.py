"""The OpenAPI 3.1 document (``/openapi.json``), converted from the Swagger 2.0 spec flask-restx builds.

flask-restx speaks Swagger 2.0 only, and most generators (openapi-typescript among them) read
OpenAPI 3 only. No maintained Python converter fits: swagger2openapi (npm) is the well-kept one,
and Node is no runtime for the gateway. So ``convert`` does what swagger2openapi does to the
parts of Swagger 2.0 that flask-restx emits (OpenAPI 3.0), and tests/test_typescript_client.py
checks it gives the same document as swagger2openapi on our whole spec. ``upgrade`` takes that to
3.1, whose schemas are JSON Schema: 3.0's ``nullable`` cannot make a ``$ref`` nullable (a
validator still applies the referenced schema to null), 3.1's ``{"type": "null"}`` can. ``refine``
then says what Swagger 2.0 cannot: an event stream's answer is text, its errors JSON.
"""

from __future__ import annotations

import copy
from typing import Any

VERSION = "3.1.0"
CONVERTED = "3.0.3"  # what ``convert`` gives, as swagger2openapi does
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# What moves from a Swagger 2.0 parameter into its OpenAPI 3 ``schema``.
SCHEMA_KEYS = (
    "type", "format", "items", "default", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "multipleOf",
)  # fmt: skip
EVENT_STREAM = "text/event-stream"


def document(swagger: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a Swagger 2.0 spec: converted, upgraded, refined."""
    return refine(upgrade(convert(swagger)), swagger)


def convert(swagger: dict[str, Any]) -> dict[str, Any]:
    """Swagger 2.0 → OpenAPI 3.0, as swagger2openapi converts it (the input is left as it was)."""
    swagger = copy.deepcopy(swagger)
    result: dict[str, Any] = {"openapi": CONVERTED, "info": swagger["info"]}
    result["servers"] = [{"url": swagger.get("basePath", "/")}]
    for key in ("tags", "security", "externalDocs"):
        if key in swagger:
            result[key] = swagger[key]
    consumes, produces = swagger.get("consumes", []), swagger.get("produces", [])
    result["paths"] = {path: _path_item(item, consumes, produces) for path, item in swagger.get("paths", {}).items()}
    components: dict[str, Any] = {}
    shared = _shared_request_bodies(result["paths"])
    if shared:
        components["requestBodies"] = shared
    if "responses" in swagger:
        components["responses"] = {name: _response(r, produces) for name, r in swagger["responses"].items()}
    if "securityDefinitions" in swagger:
        components["securitySchemes"] = swagger["securityDefinitions"]
    if "definitions" in swagger:
        components["schemas"] = {name: _schema(s) for name, s in swagger["definitions"].items()}
    result["components"] = components
    return result


def upgrade(document: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 → 3.1 for what ``convert`` emits: ``nullable`` becomes a ``null`` type (input left as it was)."""
    document = _nulls(copy.deepcopy(document))
    document["openapi"] = VERSION
    return document


def _nulls(node: Any) -> Any:
    if isinstance(node, list):
        return [_nulls(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: (value if key in ("example", "default", "enum") else _nulls(value)) for key, value in node.items()}
    if node.pop("nullable", False) is True:
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:  # a reference (wrapped in allOf by mark_answers) or a composition: one of it, or null
            branch = {key: node.pop(key) for key in ("$ref", "allOf", "anyOf", "oneOf") if key in node}
            if list(branch) == ["allOf"] and len(branch["allOf"]) == 1:
                branch = branch["allOf"][0]  # the wrapped reference itself
            node["anyOf"] = [branch, {"type": "null"}]
    return node


def refine(document: dict[str, Any], swagger: dict[str, Any]) -> dict[str, Any]:
    """Say what Swagger 2.0 cannot: an event stream's 200 is text, and its errors are JSON all the same."""
    for path, item in swagger.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS or EVENT_STREAM not in operation.get("produces", []):
                continue
            for status, response in document["paths"][path][method]["responses"].items():
                if status.startswith("2"):
                    response["content"] = {EVENT_STREAM: {"schema": {"type": "string"}}}
                elif EVENT_STREAM in response.get("content", {}):
                    response["content"] = {"application/json": response["content"][EVENT_STREAM]}
    return document


def _path_item(item: dict[str, Any], consumes: list[str], produces: list[str]) -> dict[str, Any]:
    converted = {}
    for key, value in item.items():
        if key == "parameters":
            converted[key] = [_parameter(p) for p in value]
        elif key in METHODS:
            converted[key] = _operation(value, consumes, produces)
        else:
            converted[key] = value
    return converted


def _operation(operation: dict[str, Any], consumes: list[str], produces: list[str]) -> dict[str, Any]:
    consumes = operation.pop("consumes", consumes)
    produces = operation.pop("produces", produces)
    parameters = operation.pop("parameters", None)
    responses = operation.pop("responses")
    converted = dict(operation)
    if parameters is not None:
        plain = [_parameter(p) for p in parameters if p["in"] != "body"]
        if plain:
            converted["parameters"] = plain
        for body in (p for p in parameters if p["in"] == "body"):
            request_body: dict[str, Any] = {"content": {kind: {"schema": _schema(body["schema"])} for kind in consumes}}
            if "description" in body:
                request_body["description"] = body["description"]
            if body.get("required"):
                request_body["required"] = True
            converted["requestBody"] = request_body
    converted["responses"] = {status: _response(r, produces) for status, r in responses.items()}
    return converted


def _shared_request_bodies(paths: dict[str, Any]) -> dict[str, Any]:
    """Move a body several operations share to ``components`` (named after its schema), as swagger2openapi does."""
    users: dict[str, list[dict[str, Any]]] = {}
    for item in paths.values():
        for method in METHODS:
            body = item.get(method, {}).get("requestBody")
            refs = {content["schema"].get("$ref") for content in body["content"].values()} if body else set()
            if len(refs) == 1 and None not in refs:
                users.setdefault(refs.pop().rsplit("/", 1)[-1], []).append(item[method])
    shared = {}
    for name, operations in users.items():
        if len(operations) > 1 and all(op["requestBody"] == operations[0]["requestBody"] for op in operations):
            shared[name] = operations[0]["requestBody"]
            for operation in operations:
                operation["requestBody"] = {"$ref": f"#/components/requestBodies/{name}"}
    return shared


def _parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    converted = {key: value for key, value in parameter.items() if key not in SCHEMA_KEYS}
    converted["schema"] = _schema({key: parameter[key] for key in SCHEMA_KEYS if key in parameter})
    return converted


def _response(response: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    converted = {key: value for key, value in response.items() if key not in ("schema", "headers", "examples")}
    if "headers" in response:
        converted["headers"] = {
            name: {
                **({"description": header["description"]} if "description" in header else {}),
                "schema": _schema({key: value for key, value in header.items() if key != "description"}),
            }
            for name, header in response["headers"].items()
        }
    if "schema" in response:
        converted["content"] = {kind: {"schema": _schema(response["schema"])} for kind in produces}
    return converted


def _schema(schema: Any) -> Any:
    """A JSON schema with OpenAPI 3's references and ``nullable`` for Swagger 2.0's ``x-nullable``."""
    if isinstance(schema, list):
        return [_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            converted[key] = value.replace("#/definitions/", "#/components/schemas/", 1)
        elif key == "x-nullable":
            converted["nullable"] = value
        elif key in ("properties", "definitions"):  # names, not schemas, at this level
            converted[key] = {name: _schema(item) for name, item in value.items()}
        elif key == "example":  # data, not a schema: never rewritten
            converted[key] = value
        else:
            converted[key] = _schema(value)
    return converted
