"""Takeover timing across implementations, measured on the wire by an observer host.

Hard kill: the backup's first advert must follow the dead master's last advert after its
Master_Down_Interval (3 x interval + skew); graceful stop: after the skew time only, counted from the
priority-0 advert (RFC 3768 §6.4.2 / RFC 5798 §6.4.2; keepalived.md §5.4). Tolerances are generous on
purpose (2 shared cores): the precise figures are in bench/bench_interop.py.
"""

from __future__ import annotations

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node
from pykeepalived.lab.peers import IMPLS, measure_takeover, other
from tests.interop.conftest import INTEROP

pytestmark = INTEROP

CASES = {"v2-1s": (2, "1"), "v3-100ms": (3, "0.1")}


@pytest.mark.parametrize("kind", ["hard", "graceful"])
@pytest.mark.parametrize("master", IMPLS)
@pytest.mark.parametrize("case", list(CASES))
def test_takeover_within_protocol_bounds(case: str, master: str, kind: str, nodes: list[Node]) -> None:
    version, advert = CASES[case]
    with Lab(hosts=["n1", "n2", "obs"]) as lab:
        t = measure_takeover(lab, nodes, master, other(master), version=version, advert=advert, kind=kind)
    # never before the bound (no premature takeover); not later than the bound plus generous slack
    slack = 0.35 if version == 3 else 0.6
    assert t.delay >= t.bound * 0.95 - 0.005, t
    assert t.delay <= t.bound + slack, t
