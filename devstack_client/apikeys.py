"""Gateway API keys: random bearer secrets, configured only as their SHA-256 hashes.

A key line is ``sha256:<64 hex digits> <role> [label]``; ``#`` starts a
comment. A leaked configuration file does not leak the keys, and a plain
SHA-256 is enough for 256-bit random keys (no password to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from devstack_client.config import ConfigError, Settings

ROLES = ("reader", "operator")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_PREFIX = "dsk_"
LINE_FORMAT = "sha256:<64 hex digits> reader|operator [label]"
_LINE = re.compile(r"sha256:(?P<hex>[0-9a-fA-F]{64})\s+(?P<role>\S+)(?:\s+(?P<label>.*))?")


@dataclass(frozen=True)
class ApiKey:
    digest: bytes
    role: str
    label: str

    def may(self, method: str) -> bool:
        return self.role == "operator" or method in READ_METHODS


class KeyRing:
    """The configured keys; empty when the gateway uses none."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = keys

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, presented: str) -> ApiKey | None:
        """Return the key ``presented`` is, comparing hashes in constant time."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        # Every key is compared, so the time taken does not tell which one matched.
        for key in self._keys:
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found


def hash_line(key: str, role: str, label: str = "") -> str:
    return f"sha256:{hashlib.sha256(key.encode()).hexdigest()} {role} {label}".rstrip()


def new_key(role: str, label: str = "") -> tuple[str, str]:
    """Return a new random key and its configuration line."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_line(key, role, label)


def parse(text: str, source: str) -> list[ApiKey]:
    """Read key lines; a bad line is a ConfigError naming where it is, never echoing it."""
    keys = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}, line {number}"
        found = _LINE.fullmatch(line)
        if found is None:
            hint = " (it looks like a key itself: configure its hash)" if line.startswith(KEY_PREFIX) else ""
            raise ConfigError(f"{where}: expected `{LINE_FORMAT}`{hint}; `devstack-client hash-key` makes one")
        if found["role"] not in ROLES:
            raise ConfigError(f"{where}: the role must be reader or operator, not {found['role']!r}")
        keys.append(ApiKey(bytes.fromhex(found["hex"]), found["role"], (found["label"] or "").strip()))
    return keys


def load(settings: Settings) -> KeyRing:
    """The keys of API_KEYS_FILE and API_KEYS; a setting that names no key is an error, not an open gateway."""
    keys: list[ApiKey] = []
    if settings.api_keys_file:
        path = Path(settings.api_keys_file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"API_KEYS_FILE {path}: cannot read it ({exc.strerror})") from None
        keys += _some(parse(text, f"API_KEYS_FILE {path}"), "API_KEYS_FILE")
    if settings.api_keys:
        text = settings.api_keys.replace(",", "\n")
        keys += _some(parse(text, "API_KEYS"), "API_KEYS")
    digests = [key.digest for key in keys]
    if len(set(digests)) != len(digests):
        raise ConfigError("API keys: the same key is configured twice")
    return KeyRing(keys)


def _some(keys: list[ApiKey], name: str) -> list[ApiKey]:
    if not keys:
        raise ConfigError(f"{name} is set but holds no key")
    return keys
