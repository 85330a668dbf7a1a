"""Fixtures of the API tests: the server change stream's (tests/events.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from devstack_client.services import feeds as feeds_module
from tests.events import EVENTS, Reader, Timeline
from tests.loopback import REDIS_SERVER, redis_server


@pytest.fixture(autouse=True)
def stopped_feeds(monkeypatch):
    """Every app's feeds stop with its test: a poller left running would read the next test's Nova."""
    made: list[feeds_module.Feeds] = []
    init = feeds_module.Feeds.__init__

    def recorded(self: feeds_module.Feeds, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(feeds_module.Feeds, "__init__", recorded)
    yield
    for feeds in made:
        feeds.stop()


@pytest.fixture
def nova(cloud):
    return Timeline(cloud)


@pytest.fixture
def watch(client):
    readers: list[Reader] = []

    def open_stream(url: str = EVENTS, headers: dict[str, str] | None = None, on: Any = None) -> Reader:
        response = (on or client).get(url, headers=headers or {}, buffered=False)
        assert response.status_code == 200, response.get_data(as_text=True)
        reader = Reader(response)
        readers.append(reader)
        assert reader.frame() == {"retry": "3000"}
        return reader

    yield open_stream
    for reader in readers:
        reader.close()


@pytest.fixture
def redis_url():
    """A real, throwaway Redis: its URL and its process."""
    if not os.path.exists(REDIS_SERVER):
        if os.environ.get("DEVSTACK_CLIENT_REQUIRE_CLOUD") == "1":
            pytest.fail(f"{REDIS_SERVER} is missing (apt-get install redis-server)")
        pytest.skip(f"{REDIS_SERVER} is missing (apt-get install redis-server)")
    with redis_server() as (url, proc):
        yield url, proc
