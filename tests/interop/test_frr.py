"""pykeepalived with FRR 8.4 vrrpd in one virtual router, both roles (landscape.md §1.2, §2.1).

VRRPv3 over IPv4 with FRR's checksum-with-ipv4-pseudoheader on (RFC 5798 reading, pykeepalived's
default) and off (RFC 9568, pykeepalived's v3_checksum_as_v2), VRRPv3 over IPv6, VRRPv2 without
authentication. The backup must stay backup for several master-down intervals (it accepts the other
implementation's adverts), and must take over when the master stops.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import (
    STARTUP,
    Conf,
    Inst,
    graceful_stop,
    master_entries,
    protocol_complaints,
    start,
)
from tests.interop.conftest import INTEROP
from tests.interop.frr import FrrNode, frr_available

_why = frr_available()
pytestmark = [*INTEROP, pytest.mark.skipif(_why is not None, reason=f"FRR cannot run here: {_why}")]


@dataclass(frozen=True)
class Case:
    vrid: int
    family: int
    version: int
    advert_ms: int
    vip: str  # with prefix length
    frr_extra: tuple[str, ...] = ()
    py_lines: tuple[str, ...] = ()

    @property
    def addr(self) -> str:
        return self.vip.split("/")[0]

    def frr_conf(self, prio: int) -> str:
        v = self.vrid
        lines = [
            "interface eth0", f" vrrp {v} version {self.version}", f" vrrp {v} priority {prio}",
            f" vrrp {v} advertisement-interval {self.advert_ms}",
            f" vrrp {v} {'ip' if self.family == 4 else 'ipv6'} {self.addr}",
            *(f" {x}" for x in self.frr_extra), "!",
        ]
        return "\n".join(lines) + "\n"

    def py_conf(self, prio: int) -> Conf:
        return Conf([Inst(vrid=self.vrid, prio=prio, advert=str(self.advert_ms / 1000),
                          version=3 if self.version == 3 else None, vips=(self.vip,), lines=self.py_lines)])

    def down(self, prio: int) -> float:
        adv = self.advert_ms / 1000
        return 3 * adv + (256 - prio) / 256 * (adv if self.version == 3 else 1.0)


CASES = {
    "v3-ipv4-pseudoheader": Case(61, 4, 3, 100, "192.0.2.100/24"),
    # pykeepalived set to the RFC 9568 form (v3_checksum_as_v2) still accepts FRR's RFC 5798 form
    "v3-ipv4-py-checksum-as-v2": Case(62, 4, 3, 100, "192.0.2.100/24", py_lines=("v3_checksum_as_v2",)),
    "v3-ipv6": Case(63, 6, 3, 100, "2001:db8::100/64"),
    "v2-no-auth": Case(64, 4, 2, 1000, "192.0.2.100/24"),
}


_KNOB: list[bool] = []


def frr_has_checksum_knob() -> bool:
    """`vrrp N checksum-with-ipv4-pseudoheader` exists from FRR 8.5 (PR #12390); Debian 12 has 8.4."""
    if not _KNOB:
        out = subprocess.run(["vtysh", "--help"], capture_output=True, text=True, check=False)
        ver = subprocess.run(["/usr/lib/frr/vrrpd", "--version"], capture_output=True, text=True, check=False)
        m = re.search(r"version (\d+)\.(\d+)", ver.stdout + ver.stderr)
        _KNOB.append(bool(m) and (int(m[1]), int(m[2])) >= (8, 5) and out.returncode == 0)
    return _KNOB[0]


@pytest.fixture
def frrs() -> Iterator[list[FrrNode]]:
    started: list[FrrNode] = []
    yield started
    for f in started:
        f.cleanup()


def start_frr(lab: Lab, frrs: list[FrrNode], host: str, case: Case, prio: int) -> FrrNode:
    f = FrrNode(lab[host], case.frr_conf(prio))
    frrs.append(f)
    f.macvlan(case.vrid, case.family, (case.vip,))
    return f.start()


@pytest.mark.parametrize("master", ["py", "frr"])
@pytest.mark.parametrize("name", list(CASES))
def test_frr_cluster(name: str, master: str, nodes: list[Node], frrs: list[FrrNode]) -> None:
    c = CASES[name]
    if master == "py" and "as-v2" in name and not frr_has_checksum_knob():
        pytest.skip("FRR 8.4 always checks the RFC 5798 pseudo-header form: it cannot read the RFC 9568 form")
    with Lab(hosts=["n1", "n2"]) as lab:
        if master == "py":
            py = start(lab, nodes, "n1", "py", c.py_conf(150))
            wait_for(lambda: py.has(c.addr), c.down(150) + STARTUP)
            frr = start_frr(lab, frrs, "n2", c, 100)
            wait_for(lambda: frr.status(c.vrid, c.family) == "Backup", STARTUP)
            time.sleep(c.down(100) * 2 + 0.5)
            assert frr.status(c.vrid, c.family) == "Backup", frr.logs()
            st = frr.stats(c.vrid, c.family)["stats"]
            assert st["adverRx"] >= 3 and st["transitions"] == 1, st  # type: ignore[index]
            assert py.has(c.addr) and master_entries(py) == 1 and not protocol_complaints(py), py.logs()
            graceful_stop(py)
            wait_for(lambda: frr.status(c.vrid, c.family) == "Master", c.down(100) + 3)
        else:
            frr = start_frr(lab, frrs, "n1", c, 150)
            wait_for(lambda: frr.status(c.vrid, c.family) == "Master", c.down(150) + STARTUP)
            py = start(lab, nodes, "n2", "py", c.py_conf(100))
            time.sleep(c.down(100) * 2 + 1.0)
            # several master-down intervals' worth of FRR adverts accepted, without a takeover
            wait_for(lambda: py.stats()["VI_1"]["advert_rcvd"] >= 8, STARTUP, step=0.3)
            assert master_entries(py) == 0 and not py.has(c.addr), py.logs()
            assert not protocol_complaints(py), protocol_complaints(py)
            frr.stop()
            wait_for(lambda: py.has(c.addr), c.down(100) + 3)
            assert master_entries(py) == 1


@pytest.mark.parametrize("frr_pseudo", [True, False])
def test_frr_checksum_setting_both_ways(frr_pseudo: bool, nodes: list[Node], frrs: list[FrrNode]) -> None:
    """FRR >= 8.5: checksum-with-ipv4-pseudoheader on = pykeepalived default, off = v3_checksum_as_v2."""
    if not frr_has_checksum_knob():
        pytest.skip("FRR here is older than 8.5: no checksum-with-ipv4-pseudoheader knob (PR #12390)")
    extra = () if frr_pseudo else ("no vrrp 65 checksum-with-ipv4-pseudoheader",)
    c = Case(65, 4, 3, 100, "192.0.2.100/24", frr_extra=extra,
             py_lines=() if frr_pseudo else ("v3_checksum_as_v2",))
    with Lab(hosts=["n1", "n2"]) as lab:
        py = start(lab, nodes, "n1", "py", c.py_conf(150))
        wait_for(lambda: py.has(c.addr), c.down(150) + STARTUP)
        frr = start_frr(lab, frrs, "n2", c, 100)
        wait_for(lambda: frr.status(c.vrid, c.family) == "Backup", STARTUP)
        time.sleep(c.down(100) * 2 + 0.5)
        assert frr.status(c.vrid, c.family) == "Backup", frr.logs()
