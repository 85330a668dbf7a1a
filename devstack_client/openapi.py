"""The API's specs as stable files: ``devstack-client openapi [--version 3] FILE`` regenerates one.

docs/swagger.json is the Swagger 2.0 spec, docs/openapi.json the OpenAPI 3 document (openapi3.py);
clients/typescript/generate.sh regenerates both and the TypeScript client's types.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

CHECKED_IN = "docs/swagger.json"
CHECKED_IN_3 = "docs/openapi.json"
SERVED = {2: "/swagger.json", 3: "/openapi.json"}


def spec(version: int = 2) -> dict[str, Any]:
    """The spec of the fully configured gateway: API keys and callers' Keystone tokens both accepted.

    The served /swagger.json and /openapi.json declare only the schemes the running configuration enforces.
    """
    from devstack_client import apikeys, create_app

    logging.disable(logging.WARNING)  # "no credentials" warnings and request lines are noise here
    try:
        config = {"API_KEYS": apikeys.new_key("operator")[1], "ALLOW_USER_TOKENS": "true"}
        return create_app(config).test_client().get(SERVED[version]).get_json()
    finally:
        logging.disable(logging.NOTSET)


def render(document: dict[str, Any]) -> str:
    """Sorted keys, two-space indent, a final newline: the same spec always gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str, version: int = 2) -> None:
    text = render(spec(version))
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
