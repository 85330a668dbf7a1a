"""The shapes every namespace shares: a list endpoint (one page of ``{key: items, next_marker}``), a show."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from flask_restx import Model, Namespace, fields, marshal, reqparse

from devstack_client.api.common import READ_ERRORS, documents_errors, next_marker_field
from devstack_client.api.query import parse_query, select_fields
from devstack_client.services._pages import Page


def lists(
    ns: Namespace,
    key: str,
    model: Model,
    query: reqparse.RequestParser,
    description: str,
    *,
    errors: tuple[int, ...] = (400,),
    shaped: bool = False,
) -> Callable[[Callable[..., Page]], Callable[..., dict[str, Any]]]:
    """Make ``fetch(resource, **query) -> Page`` a documented GET answering one page of ``model``.

    The query is parsed before ``fetch`` runs, so a bad one is a 400 even when
    OpenStack is down. A query with ``fields`` hands ``fetch`` the fields
    wanted (None: all) and answers only those. ``shaped``: the service already
    answers exactly the model's fields, so restx's marshal (most of a large
    page's CPU) is skipped.
    """
    item = _selection(ns, model) if any(arg.name == "fields" for arg in query.args) else model
    page_model = ns.model(
        f"{model.name}List", {key: fields.List(fields.Nested(item)), "next_marker": next_marker_field}
    )

    def decorate(fetch: Callable[..., Page]) -> Callable[..., dict[str, Any]]:
        @ns.expect(query)
        @documents_errors(ns, *errors, *READ_ERRORS)
        @ns.response(200, description, page_model)
        @functools.wraps(fetch)
        def get(resource: Any) -> dict[str, Any]:
            args = parse_query(query)
            if "fields" in args:
                args["fields"] = select_fields(args["fields"], model)
            result = fetch(resource, **args)
            items = result.items if shaped else marshal(result.items, model)
            if args.get("fields"):
                items = [{name: item[name] for name in args["fields"]} for item in items]
            return {key: items, "next_marker": result.next_marker}

        return get

    return decorate


def _selection(ns: Namespace, model: Model) -> Model:
    """``model`` as a list with ``?fields=`` answers it: ``id`` always, every other field only if asked for."""
    optional = {}
    for name, field in model.items():
        optional[name] = copy.copy(field)
        if name != "id":
            optional[name].required = False
    return ns.model(f"{model.name}ListItem", optional)


def shows(
    ns: Namespace, model: Model, description: str, *, errors: tuple[int, ...] = (404, 409), shaped: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make ``get(resource, ref)`` a documented GET of one ``model``, found by id or exact name (409: ambiguous).

    ``shaped``: ``get`` already answers exactly the model's fields, so restx's marshal is skipped (as for lists).
    """

    def decorate(get: Callable[..., Any]) -> Callable[..., Any]:
        answer = ns.response(200, description, model) if shaped else ns.marshal_with(model, description=description)
        return documents_errors(ns, *errors, *READ_ERRORS)(answer(get))

    return decorate
