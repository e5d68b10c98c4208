"""track_bfd end to end: a VRRP pair where the master (n1) tracks a BFD session to a third "router"
namespace running keepalived 2.2.7 (only its BFD child: an independent peer). Everything is real: the
parent starts n1's BFD child with the event pipes, the BFD child talks RFC 5880/5881 to keepalived, the
VRRP child reads its pipe.

Checked: the parent's start order and `Starting BFD child process` line, the -b pid file; unplugging the
router makes n1 drop VI_1's priority (weight -100) and put VI_2 (unweighted) in FAULT, with keepalived's
log lines, and n2 take both VIPs; replugging brings them back. A killed BFD child is respawned and its
sessions start Down again (n1 briefly hands over, as keepalived's does); a killed VRRP child is
respawned and learns the session state at once (the parent asks the BFD child to resend)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator

import pytest

from pykeepalived.lab import Lab
from pykeepalived.lab.node import Node, dump_logs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP1, VIP2 = "192.0.2.131", "192.0.2.132"
FAST = "    min_rx 200\n    min_tx 200\n    multiplier 5\n"  # 1 s detection: no flap on a loaded machine
UP1 = "VRRP_Instance(VI_1) Tracked BFD instance RT is UP"
DOWN1 = "VRRP_Instance(VI_1) Tracked BFD instance RT is DOWN"


@pytest.fixture
def lab3() -> Iterator[Lab]:
    with Lab(hosts=["n1", "n2", "rt"]) as lab:
        yield lab


def vrrp_conf(prio: int, router: str | None) -> str:
    def inst(n: int, vip: str, tb: str) -> str:
        tracked = f"    track_bfd {{\n        {tb}\n    }}\n" if router else ""
        return f"""vrrp_instance VI_{n} {{
    state BACKUP
    interface eth0
    virtual_router_id {70 + n}
    priority {prio}
    advert_int 1
{tracked}    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""
    bfd = f"bfd_instance RT {{\n    neighbor_ip {router}\n{FAST}}}\n" if router else ""
    return (f"global_defs {{\n    router_id tbe_{prio}\n}}\n{bfd}"
            + inst(1, VIP1, "RT weight -100") + inst(2, VIP2, "RT"))


def node(lab: Lab, host: str, conf: str, impl: str = "py") -> Node:
    n = Node(lab[host], conf, impl=impl)
    n.extra = ("-b", str(n.dir / "bfd.pid"))  # never the real /run/bfd.pid
    return n


def holds_both(n: Node) -> bool:
    return n.has(VIP1) and n.has(VIP2)


def holds_none(n: Node) -> bool:
    return not n.has(VIP1) and not n.has(VIP2)


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_track_bfd_pair_with_router(lab3: Lab, nodes: list[Node], impl: str) -> None:
    """n1 (the tracking master) is pykeepalived, or keepalived 2.2.7 as the oracle for the same story
    up to the respawns (keepalived's respawned VRRP child would wait for the next change)."""
    rt = node(lab3, "rt", f"bfd_instance N1 {{\n    neighbor_ip {lab3['n1'].ipv4}\n{FAST}}}\n", impl="ka")
    b = node(lab3, "n2", vrrp_conf(100, None))
    a = node(lab3, "n1", vrrp_conf(150, str(lab3["rt"].ipv4)), impl=impl)
    nodes += [rt, b, a]
    rt.start()
    b.start()
    wait_for(lambda: holds_both(b), 20)
    a.start()
    wait_for(lambda: UP1 in a.logs(), 20)
    wait_for(lambda: holds_both(a) and holds_none(b), 15)
    log = a.logs()
    assert "VRRP_Instance(VI_2) Tracked BFD instance RT is UP" in log
    assert "(VI_1) Changing effective priority from 50 to 150" in log
    starts = re.findall(r"Starting (VRRP|BFD) child process, pid=(\d+)", log)
    assert [s[0] for s in starts] == ["VRRP", "BFD"], log  # keepalived's order: checker, VRRP, BFD
    bfd_pid = int((a.dir / "bfd.pid").read_text())
    assert bfd_pid == int(starts[1][1])
    assert "Starting BFD child process" not in b.logs()  # no bfd_instance: no BFD child

    # the router's cable is unplugged: the session times out (5 x 200 ms), n1 gives both VIPs away
    lab3.set_port(lab3["rt"], lab3.lans[0], False)
    wait_for(lambda: holds_both(b) and holds_none(a), 15)
    log = a.logs()
    assert DOWN1 in log, dump_logs(a, b)
    assert "VRRP_Instance(VI_2) Tracked BFD instance RT is DOWN" in log
    assert "(VI_1) Changing effective priority from 150 to 50" in log
    assert "(VI_2) Entering FAULT STATE" in log

    lab3.set_port(lab3["rt"], lab3.lans[0], True)
    wait_for(lambda: holds_both(a) and holds_none(b), 20)
    assert a.logs().rsplit(DOWN1, 1)[1].count(UP1) == 1
    if impl == "ka":
        return

    # the BFD child dies: respawned, its session starts Down (n1 hands over), then comes Up again
    ups, downs = a.logs().count(UP1), a.logs().count(DOWN1)
    os.kill(bfd_pid, signal.SIGKILL)
    wait_for(lambda: f"BFD child process({bfd_pid}) died: Respawning" in a.logs(), 10)
    wait_for(lambda: a.logs().count(DOWN1) > downs, 20)
    wait_for(lambda: a.logs().count(UP1) > ups, 20)
    wait_for(lambda: holds_both(a) and holds_none(b), 20)
    new_pid = int((a.dir / "bfd.pid").read_text())
    assert new_pid != bfd_pid

    # the VRRP child dies: the new one starts with RT Down, and hears it is Up without waiting for a
    # change (the parent asks the BFD child to resend: SIGHUP)
    vrrp_pid = a.vrrp_pid()
    assert vrrp_pid
    ups = a.logs().count(UP1)
    os.kill(vrrp_pid, signal.SIGKILL)
    wait_for(lambda: a.vrrp_pid() not in (None, vrrp_pid), 15)
    wait_for(lambda: a.logs().count(UP1) > ups, 15)
    wait_for(lambda: holds_both(a) and holds_none(b), 20)

    assert a.stop() == 0
    assert not (a.dir / "bfd.pid").exists()
    assert "Stopped" in a.logs()
