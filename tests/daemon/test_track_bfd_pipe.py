"""track_bfd on real VRRP nodes, driven through a real event pipe by the test (playing the BFD child), and
`-B` (no BFD child) against keepalived 2.2.7 as the oracle.

n1's VRRP child is started directly (`--child=vrrp`, as the parent re-executes it) holding the read end of
a pipe; the test writes `B1 UP` / `B1 DOWN` lines into it. n2 is a whole pykeepalived. VI_1 tracks B1 with
weight -100 (priority 150 -> 50 while Down), VI_2 unweighted (FAULT while Down): keepalived starts a
tracked BFD session Down, so n2 serves both VIPs until n1 hears `B1 UP`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from pykeepalived.bfd.events import ENV_EVENT_FD
from pykeepalived.lab import Lab
from pykeepalived.lab.node import PYKEEPALIVED, Node, dump_logs, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

VIP1, VIP2 = "192.0.2.121", "192.0.2.122"


def conf(prio: int, track: bool) -> str:
    def inst(n: int, vip: str, tb: str) -> str:
        tracked = f"    track_bfd {{\n        {tb}\n    }}\n" if track else ""
        return f"""vrrp_instance VI_{n} {{
    state BACKUP
    interface eth0
    virtual_router_id {60 + n}
    priority {prio}
    advert_int 1
{tracked}    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""
    bfd = "bfd_instance B1 {\n    neighbor_ip 192.0.2.250\n}\n" if track else ""
    return (f"global_defs {{\n    router_id tbp_{prio}\n}}\n{bfd}"
            + inst(1, VIP1, "B1 weight -100") + inst(2, VIP2, "B1"))


class PipedVrrpChild(Node):
    """The VRRP child alone, as the parent starts it, with the read end of a test-made pipe."""

    def argv(self) -> list[str]:
        return [*PYKEEPALIVED, "--child=vrrp", "-n", "-l", "-D", "-f", str(self.conf),
                "-r", str(self.dir / "vrrp.pid")]

    def start_with_pipe(self, rfd: int) -> PipedVrrpChild:
        env = dict(os.environ, TMPDIR=str(self.dir), **{ENV_EVENT_FD: str(rfd)})
        with open(self.log, "ab") as out:
            self.proc = self.host.popen(self.argv(), stdout=out, stderr=subprocess.STDOUT, env=env,
                                        pass_fds=(rfd,))
        return self


def test_track_bfd_events_move_priority_and_fault(lab: Lab, nodes: list[Node]) -> None:
    b = Node(lab["n2"], conf(100, track=False))
    a = PipedVrrpChild(lab["n1"], conf(150, track=True))
    nodes += [a, b]
    b.start()
    wait_for(lambda: b.has(VIP1) and b.has(VIP2), 20)
    r, w = os.pipe()
    try:
        a.start_with_pipe(r)
        os.close(r)
        # Down at start: VI_1 runs at 150 - 100 = 50, VI_2 is FAULT; n2 keeps both
        wait_for(lambda: "(VI_1) Entering BACKUP STATE" in a.logs(), 15)
        assert "(VI_1) Changing effective priority from 150 to 50" in a.logs()
        assert "(VI_2) entering FAULT state" in a.logs()  # keepalived's text for FAULT at start
        os.write(w, b"B1 DOWN\n")  # no change: ignored, nothing logged
        time.sleep(1.5)  # time enough to react wrongly
        assert b.has(VIP1) and b.has(VIP2), dump_logs(a, b)

        os.write(w, b"B1 UP\n")
        wait_for(lambda: a.has(VIP1) and a.has(VIP2), 15)
        wait_for(lambda: not b.has(VIP1) and not b.has(VIP2), 10)
        log = a.logs()
        assert "VRRP_Instance(VI_1) Tracked BFD instance B1 is UP" in log
        assert "VRRP_Instance(VI_2) Tracked BFD instance B1 is UP" in log
        assert "(VI_1) Changing effective priority from 50 to 150" in log
        assert "Tracked BFD instance B1 is DOWN" not in log  # the repeated Down was no change

        os.write(w, b"B1 DOWN\n")
        wait_for(lambda: b.has(VIP1) and b.has(VIP2) and not a.has(VIP1) and not a.has(VIP2), 15)
        log = a.logs()
        assert "VRRP_Instance(VI_1) Tracked BFD instance B1 is DOWN" in log
        assert "(VI_1) Changing effective priority from 150 to 50" in log
        assert "(VI_2) Entering FAULT STATE" in log, dump_logs(a, b)
    finally:
        os.close(w)


@pytest.mark.parametrize("impl", ["py", "ka"])
def test_no_bfd_child_leaves_tracked_sessions_down(lab: Lab, nodes: list[Node], impl: str) -> None:
    """-B: no BFD child, so a tracked session never comes Up; keepalived's VRRP child still tracks it
    (Down): the weighted instance runs at its lowered priority, the unweighted one stays FAULT."""
    a = Node(lab["n1"], conf(150, track=True), impl=impl)
    a.extra = ("-B", "-b", str(a.dir / "bfd.pid"))
    nodes.append(a)
    a.start()
    wait_for(lambda: "(VI_2) entering FAULT state" in a.logs(), 20)
    wait_for(lambda: a.has(VIP1), 20)  # alone on the LAN VI_1 still becomes MASTER, at priority 50
    assert "(VI_1) Changing effective priority from 150 to 50" in a.logs()
    log = a.logs()
    assert not a.has(VIP2), log
    assert "Starting BFD child process" not in log
    assert "(VI_2) Entering MASTER STATE" not in log
    assert not (Path(a.dir) / "bfd.pid").exists()
