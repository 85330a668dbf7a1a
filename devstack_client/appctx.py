"""The Flask side of the gateway: what the current app acts with.

The API modules reach the app's settings through here.
"""

from __future__ import annotations

from flask import current_app

from devstack_client.config import Settings


def settings() -> Settings:
    """The current app's settings."""
    return current_app.extensions["settings"]
