"""The Swagger 2.0 spec as a stable file: ``devstack-client openapi docs/swagger.json`` regenerates it."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

CHECKED_IN = "docs/swagger.json"


def spec() -> dict[str, Any]:
    """The spec the app serves at /swagger.json (it does not depend on credentials or settings)."""
    from devstack_client import create_app

    logging.disable(logging.WARNING)  # "no credentials" warnings and request lines are noise here
    try:
        return create_app().test_client().get("/swagger.json").get_json()
    finally:
        logging.disable(logging.NOTSET)


def render(document: dict[str, Any]) -> str:
    """Sorted keys, two-space indent, a final newline: the same spec always gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str) -> None:
    text = render(spec())
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
