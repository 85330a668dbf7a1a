"""The process's shared HTTP pool, over a real socket (requests-mock bypasses cookie handling)."""

from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from devstack_client.config import load
from devstack_client.connection import CloudConnection
from devstack_client.identity import resolve
from tests.loopback import serving


class SetsCookies(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_GET(self):
        SetsCookies.received.append(self.headers.get("Cookie"))
        self.send_response(200)
        self.send_header("Set-Cookie", "route=alice-sticky; Path=/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    SetsCookies.received = []
    with serving(SetsCookies) as url:
        yield f"{url}/"


def test_a_cookie_set_on_one_callers_request_never_rides_along_on_another(upstream):
    # Every caller's connection shares this pool: a sticky-session cookie
    # set for one user must not reach an upstream with the next user's call.
    settings = load({}, environ={})
    cloud = CloudConnection(settings, resolve(settings))

    cloud.session().get(upstream, authenticated=False)
    cloud.session().get(upstream, authenticated=False)

    assert SetsCookies.received == [None, None]
