"""The curl examples of the docs (README.md and docs/**/*.md), each with the answer the docs show.

An example is a fenced ``sh`` block right after an HTML comment marker::

    <!-- example -->                          run it; compare the answer with what the docs show
    <!-- example: servers=web-1:ACTIVE -->    the same, once the test cloud is in that state
    <!-- example: keypairs=my-key gateway=keys -->   (options: tests/cloud/test_cloud_docs.py)
    <!-- example: stream-until=synced -->     a stream: read until that event, then closed
    <!-- example-not-run: why -->             a curl the test does not run, and why

The block holds one or more ``curl`` commands (``\\`` continues a line), on the gateway at 127.0.0.1:8080 (or
:8081, a second one: the ``gateway=`` option says which the test runs). Before them, it may set shell variables
from a command (``TOKEN=$(curl … | awk …)``): the test runs these lines with bash. What a command answers is what
follows it: lines inside the block up to the next command, or, for the block's last command, the fenced block
right after the ``sh`` one (``json`` for a body; a plain block starting ``HTTP/1.1 201 CREATED`` for a status
line, headers, a blank line and a body; for a stream, a ``text`` block of its events). A trailing
``# HTTP/1.1 204 NO CONTENT`` comment gives the status alone. A command may end ``| grep -E '…'`` (the only pipe
the docs use): what it shows is then the lines grep keeps of the answer (a plain block, or lines in the block).
tests/test_docs.py checks that every curl of the docs is marked and parses; the cloud test runs them.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCS_HOST = "http://127.0.0.1:8080"
# the gateways an example may call: the usual one, and a second one (health.md's, with an unknown user)
DOCS_HOSTS = (DOCS_HOST, "http://127.0.0.1:8081")

_MARKER = re.compile(r"^<!-- (example|example-not-run)(?::\s*(.*?))?\s*-->\s*$")
_FENCE = re.compile(r"^(`{3,})(\w*)\s*$")
_STATUS_COMMENT = re.compile(r"\s#\s*HTTP/1\.1 (\d{3})\b.*$")
_ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\(")  # TOKEN=$(curl …): a variable the example sets itself
# curl … | grep -E 'PATTERN': the answer's lines that match (metrics.md's scrape)
_GREP = re.compile(r"\s\|\s*grep -E (?P<pattern>'[^']*')\s*$")


@dataclass
class Answer:
    """What the docs show a command answers: a status, some of its headers, a JSON body (each optional)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    events: list[list[str]] | None = None  # a stream's: each event's lines (fields and comments)
    lines: list[str] | None = None  # a grep's: the lines it keeps of the answer, in any order


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    data: str | None
    include_headers: bool  # curl -i


@dataclass
class Command:
    text: str  # the command line, continuations joined
    answer: Answer | None

    @property
    def grep(self) -> str | None:
        """The pattern of the ``| grep -E '…'`` the command ends with, if it does."""
        m = _GREP.search(self.text)
        return shlex.split(m["pattern"])[0] if m else None

    def request(self, variables: dict[str, str] | None = None) -> Request:
        """The HTTP request this curl command sends ($NAME replaced from `variables`)."""
        text = _GREP.sub("", _STATUS_COMMENT.sub("", self.text))
        for name, value in (variables or {}).items():
            text = text.replace("$" + name, value)
        if re.search(r"\$[A-Z_]", text):
            raise ValueError(f"unset variable in: {self.text}")
        args = shlex.split(text, comments=True)
        if args[:1] != ["curl"]:
            raise ValueError(f"not a curl command: {self.text}")
        method, url, headers, data, include = None, None, {}, None, False
        rest = iter(args[1:])
        for arg in rest:
            if arg in ("-s", "-N"):
                continue
            if arg in ("-i", "-si", "-is"):
                include = True
            elif arg == "-X":
                method = next(rest)
            elif arg == "-H":
                name, _, value = next(rest).partition(":")
                headers[name.strip()] = value.strip()
            elif arg == "-d":
                data = next(rest)
            elif arg.startswith(DOCS_HOSTS) and url is None:
                url = arg
            else:
                raise ValueError(f"curl option the docs tests do not know: {arg!r} in {self.text}")
        if url is None:
            raise ValueError(f"no URL on {' or '.join(DOCS_HOSTS)} in: {self.text}")
        if data is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl sends with -d
        return Request(method or ("POST" if data is not None else "GET"), url, headers, data, include)


@dataclass
class Example:
    path: Path
    line: int  # of the sh block's opening fence, 1-based
    run: bool
    options: dict[str, str]  # given=…, …
    reason: str  # example-not-run's
    commands: list[Command]
    assignments: list[tuple[str, str]] = field(default_factory=list)  # (variable, the shell line that sets it)

    @property
    def where(self) -> str:
        return f"{_named(self.path)}:{self.line}"


def _named(path: Path) -> str:
    """A docs file as the examples name it: relative to the repository (a test's own file: as it is)."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _blocks(lines: list[str]) -> list[tuple[int, str, list[str], int]]:
    """Every fenced block: (index of its opening fence, its language, its lines, index after its closing fence)."""
    blocks, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m:
            end = i + 1
            while end < len(lines) and lines[end].rstrip() != m[1]:  # closed by as many backticks
                end += 1
            blocks.append((i, m[2], lines[i + 1 : end], end + 1))
            i = end + 1
        else:
            i += 1
    return blocks


def parse_answer(text: str) -> Answer:
    """An answer as the docs show it; ValueError when it is neither JSON nor an HTTP status, headers and body."""
    text = text.strip()
    answer = Answer()
    if text.startswith("HTTP/1.1 "):
        head, _, text = text.partition("\n\n")
        status_line, *header_lines = head.splitlines()
        answer.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            answer.headers[name.strip()] = value.strip()
        text = text.strip()
    if text:
        answer.body = json.loads(text)
        answer.has_body = True
    return answer


def _joined(lines: list[str]) -> str:
    """A command's lines as one: a trailing backslash joins lines, a newline inside quotes stays."""
    return "".join(line[:-1] + " " if line.endswith("\\") else line + "\n" for line in lines).strip()


def _incomplete(lines: list[str]) -> bool:
    """Whether the shell reads on: a trailing backslash, or a quote still open."""
    if lines[-1].endswith("\\"):
        return True
    try:
        shlex.split(_joined(lines), comments=True)
    except ValueError:  # No closing quotation
        return True
    return False


def parse_events(text: str) -> list[list[str]]:
    """A stream as the docs show it: its events (the lines between blank lines)."""
    events: list[list[str]] = [[]]
    for line in text.strip().splitlines():
        if line.strip():
            events[-1].append(line)
        elif events[-1]:
            events.append([])
    return [event for event in events if event]


def _assignments(block: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The variables the block sets before its first curl (``NAME=$(…)``), and the block without them."""
    assignments: list[tuple[str, list[str]]] = []
    rest = []
    for line in block:
        if assignments and _incomplete(assignments[-1][1]):
            assignments[-1][1].append(line)
        elif (m := _ASSIGNMENT.match(line)) and not rest:
            assignments.append((m[1], [line]))
        else:
            rest.append(line)
    return [(name, _joined(lines)) for name, lines in assignments], rest


def _commands(block: list[str], after: str | None, stream: bool = False) -> list[Command]:
    """The block's commands, each with the lines shown after it (or, for the last one, the block after)."""
    pairs: list[tuple[list[str], list[str]]] = []  # (the command's lines, the output lines after it)
    for line in block:
        if pairs and not pairs[-1][1] and _incomplete(pairs[-1][0]):
            pairs[-1][0].append(line)
        elif line.startswith("curl "):
            pairs.append(([line], []))
        elif line.strip() and pairs:
            pairs[-1][1].append(line)
    if stream:
        if len(pairs) != 1 or pairs[0][1] or after is None:
            raise ValueError("a stream example is one curl command, its events in the text block after it")
        return [Command(_joined(pairs[0][0]), Answer(events=parse_events(after)))]
    commands = []
    for lines, output in pairs:
        command = Command(_joined(lines), None)
        status = _STATUS_COMMENT.search(command.text)
        if command.grep is not None:
            if status:
                raise ValueError(f"a grep shows lines, not a status: {command.text}")
            if output:
                command.answer = Answer(lines=output)
        elif output:
            command.answer = parse_answer("\n".join(output))
        elif status:
            command.answer = Answer(status=int(status[1]))
        commands.append(command)
    if after is not None and commands:
        last = commands[-1]
        if last.grep is not None and last.answer is None:
            last.answer = Answer(lines=[line for line in after.splitlines() if line.strip()])
        elif last.answer is None:
            last.answer = parse_answer(after)
        elif last.answer.status is not None and not last.answer.has_body and not pairs[-1][1]:
            # a trailing `# HTTP/1.1 503 …` and the body in the block after: both are checked
            status, last.answer = last.answer.status, parse_answer(after)
            if last.answer.status not in (None, status):
                raise ValueError(f"two statuses for: {last.text}")
            last.answer.status = status
    for command in commands:
        if command.grep is not None and command.answer is None:
            raise ValueError(f"a grep must show the lines it keeps: {command.text}")
    return commands


def examples(path: Path) -> list[Example]:
    """The marked examples of one file; ValueError for a curl block without a marker, or one that does not parse."""
    lines = path.read_text().splitlines()
    found = []
    blocks = _blocks(lines)
    for n, (start, lang, body, end) in enumerate(blocks):
        if lang != "sh" or not any(line.startswith("curl ") for line in body):
            continue
        where = f"{_named(path)}:{start + 1}"
        marker = _MARKER.match(lines[start - 1]) if start else None
        if marker is None:
            raise ValueError(f"{where}: a curl example without <!-- example --> or <!-- example-not-run: why -->")
        after = None
        if n + 1 < len(blocks) and blocks[n + 1][0] == end and blocks[n + 1][1] in ("", "json", "http", "text"):
            after = "\n".join(blocks[n + 1][2])
        options = dict(o.split("=", 1) for o in (marker[2] or "").split()) if marker[1] == "example" else {}
        try:
            assignments, body = _assignments(body)
            commands = _commands(body, after, stream="stream-until" in options)
            for command in commands:
                command.request({name: "x" for name in ("READER", "OPERATOR", "TOKEN", "DEMO_TOKEN", "KEY")})
        except (ValueError, json.JSONDecodeError) as exc:
            if marker[1] == "example":
                raise ValueError(f"{where}: {exc}") from None
            assignments, commands = [], []
        found.append(Example(path, start + 1, marker[1] == "example", options, marker[2] or "", commands, assignments))
    return found


def all_examples() -> list[Example]:
    return [example for path in doc_files() for example in examples(path)]
