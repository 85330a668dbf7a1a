"""The keystoneauth session every upstream call goes through: it tags, counts and times each call."""

from __future__ import annotations

import time
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from devstack_client import metrics
from devstack_client.tracing import current


class TracingSession(ks_session.Session):
    """A keystoneauth session that tags each upstream call with the request id, and counts and times it.

    Every upstream call passes through ``Session.request``: the SDK proxies'
    (which name their service), token requests and version discovery.
    """

    def request(self, url: str, method: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        trace = current()
        if trace is not None and kwargs.get("global_request_id") is None:
            kwargs["global_request_id"] = trace.request_id
        service = self._service(url, kwargs.get("endpoint_filter"))
        start = time.perf_counter()
        failure: str | None = None
        try:
            response = super().request(url, method, **kwargs)
        except ks_exc.ConnectTimeout:
            failure = "timeout"
            raise
        except ks_exc.ConnectionError:
            failure = "unreachable"
            raise
        except ks_exc.HttpError as exc:  # raised for an error status when raise_exc is on
            failure = _status_failure(exc.http_status)
            raise
        else:
            failure = _status_failure(response.status_code)
            return response
        finally:
            elapsed = time.perf_counter() - start
            if trace is not None:
                trace.upstream_calls += 1
                trace.upstream_seconds += elapsed
            metrics.upstream_call(service, elapsed, failure)

    def _service(self, url: str, endpoint_filter: dict[str, Any] | None) -> str:
        """The service type a call goes to: named by the proxies, found in the catalog for the rest."""
        if endpoint_filter and endpoint_filter.get("service_type"):
            return str(endpoint_filter["service_type"])
        auth_ref = getattr(self.auth, "auth_ref", None)
        if auth_ref is None:
            return "identity"  # no token yet: this is the request for one
        best, best_length = "other", 0
        for service_type, endpoints in auth_ref.service_catalog.get_endpoints().items():
            for endpoint in endpoints:
                base = (endpoint or {}).get("url", "").rstrip("/")
                if base and url.startswith(base) and len(base) > best_length:
                    best, best_length = service_type, len(base)
        return best


def _status_failure(status: int | None) -> str | None:
    """An upstream answer that counts as an error: 5xx, or 429 (too many requests). 4xx are answers."""
    if status is not None and (status >= 500 or status == 429):
        return str(status)
    return None
