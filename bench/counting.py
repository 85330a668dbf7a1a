"""Counting the upstream calls one API call costs: from the fake's own counts, or the real services' access logs.

Both give request keys of one form, ``METHOD /service/path`` with ids as
``{id}`` (``GET /compute/v2.1/servers/detail``), where the service prefix is
the fake's: /identity, /compute, /image, /network.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.fakecloud import is_discovery, is_token, template
from bench.procs import FakeCloudProcess

LOGS = {"keystone": "/identity", "nova-api": "/compute", "glance": "/image", "neutron": "/network"}
# The services' own clients: Nova asks Neutron for the ports and security groups of the servers it shows or
# lists, with the caller's token (so the caller's project), under these User-Agents. Not the caller's calls.
SERVICE_CLIENTS = ("python-neutronclient", "python-glanceclient", "python-novaclient", "python-keystoneclient",
                   "python-cinderclient", "keystonemiddleware", "nova-", "neutron-")  # fmt: skip


class FakeCounter:
    def __init__(self, fake: FakeCloudProcess) -> None:
        self.fake = fake

    def start(self) -> None:
        self.fake.counts(reset=True)

    def stop(self) -> Counter[str]:
        return Counter(self.fake.counts(reset=True))


class AccessLogCounter:
    """The calls the services logged for one project (or, asking for a token, one user) between start and stop.

    Nova calls Glance, Neutron and Keystone too, as its service user (another
    project) or with the caller's token: neither is counted (SERVICE_CLIENTS).
    """

    def __init__(self, access_logs: dict[str, str], project_id: str, user: str) -> None:
        from tests.cloud.harness import AccessLog  # the cloud tests' log parser

        self.logs = {name: AccessLog(Path(access_logs[name])) for name in LOGS}
        self.project_id = project_id
        self.user = user
        self.marks: dict[str, int] = {}

    def start(self) -> None:
        self.marks = {name: log.mark() for name, log in self.logs.items()}

    def stop(self) -> Counter[str]:
        time.sleep(0.5)  # gunicorn writes the access-log line just after the answer
        counts: Counter[str] = Counter()
        for name, log in self.logs.items():
            for hit in log.since(self.marks[name]):
                ours = hit.project == self.project_id or hit.auth_user == self.user
                if ours and not hit.user_agent.startswith(SERVICE_CLIENTS):
                    counts[f"{hit.method} {template(LOGS[name] + hit.path)}"] += 1
        return counts


def summarize(counts: Counter[str], calls: int) -> dict[str, Any]:
    """Per API call: each upstream request's count, and the token and discovery requests among them."""
    return {
        "requests": {key: n / calls for key, n in sorted(counts.items())},
        "total": sum(counts.values()) / calls,
        "token": sum(n for key, n in counts.items() if is_token(*key.split(" ", 1))) / calls,
        "discovery": sum(n for key, n in counts.items() if is_discovery(*key.split(" ", 1))) / calls,
    }
