"""pykeepalived and keepalived 2.2.7 in one VRRP cluster, each in both roles (keepalived.md §5).

Every scenario runs twice: pykeepalived master with keepalived backup, and the reverse. The master is
started alone and takes the address; then the backup joins. The backup must stay BACKUP for longer
than its master-down interval (so it accepts every advert the other implementation sends), neither
side may complain about the other's packets, and on a graceful stop the backup must see the
priority-0 advert (counted in keepalived.stats) and take over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import (
    IMPLS,
    STARTUP,
    Conf,
    Inst,
    graceful_stop,
    master_entries,
    other,
    protocol_complaints,
    start,
    wait_log,
)
from tests.interop.conftest import INTEROP

pytestmark = INTEROP

V4 = ("192.0.2.100/24",)
V6 = ("fe80::100/64", "2001:db8::100/64")
PASS = ("authentication {", "    auth_type PASS", "    auth_pass s3cret", "}")
AH = ("authentication {", "    auth_type AH", "    auth_pass s3cret", "}")


@dataclass(frozen=True)
class Scenario:
    version: int = 2
    advert: str = "1"
    vips: tuple[str, ...] = V4
    lines: tuple[str, ...] = ()
    globals_: tuple[str, ...] = ()
    unicast: str = ""  # "" | "src" (unicast_src_ip + peer) | "nosrc" (peer only)
    check: str = "192.0.2.100"
    extra_checks: tuple[str, ...] = field(default=())

    def conf(self, me: str, peer: str, prio: int) -> Conf:
        lines = list(self.lines)
        if self.unicast == "src":
            lines += [f"unicast_src_ip {me}", "unicast_peer {", f"    {peer}", "}"]
        elif self.unicast == "nosrc":
            lines += ["unicast_peer {", f"    {peer}", "}"]
        inst = Inst(prio=prio, advert=self.advert, vips=self.vips,
                    version=self.version if self.version == 3 else None, lines=tuple(lines))
        return Conf([inst], globals_=self.globals_)

    @property
    def adver_s(self) -> float:
        return float(self.advert)

    def down_interval(self, prio: int) -> float:
        skew = (256 - prio) / 256 * (1.0 if self.version == 2 else self.adver_s)
        return 3 * self.adver_s + skew


SCENARIOS = {
    "v2": Scenario(),
    "v2-pass": Scenario(lines=PASS),
    "v2-ah": Scenario(lines=AH),
    "v3-ipv4": Scenario(version=3, advert="0.1"),
    "v3-ipv6": Scenario(version=3, advert="0.1", vips=V6, check="2001:db8::100"),
    "v2-mcast-group": Scenario(globals_=("vrrp_mcast_group4 224.0.0.42",)),
    "v3-unicast": Scenario(version=3, advert="0.1", unicast="src"),
    "v2-unicast-no-src-ip": Scenario(unicast="nosrc"),
}

M_PRIO, B_PRIO = 150, 100


@pytest.mark.parametrize("master", IMPLS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_cluster(name: str, master: str, nodes: list[Node]) -> None:
    sc = SCENARIOS[name]
    with Lab(hosts=["n1", "n2"]) as lab:
        ip1, ip2 = str(lab["n1"].ipv4), str(lab["n2"].ipv4)
        m = start(lab, nodes, "n1", master, sc.conf(ip1, ip2, M_PRIO))
        wait_for(lambda: m.has(sc.check), sc.down_interval(M_PRIO) + STARTUP)
        b = start(lab, nodes, "n2", other(master), sc.conf(ip2, ip1, B_PRIO))
        wait_log(b, "(VI_1) Entering BACKUP STATE", STARTUP)
        # longer than the backup's master-down interval: it must be accepting the master's adverts
        time.sleep(sc.down_interval(B_PRIO) + 2 * sc.adver_s + 0.5)
        assert master_entries(b) == 0, f"backup ({b.impl}) took over:\n{b.logs()}"
        assert not b.has(sc.check)
        assert m.has(sc.check) and master_entries(m) == 1
        st = b.stats()["VI_1"]
        assert st["advert_rcvd"] >= 2, st
        assert not protocol_complaints(b), protocol_complaints(b)
        assert not protocol_complaints(m), protocol_complaints(m)
        # graceful stop: the master sends priority 0, the backup takes over after its skew time
        graceful_stop(m)
        wait_for(lambda: b.has(sc.check), sc.down_interval(B_PRIO) + 3)
        st = b.stats()["VI_1"]
        assert st["pri_zero_rcvd"] >= 1, st
        assert master_entries(b) == 1
        assert not protocol_complaints(b), protocol_complaints(b)


def test_checksum_as_v2_against_keepalived_2_2_7(nodes: list[Node]) -> None:
    """keepalived 2.2.7 has no v3_checksum_as_v2 (it came in 2.2.8): it reads only the RFC 5798 form.

    pykeepalived set to the RFC 9568 form still accepts 2.2.7's pseudo-header checksums as a backup;
    as a master its adverts are rejected by 2.2.7 ("Invalid VRRPv3 checksum"), which then also becomes
    master - the documented incompatibility an operator must avoid during a migration.
    """
    sc = Scenario(version=3, advert="0.1")
    with Lab(hosts=["n1", "n2"]) as lab:
        ka = start(lab, nodes, "n1", "ka", sc.conf("", "", M_PRIO))
        wait_for(lambda: ka.has(sc.check), STARTUP)
        py_conf = Conf(sc.conf("", "", B_PRIO).insts, globals_=("v3_checksum_as_v2",))
        py = start(lab, nodes, "n2", "py", py_conf)
        wait_log(py, "(VI_1) Entering BACKUP STATE", STARTUP)
        time.sleep(sc.down_interval(B_PRIO) + 1)
        assert master_entries(py) == 0 and not protocol_complaints(py), py.logs()
        assert py.stats()["VI_1"]["advert_rcvd"] > 3
        # now pykeepalived (as_v2) is the higher priority: 2.2.7 cannot validate its adverts
        graceful_stop(ka)
        wait_for(lambda: py.has(sc.check), 3)
        ka2 = start(lab, nodes, "n1", "ka", sc.conf("", "", B_PRIO))
        wait_log(ka2, "(VI_1) Invalid VRRPv3 checksum", STARTUP)
        wait_for(lambda: ka2.has(sc.check), STARTUP)
