"""The test cloud's exclusive lock ($DEVSTACK_CLOUD_DIR/tests.lock): one user of the cloud at a time.

Held for a whole `cloud` test session (tests/cloud/conftest.py) and for a real-cloud benchmark run
(bench/cloudsetup.py). Plain Python, no pytest: the benchmark imports it too.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import IO


def acquire(state_dir: Path, timeout: float) -> IO[str]:
    """Take the lock, waiting at most `timeout` seconds (then TimeoutError); give it back with release()."""
    lock = open(state_dir / "tests.lock", "a+")  # noqa: SIM115 - held until release()
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise TimeoutError(f"{lock.name} stayed taken for {timeout} s") from None
            time.sleep(1)


def release(lock: IO[str]) -> None:
    fcntl.flock(lock, fcntl.LOCK_UN)
    lock.close()
