"""OpenStack's own limits, checked before anything is sent: each defined here and only here."""

from __future__ import annotations

import re

# Nova's and Glance's largest page (their max_limit / api_limit_max defaults).
MAX_PAGE = 1000

# Nova's limits (nova/api/validation/parameter_types.py, nova/objects/tag.py).
NAME_MAX = 255  # a server's, a snapshot's, a keypair's name; a description
MAX_TAGS = 50
TAG_MAX = 60
TAG_PATTERN = "^[^,/]*$"
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")  # Nova's pattern, quirks included
METADATA_VALUE_MAX = 255
CONSOLE_LOG_MAX_LINES = 10000


def sendable(text: str) -> bool:
    """Whether OpenStack can take this text: PostgreSQL rejects a NUL byte, and Glance, Nova and Neutron then
    answer 500 (Nova's message names its database layer). Nothing a service stores can hold one."""
    return "\x00" not in text
