"""The docs examples' parser and the cloud test's stream matcher: what they read, and what they refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud.test_cloud_docs import check_events, check_lines, data_matches
from tests.docs_examples import REPO, examples

STREAM = """<!-- example: stream-until=synced -->
```sh
curl -N 'http://127.0.0.1:8080/api/v1/server/events?initial=true'
```
```text
retry: 3000

event: added
data: {"id":"f43680b9-2637-4c60-811f-c16abf70f105","name":"web-1",…}

id: 1796065726.TVRBLQE
event: synced
data: {"servers":1}
```
"""

TOKEN = """<!-- example: gateway=keys -->
```sh
TOKEN=$(curl -s -i -X POST http://127.0.0.1:5000/v3/auth/tokens -d '
  {"auth": {}}' \\
  | awk '{print $2}')
curl -s http://127.0.0.1:8081/readyz -H "X-Auth-Token: $TOKEN"        # HTTP/1.1 503 SERVICE UNAVAILABLE
```
```json
{"ready": false}
```
"""


GREP = """<!-- example: gateway=fresh -->
```sh
curl -s http://127.0.0.1:8080/api/v1/image                   # HTTP/1.1 200 OK
curl -s http://127.0.0.1:8080/metrics | grep -E '^x_(a\\{.*route="/api/|b)'
```
```
x_a{route="/api/v1/image"} 1.0
x_b 0.0
```
"""

# a fresh gateway's scrape (as on the test cloud): the harness's start-up poll of /swagger.json (1 or 2 of
# them) and the duration histogram's route labels must not reach what the docs' grep keeps
SCRAPE = """# HELP devstack_client_server_creates_in_flight Server creates being sent or waited for right now
# TYPE devstack_client_server_creates_in_flight gauge
devstack_client_server_creates_in_flight 0.0
devstack_client_event_streams_open 0.0
devstack_client_http_requests_total{method="GET",route="/swagger.json",status="200"} 2.0
devstack_client_http_requests_total{method="GET",route="/api/v1/flavor/<ref>",status="200"} 1.0
devstack_client_http_requests_total{method="GET",route="/api/v1/server/<ref>",status="404"} 1.0
devstack_client_http_requests_total{method="GET",route="/api/v1/image",status="200"} 1.0
devstack_client_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/image"} 0.0
devstack_client_upstream_requests_total{service="identity"} 1.0
devstack_client_event_feed_reads_total{kind="full"} 0.0
"""


def parsed(tmp_path: Path, text: str) -> list:
    path = tmp_path / "page.md"
    path.write_text(text)
    return examples(path)


def test_a_stream_example_is_its_events(tmp_path: Path):
    (example,) = parsed(tmp_path, STREAM)
    assert example.options == {"stream-until": "synced"}
    (command,) = example.commands
    assert command.answer.events == [
        ["retry: 3000"],
        ["event: added", 'data: {"id":"f43680b9-2637-4c60-811f-c16abf70f105","name":"web-1",…}'],
        ["id: 1796065726.TVRBLQE", "event: synced", 'data: {"servers":1}'],
    ]


def test_a_variable_set_by_the_block_then_a_status_and_a_body(tmp_path: Path):
    (example,) = parsed(tmp_path, TOKEN)
    ((name, line),) = example.assignments
    assert name == "TOKEN" and line.startswith("TOKEN=$(curl") and line.endswith("| awk '{print $2}')")
    (command,) = example.commands
    assert (command.answer.status, command.answer.body) == (503, {"ready": False})  # both checked
    assert command.request({"TOKEN": "t"}).headers == {"X-Auth-Token": "t"}


def test_a_stream_example_needs_its_events(tmp_path: Path):
    with pytest.raises(ValueError, match="text block"):
        parsed(tmp_path, STREAM.split("```text")[0])


def test_stream_data_with_members_left_out():
    shown = '{"id":"f43680b9-2637-4c60-811f-c16abf70f105","name":"web-1","task_state":null,…}'
    answered = '{"id":"007669e4-adb3-46bb-b59d-ab446958045e","name":"web-1","task_state":null,"tags":[]}'
    assert data_matches(shown, answered)  # ids normalised, the other members left out
    assert not data_matches(shown, answered.replace('"web-1"', '"web-2"'))
    assert not data_matches(shown, answered.replace('"task_state":null,', ""))  # a shown member missing
    assert not data_matches(shown.replace(",…}", "}"), answered)  # no …: exactly these members


def test_stream_events_compared_one_by_one():
    shown = [["retry: 3000"], ["id: 1796065726.TVRBLQE", "event: synced", 'data: {"servers":1}']]
    check_events([["retry: 3000"], ["id: 1796099999.AbC-_1", "event: synced", 'data: {"servers":1}']], shown, "x")
    for wrong in (
        [["retry: 3000"], ["id: 1796065726", "event: synced", 'data: {"servers":2}']],
        [["retry: 3000"], ["id: not a cursor", "event: synced", 'data: {"servers":1}']],
        [["retry: 3000"], ["id: 1796065726", "event: bookmark", 'data: {"servers":1}']],
        [["retry: 3000"]],
    ):
        with pytest.raises(AssertionError):
            check_events(wrong, shown, "x")


def test_a_grep_shows_the_lines_it_keeps(tmp_path: Path):
    (example,) = parsed(tmp_path, GREP)
    assert example.options == {"gateway": "fresh"}
    image, scrape = example.commands
    assert (image.grep, image.answer.status) == (None, 200)
    assert scrape.grep == '^x_(a\\{.*route="/api/|b)'  # shell-unquoted
    assert scrape.request().url == "http://127.0.0.1:8080/metrics"  # the pipe is not curl's
    assert scrape.answer.lines == ['x_a{route="/api/v1/image"} 1.0', "x_b 0.0"]


def test_a_grep_must_show_its_lines(tmp_path: Path):
    with pytest.raises(ValueError, match="grep must show"):
        parsed(tmp_path, GREP.split("```\nx_a")[0])


def test_grepped_lines_compared_exactly_in_any_order():
    (example,) = [e for e in examples(REPO / "docs" / "operations" / "metrics.md") if e.run]
    scrape = example.commands[-1]
    shown = scrape.answer.lines
    check_lines(SCRAPE, scrape.grep, shown, "x")  # the docs' own grep: the API's routes and the two gauges
    check_lines(SCRAPE, scrape.grep, list(reversed(shown)), "x")
    for wrong in (
        [line.replace("} 1.0", "} 2.0") if "/image" in line else line for line in shown],  # a count
        [line for line in shown if "404" not in line],  # a line missing
        [*shown, shown[0]],  # a line twice
        [line.replace('status="404"', 'status="200"') for line in shown],  # a label
    ):
        with pytest.raises(AssertionError):
            check_lines(SCRAPE, scrape.grep, wrong, "x")
    with pytest.raises(AssertionError):  # a line the grep keeps that the docs do not show
        check_lines(
            SCRAPE + 'devstack_client_http_requests_total{method="GET",route="/api/v1/image",status="500"} 1.0\n',
            scrape.grep,
            shown,
            "x",
        )
