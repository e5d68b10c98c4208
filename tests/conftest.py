"""Suite-wide settings and fixtures.

Hypothesis runs without per-example deadlines (the suite runs in parallel on a loaded 2-core machine;
speed is measured in `make bench`, never asserted in tests). `lab` (namespaces n1 and n2 on one LAN,
deleted afterwards) and `nodes` (daemons a test started, hard-killed at its end, temp dirs removed)
serve every namespace test; a folder's conftest may override them (tests/daemon adds a client host)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from pykeepalived.lab import Lab
from tests.daemon.node import Node

settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=["n1", "n2"]) as lab:
        yield lab


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    """Daemons started by a test; all hard-killed and their temp dirs removed at the end (kept with
    PYKA_KEEP_LOGS=1; a failing test's assertion already carries the node's log)."""
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
