from __future__ import annotations

from collections.abc import Iterator

import pytest

from pykeepalived.lab import Lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    """n1 and n2 plus a client host (the suite-wide `lab` has no client)."""
    with Lab(hosts=["n1", "n2", "client"]) as lab:
        yield lab
