"""Servers and helpers the tests share (real servers on 127.0.0.1, started once per session)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unavailable(message: str) -> NoReturn:
    """A tool or server a test needs is missing: a failure in CI (where .ci/run installs it),
    a skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
