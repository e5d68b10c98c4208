"""Suite-wide settings and fixtures.

Hypothesis runs without per-example deadlines (the suite runs in parallel on a loaded 2-core machine;
speed is measured in `make bench`, never asserted in tests). `lab` (namespaces n1 and n2 on one LAN,
deleted afterwards) and `nodes` (daemons a test started, hard-killed at its end, temp dirs removed)
serve every namespace test; a folder's conftest may override them (tests/daemon adds a client host).
`oracle_lab` gives keepalived and pykeepalived a LAN each for the differential tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from pykeepalived.lab import Host, Lab
from pykeepalived.lab.node import Node

settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=["n1", "n2"]) as lab:
        yield lab


@pytest.fixture
def oracle_lab() -> Iterator[tuple[Lab, Host, Host]]:
    """keepalived 2.2.7's host "ka" and ours "py", each alone on a LAN of its own with the same
    addresses: differential tests run one configuration on both and compare what they log and do."""
    with Lab() as lab:
        lans = [lab.add_lan(ipv4="192.0.2.0/24", ipv6="2001:db8::/64") for _ in range(2)]
        yield lab, lab.add_host("ka", [lans[0]]), lab.add_host("py", [lans[1]])


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
