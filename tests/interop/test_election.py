"""Election rules across implementations: nopreempt, preempt_delay, sync groups, equal priorities.

VRRPv3 at 100 ms keeps these quick; every case runs with pykeepalived on either side.
"""

from __future__ import annotations

import time

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, wait_for
from pykeepalived.lab.peers import (
    IMPLS,
    STARTUP,
    Conf,
    Inst,
    master_entries,
    other,
    protocol_complaints,
    start,
    wait_log,
)
from tests.interop.conftest import INTEROP

pytestmark = INTEROP

VIP = "192.0.2.100"
VIP2 = "192.0.2.101"


def v3(prio: int, *lines: str, name: str = "VI_1", vrid: int = 51, vip: str = VIP) -> Inst:
    return Inst(name=name, vrid=vrid, prio=prio, advert="0.1", version=3, vips=(f"{vip}/24",), lines=lines)


@pytest.mark.parametrize("low", IMPLS)
def test_nopreempt_higher_priority_backup_never_takes_over(low: str, nodes: list[Node]) -> None:
    with Lab(hosts=["n1", "n2"]) as lab:
        lo = start(lab, nodes, "n1", low, Conf([v3(100)]))
        wait_for(lambda: lo.has(VIP), STARTUP)
        hi = start(lab, nodes, "n2", other(low), Conf([v3(200, "nopreempt")]))
        wait_log(hi, "(VI_1) Entering BACKUP STATE", STARTUP)
        time.sleep(2.0)  # > 5 x its master-down interval
        assert master_entries(hi) == 0 and not hi.has(VIP), hi.logs()
        assert lo.has(VIP) and master_entries(lo) == 1
        # it still takes over when the master goes away
        lo.kill()
        wait_for(lambda: hi.has(VIP), 3)
        assert not protocol_complaints(hi)


@pytest.mark.parametrize("low", IMPLS)
def test_preempt_delay_holds_then_preempts(low: str, nodes: list[Node]) -> None:
    with Lab(hosts=["n1", "n2"]) as lab:
        lo = start(lab, nodes, "n1", low, Conf([v3(100)]))
        wait_for(lambda: lo.has(VIP), STARTUP)
        hi = start(lab, nodes, "n2", other(low), Conf([v3(200, "preempt_delay 2")]))
        wait_log(hi, "(VI_1) Entering BACKUP STATE", STARTUP)
        elapsed = wait_for(lambda: hi.has(VIP), STARTUP)
        # not before preempt_delay (2 s), then the lower-priority adverts are discarded until the
        # master-down interval (0.3 s + skew) runs out
        assert elapsed >= 1.8, elapsed
        assert "received lower priority (100) advert from 192.0.2.1 - discarding" in hi.logs()
        wait_for(lambda: not lo.has(VIP), 3)
        assert master_entries(hi) == 1
        assert "(VI_1) Entering BACKUP STATE" in lo.logs().split("Entering MASTER STATE", 1)[1]


@pytest.mark.parametrize("grouped", IMPLS)
def test_sync_group_on_one_side(grouped: str, nodes: list[Node]) -> None:
    """The grouped side owns both VIPs until the other side preempts one instance: the whole group
    must then fall back, handing over the second instance as well."""
    with Lab(hosts=["n1", "n2"]) as lab:
        g = Conf([v3(150), v3(150, name="VI_2", vrid=52, vip=VIP2)], sync_groups={"G1": ("VI_1", "VI_2")})
        s = start(lab, nodes, "n1", grouped, g)
        wait_for(lambda: s.has(VIP) and s.has(VIP2), STARTUP)
        n = start(lab, nodes, "n2", other(grouped), Conf([v3(100), v3(200, name="VI_2", vrid=52, vip=VIP2)]))
        wait_for(lambda: n.has(VIP) and n.has(VIP2), STARTUP)
        wait_for(lambda: not s.has(VIP) and not s.has(VIP2), 3)
        time.sleep(1.5)
        assert n.has(VIP) and n.has(VIP2) and not s.has(VIP) and not s.has(VIP2)
        # the grouped VI_1 (150) follows its group to BACKUP even though it outranks n2's VI_1 (100)
        assert master_entries(s, "VI_1") == 1 and master_entries(n, "VI_1") == 1
        assert not protocol_complaints(s) and not protocol_complaints(n)


NFT_BLOCK = (
    "add table inet vrrpblock\n"
    "add chain inet vrrpblock inp { type filter hook input priority -300 ; }\n"
    "add rule inet vrrpblock inp ip protocol 112 drop\n"
)


@pytest.mark.parametrize("low_addr", IMPLS)
def test_equal_priority_resolved_by_address(low_addr: str, nodes: list[Node]) -> None:
    """Two masters of equal priority meet (a healed partition): the lower primary address steps down
    on both implementations (RFC 5798 §6.4.3; keepalived.md §5.4)."""
    with Lab(hosts=["n1", "n2"]) as lab:
        for h in ("n1", "n2"):
            lab[h].run(f"printf '{NFT_BLOCK}' | nft -f -")
        lo = start(lab, nodes, "n1", low_addr, Conf([v3(100)]))
        hi = start(lab, nodes, "n2", other(low_addr), Conf([v3(100)]))
        wait_for(lambda: lo.has(VIP) and hi.has(VIP), STARTUP)
        for h in ("n1", "n2"):
            lab[h].run(["nft", "delete", "table", "inet", "vrrpblock"])
        wait_for(lambda: not lo.has(VIP), 3)
        time.sleep(1.0)
        assert hi.has(VIP) and not lo.has(VIP)
        assert master_entries(hi) == 1
        assert "with same priority 100 but higher IP address than ours" in lo.logs()
