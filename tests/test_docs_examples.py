"""The docs examples' parser and the cloud test's stream matcher: what they read, and what they refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud.test_cloud_docs import check_events, data_matches
from tests.docs_examples import examples

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
