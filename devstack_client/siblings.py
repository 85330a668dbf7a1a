"""Wake-ups between the workers of one gateway instance, without Redis.

A write made through the gateway wakes the change feed of its identity, so
that streams show it at once. The feed may run in another worker of the same
instance (a stream and a write land on any worker); without Redis, that
feed would see the change only at its next idle read. So the gunicorn
master maps a small shared array before it forks the workers: a write bumps
its identity's slot, and a feed waiting for its next read looks at its slot
a few times a second. Without the array (the app served some other way)
nothing is shared, and feeds read at their own pace.
"""

from __future__ import annotations

import hashlib
import mmap
from collections.abc import Hashable

SLOTS = 256  # identities share a slot by hash: a shared one only costs an early read
_slots: memoryview | None = None


def install() -> None:
    """Map the shared slots (in the master, before the workers fork; they inherit the mapping).

    An anonymous shared mapping, not multiprocessing's shared arrays: the
    master imports no module that makes locks before a gevent worker's patch.
    """
    global _slots
    _slots = memoryview(mmap.mmap(-1, SLOTS * 8)).cast("Q")


def uninstall() -> None:
    global _slots
    _slots = None


def _slot(key: Hashable) -> int:
    # Not hash(): a stable digest, the same in every process whatever PYTHONHASHSEED says.
    return int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:4], "big") % SLOTS


def bump(key: Hashable) -> None:
    """Tell every worker's feed of ``key`` that something changed (a racing bump may be lost, not the change)."""
    if _slots is not None:
        i = _slot(key)
        _slots[i] = (_slots[i] + 1) % 2**64


def value(key: Hashable) -> int | None:
    """The slot's count now (compare two readings), or None when nothing is shared."""
    return None if _slots is None else _slots[_slot(key)]
