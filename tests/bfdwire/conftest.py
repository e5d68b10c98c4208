from __future__ import annotations

from collections.abc import Iterator

import pytest

from pykeepalived.lab import Lab
from tests.daemon.node import Node


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=["n1", "n2"]) as lab:
        yield lab


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for n in started:
        try:
            n.kill()
        except Exception:
            pass
