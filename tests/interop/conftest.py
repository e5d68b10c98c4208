from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.daemon.node import Node


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    """Daemons started by a test; all hard-killed and their temp dirs removed at the end."""
    started: list[Node] = []
    yield started
    for n in started:
        try:
            n.kill()
        except Exception:
            pass
    if not os.environ.get("PYKA_KEEP_LOGS"):
        for n in started:
            shutil.rmtree(n.dir, ignore_errors=True)


INTEROP = [
    pytest.mark.netns,
    pytest.mark.interop,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("keepalived") is None, reason="keepalived 2.2.7 not installed"),
]
